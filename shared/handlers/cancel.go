package handlers

import (
	"context"
	"fmt"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/shared/web"
)

// Cancel stops a pending or running build.
var Cancel = action.Action{Name: "cancel", Methods: web.Delete(), Run: cancel}

func cancel(ctx context.Context, inv *action.Invocation) (any, error) {
	name, id, err := buildspec.ParseBuildRef(inv.Params)
	if err != nil {
		return nil, err
	}
	if name == "" && id == "" {
		return nil, apperr.BadRequest("pass the build's id or job_name (send's result has both; the builds action lists them)")
	}
	ns, err := namespace(inv)
	if err != nil {
		return nil, err
	}
	r, err := ns.Cancel(ctx, inv.Caller, name, id)
	if err != nil {
		return nil, err
	}
	inv.Log.Printf("cancel: %s cancelled build %s", inv.Caller.Name, r.JobName)
	return types.Stopped{ID: r.ID, JobName: r.JobName, Status: types.Cancelled,
		Message: fmt.Sprintf("build %s is cancelled: its pod is gone, and it pushes nothing", r.ID)}, nil
}
