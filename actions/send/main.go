// Command send serves three actions from one binary: send (start a build),
// ensure (the image of a builder and a file, built once) and capabilities
// (what this builder offers). Each deployment picks its own by its bound
// operation, or its name.
package main

import (
	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/handlers"
)

func main() { action.Main(handlers.Send, handlers.Ensure, handlers.Capabilities) }
