// Command logs is the logs action: the status and log of a build.
package main

import (
	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/build"
)

func main() { action.Main(build.LogsAction) }
