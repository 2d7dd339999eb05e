package handlers

import (
	"context"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/shared/web"
)

// ListCatalogs lists the repositories of the registry the caller may see.
var ListCatalogs = action.Action{Name: "list-catalogs", Methods: web.Read(), Run: listCatalogs}

func listCatalogs(ctx context.Context, inv *action.Invocation) (any, error) {
	showCaches, err := inv.Params.Bool("all", false)
	if err != nil {
		return nil, err
	}
	c, err := inv.ClusterRegistry(ctx)
	if err != nil {
		return nil, err
	}
	// A user's listing costs their own repositories: the catalog from
	// their name on. Admins see the whole registry.
	var all []string
	if inv.Caller.Admin {
		all, err = c.Catalog(ctx)
	} else {
		all, err = c.OwnedCatalog(ctx, inv.Caller.Name)
	}
	if err != nil {
		return nil, err
	}
	repos := make([]string, 0, len(all))
	for _, r := range all {
		// A user never learns the names of other users' repositories.
		if inv.Caller.CanAccess(r) && (showCaches || !names.IsCache(r)) {
			repos = append(repos, r)
		}
	}
	return types.Repositories{Repositories: repos}, nil
}
