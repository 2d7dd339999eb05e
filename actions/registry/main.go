// Command registry is list-catalogs, list-images, get-image and
// delete-image: one binary deployed four times, each picking its operation
// from the bound parameter `operation` or from its action name.
package main

import (
	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/handlers"
)

func main() { action.Main(handlers.Registry()...) }
