//go:build tools

// Package registry pins the distribution registry, the local stack's
// registry.
package registry

import (
	_ "github.com/distribution/distribution/v3/cmd/registry"
)
