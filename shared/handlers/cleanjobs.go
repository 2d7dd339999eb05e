package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/cleanup"
	"github.com/apache/openserverless-builder/shared/names"
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
	// Then the bound on each user's history, whatever the ages.
	pruned, errs := pruneUsers(ctx, k.Batch.Jobs(ns), builds.RecordsIn(k, ns), user, inv.Config.MaxRetainedBuilds, dry)
	if err := errors.Join(errs...); apperr.Status(err) == http.StatusBadGateway && len(pruned) == 0 {
		return nil, err
	}
	for _, e := range errs {
		res.Failed = append(res.Failed, cleanup.Failure{Name: "history", Error: e.Error()})
	}
	sort.Strings(pruned)
	res.Pruned = append([]string{}, pruned...)
	if len(pruned) > 0 {
		res.Message += fmt.Sprintf(", and %d finished builds beyond max_retained_builds=%d", len(pruned), inv.Config.MaxRetainedBuilds)
	}
	for _, f := range res.Failed {
		inv.Log.Printf("cleanjobs: could not delete %s: %s", f.Name, f.Error)
	}
	return res, nil
}

// pruneUsers applies max_retained_builds to the history of user, or of
// every user when user is "" (the schedule's run).
func pruneUsers(ctx context.Context, jobs jobsAPI, records builds.Records, user string, keep int, dry bool) ([]string, []error) {
	all, err := builds.UserJobs(ctx, jobs, user)
	if err != nil {
		return nil, []error{err}
	}
	recs, err := records.List(ctx, user)
	if err != nil {
		return nil, []error{err}
	}
	jobsOf, recsOf := map[string][]batchv1.Job{}, map[string][]builds.Record{}
	for _, j := range all {
		u := j.Annotations[names.AnnotationUser]
		jobsOf[u] = append(jobsOf[u], j)
	}
	for _, r := range recs {
		recsOf[r.User] = append(recsOf[r.User], r)
	}
	var pruned []string
	var errs []error
	for u := range userSet(jobsOf, recsOf) {
		d, e := pruneHistory(ctx, jobs, records, jobsOf[u], recsOf[u], keep, dry)
		pruned, errs = append(pruned, d...), append(errs, e...)
	}
	return pruned, errs
}

func userSet(jobs map[string][]batchv1.Job, recs map[string][]builds.Record) map[string]bool {
	out := map[string]bool{}
	for u := range jobs {
		out[u] = true
	}
	for u := range recs {
		out[u] = true
	}
	return out
}
