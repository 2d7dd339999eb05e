// Command updatetoml is the updatetoml action: it writes buildkitd.toml.
package main

import (
	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/handlers"
)

func main() { action.Main(handlers.UpdateTOML) }
