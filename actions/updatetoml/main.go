// Command updatetoml is the updatetoml action: it writes buildkitd.toml.
package main

import (
	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/buildkitd"
)

func main() { action.Main(buildkitd.UpdateAction) }
