package handlers

import (
	"context"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/registry"
	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/shared/web"
)

// ListImages lists the tags of one repository (catalog).
var ListImages = action.Action{Name: "list-images", Methods: web.Read(), Run: listImages}

func listImages(ctx context.Context, inv *action.Invocation) (any, error) {
	repo, err := required(inv, "catalog", "a repository, such as devel or devel/python")
	if err != nil {
		return nil, err
	}
	// Check and authorize before the registry is asked, so that nobody can
	// probe which of another user's repositories exist.
	if err := registry.CheckRepository(repo); err != nil {
		return nil, err
	}
	if err := inv.Caller.Authorize(repo); err != nil {
		return nil, err
	}
	showCaches, err := inv.Params.Bool("all", false)
	if err != nil {
		return nil, err
	}
	if names.IsCache(repo) && !showCaches {
		return nil, apperr.NotFound("%s is a build cache, hidden from the listings: pass all=true to list its tags", repo)
	}
	c, err := inv.ClusterRegistry(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := c.Tags(ctx, repo)
	if err != nil {
		return nil, err
	}
	return types.Tags{Name: repo, Tags: tags}, nil
}
