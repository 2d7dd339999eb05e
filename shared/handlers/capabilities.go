package handlers

import (
	"context"
	"time"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/shared/web"
)

// Capabilities tells a client what this builder offers the caller.
var Capabilities = action.Action{Name: "capabilities", Methods: web.Read(), Run: capabilities}

// version is the builder's version, set at build time (make build passes
// git describe); "dev" otherwise.
var version = "dev"

func capabilities(_ context.Context, inv *action.Invocation) (any, error) {
	cfg := inv.Config
	o := types.Offer{
		User: inv.Caller.Name, Admin: inv.Caller.Admin,
		Builders: []types.BuilderOffer{}, Kinds: []types.KindOffer{},
		Sources: "the builders' sources and images under allowed_sources; in the cluster registry, your own repositories (" +
			inv.Caller.Name + ", " + inv.Caller.Name + "/...) and the shared ones",
		AllowedSources:     append([]string{}, cfg.AllowedSources...),
		SharedRepositories: append([]string{}, cfg.SharedRepositories...),
		Limits: types.Limits{
			MaxActiveBuilds:     cfg.MaxActiveBuilds,
			MaxRetainedBuilds:   cfg.MaxRetainedBuilds,
			MaxContextBytes:     cfg.MaxContextBytes,
			MaxSecretBytes:      buildspec.MaxSecretBytes,
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
		o.Builders = append(o.Builders, types.BuilderOffer{ID: b.ID, Kind: b.Kind, Source: b.Source, File: k.File})
	}
	for _, n := range kinds.Names() {
		k, _ := kinds.Lookup(n)
		o.Kinds = append(o.Kinds, types.KindOffer{Name: k.Name, File: k.File, Secrets: k.SecretNames()})
	}
	return o, nil
}
