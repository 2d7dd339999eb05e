package handlers

import (
	"context"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/reference"
	"github.com/apache/openserverless-builder/shared/web"
)

// Builds lists the caller's builds, newest first, paged.
var Builds = action.Action{Name: "builds", Methods: web.Read(), Run: listBuilds}

// Page sizes of builds.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

func listBuilds(ctx context.Context, inv *action.Invocation) (any, error) {
	limit, err := inv.Params.Int("limit", DefaultLimit)
	if err != nil {
		return nil, err
	}
	if limit < 1 || limit > MaxLimit {
		return nil, apperr.BadRequest("limit must be between 1 and %d, got %d", MaxLimit, limit)
	}
	next, err := inv.Params.String("next", "")
	if err != nil {
		return nil, err
	}
	user, err := inv.Params.String("user", "")
	if err != nil {
		return nil, err
	}
	switch {
	case user != "" && !reference.ValidComponent(user):
		return nil, apperr.BadRequest("user %s is not a user name: lower-case letters and digits, separated by '.', '_', '__' or '-'", apperr.Quote(user))
	case !inv.Caller.Admin && user != "" && user != inv.Caller.Name:
		return nil, apperr.Forbidden("the builds of %s are not yours: only admins see other users' builds", apperr.Quote(user))
	case !inv.Caller.Admin:
		user = inv.Caller.Name
	}
	ns, err := namespace(inv)
	if err != nil {
		return nil, err
	}
	return ns.List(ctx, user, next, limit)
}
