// Package deploy holds the Kubernetes objects of a deployment, the one
// source of them: `builder admin install` applies these files, and
// operators with their own tooling apply them with envsubst (README,
// "Deploying").
package deploy

import "embed"

// Files are rbac.yaml, admission.yaml and networkpolicy.yaml.
//
//go:embed rbac.yaml admission.yaml networkpolicy.yaml
var Files embed.FS
