// Command logs serves three actions from one binary: logs (the status and
// log of a build), builds (the caller's builds) and cancel (stop a build).
// Each deployment picks its own by its bound operation, or its name.
package main

import (
	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/handlers"
)

func main() { action.Main(handlers.Logs, handlers.Builds, handlers.Cancel) }
