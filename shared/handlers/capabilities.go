package handlers

import (
	"context"
	"time"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/web"
)

// Capabilities tells a client what this builder offers the caller.
var Capabilities = action.Action{Name: "capabilities", Methods: web.Read(), Run: capabilities}

// version is the builder's version, set at build time (make build passes
// git describe); "dev" otherwise.
var version = "dev"

// Offer is capabilities' result.
type Offer struct {
	User     string         `json:"user"`
	Admin    bool           `json:"admin"`
	Builders []BuilderOffer `json:"builders"`
	Kinds    []KindOffer    `json:"kinds"`
	// Sources says what a caller may build FROM besides the builders.
	Sources string `json:"sources"`
	// AllowedSources are the prefixes of allowed_sources.
	AllowedSources     []string `json:"allowed_sources"`
	SharedRepositories []string `json:"shared_repositories"`
	Limits             Limits   `json:"limits"`
	BuildCache         bool     `json:"build_cache"`
	Provenance         bool     `json:"provenance"`
	Version            string   `json:"version"`
}

// BuilderOffer is one builder of the catalog.
type BuilderOffer struct {
	config.Builder
	File string `json:"file"` // the kind's requirements file
}

// KindOffer is one kind and its requirements file.
type KindOffer struct {
	Name string `json:"name"`
	File string `json:"file"`
}

// Limits are the fair-use limits that apply to the caller.
type Limits struct {
	MaxActiveBuilds     int `json:"max_active_builds"` // 0: none
	MaxRetainedBuilds   int `json:"max_retained_builds"`
	MaxContextBytes     int `json:"max_context_bytes"`
	BuildTimeoutSeconds int `json:"build_timeout_seconds"`
}

func capabilities(_ context.Context, inv *action.Invocation) (any, error) {
	cfg := inv.Config
	o := Offer{
		User: inv.Caller.Name, Admin: inv.Caller.Admin,
		Builders: []BuilderOffer{}, Kinds: []KindOffer{},
		Sources: "the builders' sources and images under allowed_sources; in the cluster registry, your own repositories (" +
			inv.Caller.Name + ", " + inv.Caller.Name + "/...) and the shared ones",
		AllowedSources:     append([]string{}, cfg.AllowedSources...),
		SharedRepositories: append([]string{}, cfg.SharedRepositories...),
		Limits: Limits{
			MaxActiveBuilds:     cfg.MaxActiveBuilds,
			MaxRetainedBuilds:   cfg.MaxRetainedBuilds,
			MaxContextBytes:     cfg.MaxContextBytes,
			BuildTimeoutSeconds: int(cfg.BuildTimeout / time.Second),
		},
		BuildCache: cfg.BuildCache, Provenance: cfg.Provenance, Version: version,
	}
	if inv.Caller.Admin {
		o.Limits.MaxActiveBuilds = 0 // admins are exempt
		o.Sources = "any image (admins)"
	}
	for _, id := range cfg.BuilderIDs() {
		b := cfg.Builders[id]
		k, _ := kinds.Lookup(b.Kind)
		o.Builders = append(o.Builders, BuilderOffer{Builder: b, File: k.File})
	}
	for _, n := range kinds.Names() {
		k, _ := kinds.Lookup(n)
		o.Kinds = append(o.Kinds, KindOffer{Name: k.Name, File: k.File})
	}
	return o, nil
}
