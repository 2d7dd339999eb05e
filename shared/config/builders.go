package config

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/kinds"
)

// Builder is a named source with its kind: what a deploy tool asks for by
// id (python:3.13) instead of by image reference.
type Builder struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Source string `json:"source"`
}

// DefaultBuilders follow the runtimes OpenServerless ships, pinned as the
// platform pins them (its runtimes.json; python 3.13 as the seed's
// example). Operators replace them with the builders parameter. Not ruby
// and dotnet: their images are on moving :nightly tags, and their kinds
// refuse every file (docs/kinds.md).
func DefaultBuilders() map[string]Builder {
	list := []Builder{
		{"python:3.13", "python", "apache/openserverless-runtime-python:v3.13-2506091954"},
		{"python:3.12", "python", "apache/openserverless-runtime-python:v3.12-2409142109"},
		{"python:3.11", "python", "apache/openserverless-runtime-python:v3.11-2409142109"},
		{"nodejs:21", "nodejs", "apache/openserverless-runtime-nodejs:v21-2409142109"},
		{"nodejs:20", "nodejs", "apache/openserverless-runtime-nodejs:v20-2409142109"},
		{"nodejs:18", "nodejs", "apache/openserverless-runtime-nodejs:v18-2409142109"},
		{"php:8.3", "php", "apache/openserverless-runtime-php:v8.3-2409142109"},
		{"php:8.2", "php", "apache/openserverless-runtime-php:v8.2-2409142109"},
		{"java:21", "java", "apache/openserverless-runtime-java:v21-2409142109"},
		{"java:17", "java", "apache/openserverless-runtime-java:v17-2409142109"},
		{"java:11", "java", "apache/openserverless-runtime-java:v11-2409142109"},
		{"java:8", "java", "apache/openserverless-runtime-java:v8-2409142109"},
		{"go:1.22", "go", "apache/openserverless-runtime-go:v1.22-2409142109"},
		{"go:1.21", "go", "apache/openserverless-runtime-go:v1.21-2409142109"},
		{"go:1.20", "go", "apache/openserverless-runtime-go:v1.20-2409142109"},
	}
	out := make(map[string]Builder, len(list))
	for _, b := range list {
		out[b.ID] = b
	}
	return out
}

// parseBuilders reads the builders parameter: a JSON object of id →
// {kind, source}; empty is the default catalog.
func parseBuilders(text string) (map[string]Builder, error) {
	if strings.TrimSpace(text) == "" {
		return DefaultBuilders(), nil
	}
	var raw map[string]struct {
		Kind   string `json:"kind"`
		Source string `json:"source"`
	}
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		// json errors may quote the input: say only what is wrong.
		return nil, apperr.BadRequest(`builders is not a JSON object of id → {"kind": ..., "source": ...}, such as {"python:3.13": {"kind": "python", "source": "apache/openserverless-runtime-python:v3.13-2506091954"}}`)
	}
	out := make(map[string]Builder, len(raw))
	for id, b := range raw {
		if id == "" || len(id) > 64 || strings.ContainsAny(id, " \t\n/") {
			return nil, apperr.BadRequest("builders: %q is not a builder id such as python:3.13", id)
		}
		if _, ok := kinds.Lookup(b.Kind); !ok {
			return nil, apperr.BadRequest("builders: %s has kind %q; use one of %s", id, b.Kind, strings.Join(kinds.Names(), ", "))
		}
		// Docker Hub's short names are fine; a moving default tag is not.
		if _, err := name.ParseReference(b.Source); err != nil || !strings.ContainsAny(b.Source[strings.LastIndex(b.Source, "/")+1:], ":@") {
			return nil, apperr.BadRequest("builders: %s has source %q, which is not an image reference with a tag or digest", id, b.Source)
		}
		out[id] = Builder{ID: id, Kind: b.Kind, Source: b.Source}
	}
	return out, nil
}

// BuilderIDs are the ids of the catalog, sorted.
func (c Config) BuilderIDs() []string {
	ids := make([]string, 0, len(c.Builders))
	for id := range c.Builders {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// PullHost is the registry host in every image reference users deploy
// with: registry_pull_host, else the push host.
func (c Config) PullHost(pushHost string) string {
	if c.RegistryPullHost != "" {
		return c.RegistryPullHost
	}
	return pushHost
}
