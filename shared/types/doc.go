// Package types holds the shapes of the actions' results, and the
// statuses of a build: what the handlers return and what the builder CLI
// reads, so that a renamed field breaks the build, not a user. It imports
// nothing of the builder, and nothing beyond the standard library.
package types
