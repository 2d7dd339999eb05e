package handlers

import (
	"context"
	"time"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/web"
)

// CleanJobs deletes finished builds older than max_age_hours: everyone's
// for an admin (the schedule), the caller's own for a user.
var CleanJobs = action.Action{Name: "cleanjobs", Methods: web.Write(), Run: cleanJobs}

func cleanJobs(ctx context.Context, inv *action.Invocation) (any, error) {
	hours, err := inv.Params.Float("max_age_hours", builds.DefaultMaxAge.Hours())
	if err != nil {
		return nil, err
	}
	if hours < 0 || hours > 24*365*10 {
		return nil, apperr.BadRequest("max_age_hours must be a number of hours from 0 to 87600, got %v", hours)
	}
	dry, err := inv.Params.Bool("dry_run", false)
	if err != nil {
		return nil, err
	}
	ns, err := namespace(inv)
	if err != nil {
		return nil, err
	}
	o := builds.CleanOptions{
		DryRun:   dry,
		Retained: inv.Config.MaxRetainedBuilds,
	}
	if !inv.Caller.Admin {
		// A user's run reads their builds from the watch cache; the
		// schedule's, every user's, reads consistently.
		o.User, o.Revision = inv.Caller.Name, kube.Cached
	}
	now := time.Now()
	o.Cutoff = now.Add(-time.Duration(hours * float64(time.Hour)))
	o.RecordsCutoff = now.Add(-inv.Config.RecordRetention)
	res, err := ns.Clean(ctx, o)
	if err != nil {
		return nil, err
	}
	for _, f := range res.Failed {
		inv.Log.Printf("cleanjobs: could not delete %s: %s", f.Name, f.Error)
	}
	return res, nil
}
