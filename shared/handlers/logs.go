package handlers

import (
	"context"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/web"
)

// Logs reports a build's status and log: the caller's latest by default.
var Logs = action.Action{Name: "logs", Methods: web.Read(), Run: logs}

func logs(ctx context.Context, inv *action.Invocation) (any, error) {
	name, id, err := buildspec.ParseBuildRef(inv.Params)
	if err != nil {
		return nil, err
	}
	if name == "" && id != "" {
		// `builder logs ID`: one of the caller's builds by its id.
		name = names.JobName(inv.Caller.Name, id)
	}
	tail, err := inv.Params.Int("tail", 0)
	if err != nil {
		return nil, err
	}
	if tail < 0 {
		return nil, apperr.BadRequest("parameter \"tail\" must be a positive number of lines")
	}
	ns, err := namespace(inv)
	if err != nil {
		return nil, err
	}
	return ns.Show(ctx, inv.Caller, name, tail)
}
