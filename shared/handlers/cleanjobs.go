package handlers

import (
	"context"
	"time"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/cleanup"
	"github.com/apache/openserverless-builder/shared/web"
)

// CleanJobs deletes finished builds older than max_age_hours: everyone's
// for an admin (the schedule), the caller's own for a user.
var CleanJobs = action.Action{Name: "cleanjobs", Methods: web.Write(), Run: cleanJobs}

func cleanJobs(ctx context.Context, inv *action.Invocation) (any, error) {
	hours, err := inv.Params.Float("max_age_hours", cleanup.DefaultMaxAge.Hours())
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
	k, err := inv.Kube()
	if err != nil {
		return nil, err
	}
	user := ""
	if !inv.Caller.Admin {
		user = inv.Caller.Name
	}
	ns := inv.Config.KubeNamespace
	c := cleanup.Cleaner{
		Jobs:       k.Batch.Jobs(ns),
		ConfigMaps: k.Core.ConfigMaps(ns),
		Record: func(ctx context.Context, j *batchv1.Job) error {
			return builds.RecordJob(ctx, k.Core.Pods(ns), builds.RecordsIn(k, ns), j)
		},
	}
	now := time.Now()
	res, err := c.Clean(ctx, cleanup.Options{
		User:          user,
		Cutoff:        now.Add(-time.Duration(hours * float64(time.Hour))),
		RecordsCutoff: now.Add(-inv.Config.RecordRetention),
		DryRun:        dry,
	})
	if err != nil {
		return nil, err
	}
	for _, f := range res.Failed {
		inv.Log.Printf("cleanjobs: could not delete %s: %s", f.Name, f.Error)
	}
	return res, nil
}
