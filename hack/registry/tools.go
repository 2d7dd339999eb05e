//go:build tools

// Package registry pins the registry tools: the distribution registry, and
// go-containerregistry's crane, which the local node runs for the build
// pods' crane image.
package registry

import (
	_ "github.com/distribution/distribution/v3/cmd/registry"
	_ "github.com/google/go-containerregistry/cmd/crane"
)
