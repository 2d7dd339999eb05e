// Command cleanjobs is the cleanjobs action: it deletes finished builds.
package main

import (
	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/handlers"
)

func main() { action.Main(handlers.CleanJobs) }
