//go:build tools

// Package registry pins the distribution registry command.
package registry

import _ "github.com/distribution/distribution/v3/cmd/registry"
