//go:build tools

// Package buildkit pins the BuildKit commands the local node runs.
package buildkit

import (
	_ "github.com/moby/buildkit/cmd/buildctl"
	_ "github.com/moby/buildkit/cmd/buildkitd"
)
