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
	r, stopped, err := ns.Cancel(ctx, inv.Caller, name, id)
	if err != nil {
		return nil, err
	}
	inv.Log.Printf("cancel: %s cancelled build %s (its pod gone: %v)", inv.Caller.Name, r.JobName, stopped)
	msg := fmt.Sprintf("build %s is cancelled: its pod is gone, and it pushes nothing", r.ID)
	if !stopped {
		msg = fmt.Sprintf("build %s is cancelled and recorded, but its pod has not stopped: its node does not answer. "+
			"Kubernetes removes the pod once the node answers again or is removed; a node that is only cut off may push until then", r.ID)
	}
	return types.Stopped{ID: r.ID, JobName: r.JobName, Status: types.Cancelled, Message: msg}, nil
}
