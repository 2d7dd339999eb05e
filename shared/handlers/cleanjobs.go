package handlers

import (
	"context"
	"fmt"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/cleanup"
	"github.com/apache/openserverless-builder/shared/kube"
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
	ns := inv.Config.BuildNamespace
	// A user's run reads their builds from the watch cache; the
	// schedule's, every user's, reads consistently.
	rv := ""
	if user != "" {
		rv = kube.Cached
	}
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
		Revision:      rv,
	})
	if err != nil {
		return nil, err
	}
	// Then the bound on each user's history, whatever the ages.
	forget := func(ctx context.Context, user string, jobNames []string) error {
		return builds.IndexOf(k, ns, user).Remove(ctx, jobNames...)
	}
	pruned, errs, err := pruneUsers(ctx, k.Batch.Jobs(ns), builds.RecordsIn(k, ns), forget, user, rv, inv.Config.MaxRetainedBuilds, dry)
	if err != nil {
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
// every user when user is "" (the schedule's run), and forgets the
// builds it removed from their users' indexes. err is a failed listing;
// errs are the builds that could not be deleted or forgotten.
func pruneUsers(ctx context.Context, jobs jobsAPI, records builds.Records, forget func(ctx context.Context, user string, jobNames []string) error, user, rv string, keep int, dry bool) (pruned []string, errs []error, err error) {
	all, err := builds.UserJobs(ctx, jobs, user, rv)
	if err != nil {
		return nil, nil, err
	}
	recs, err := records.List(ctx, user, rv)
	if err != nil {
		return nil, nil, err
	}
	type history struct {
		jobs []batchv1.Job
		recs []builds.Record
	}
	byUser := map[string]*history{}
	of := func(u string) *history {
		if byUser[u] == nil {
			byUser[u] = &history{}
		}
		return byUser[u]
	}
	for _, j := range all {
		h := of(j.Annotations[names.AnnotationUser])
		h.jobs = append(h.jobs, j)
	}
	for _, r := range recs {
		h := of(r.User)
		h.recs = append(h.recs, r)
	}
	for u, h := range byUser {
		d, e := pruneHistory(ctx, jobs, records, h.jobs, h.recs, keep, dry)
		pruned, errs = append(pruned, d...), append(errs, e...)
		if len(d) > 0 && !dry {
			if err := forget(ctx, u, d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return pruned, errs, nil
}
