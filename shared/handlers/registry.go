package handlers

import (
	"context"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/registry"
)

// Registry are the four registry actions, one binary deployed four times.
func Registry() []action.Action {
	return []action.Action{ListCatalogs, ListImages, GetImage, DeleteImage}
}

// GCNote is what an operator must do after deletions to get the space back.
const GCNote = "the registry removed the reference only; its storage is reclaimed when an operator runs the registry's garbage collection (registry garbage-collect)"

// required reads a parameter that must be there; what says what it is.
func required(inv *action.Invocation, key, what string) (string, error) {
	v, err := inv.Params.String(key, "")
	if err != nil {
		return "", err
	}
	if v == "" {
		return "", apperr.BadRequest("parameter %q is required: %s", key, what)
	}
	return v, nil
}

// imageParam reads and authorizes the image parameter; repo is its
// repository.
func imageParam(ctx context.Context, inv *action.Invocation) (c *registry.Client, image, repo string, err error) {
	if image, err = required(inv, "image", "<repo>:<tag> or <repo>@<digest>, such as devel:python3.13-custom"); err != nil {
		return nil, "", "", err
	}
	if c, err = inv.ClusterRegistry(ctx); err != nil {
		return nil, "", "", err
	}
	ref, err := c.Reference(image)
	if err != nil {
		return nil, "", "", err
	}
	repo = ref.Context().RepositoryStr()
	if err := inv.Caller.Authorize(repo); err != nil {
		return nil, "", "", err
	}
	return c, image, repo, nil
}
