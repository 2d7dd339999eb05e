// Command send is the send action: it starts a build of a custom runtime.
package main

import (
	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/handlers"
)

func main() { action.Main(handlers.Send) }
