// Package reference holds the OCI distribution grammar for repository names
// and tags, for input that names something inside the builder's registry.
package reference

import "regexp"

const component = `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`

var (
	componentRE  = regexp.MustCompile(`^` + component + `$`)
	repositoryRE = regexp.MustCompile(`^` + component + `(?:/` + component + `)*$`)
	tagRE        = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// MaxRepository is the longest repository name registries accept.
const MaxRepository = 255

// ValidComponent reports whether s is one path component of a repository.
func ValidComponent(s string) bool { return componentRE.MatchString(s) }

// ValidRepository reports whether s is a repository name, such as devel or
// devel/python.
func ValidRepository(s string) bool {
	return len(s) <= MaxRepository && repositoryRE.MatchString(s)
}

// ValidTag reports whether s is a tag.
func ValidTag(s string) bool { return tagRE.MatchString(s) }
