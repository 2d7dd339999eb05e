package handlers

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/builds"
)

// Fair use (docs/contract.md, "Fair use"): how many builds a user runs
// and keeps.

// RetryAfter is what a 429 asks the caller to wait before sending again.
const RetryAfter = 30 * time.Second

// jobsAPI is what the quota needs of the Jobs client.
type jobsAPI interface {
	builds.JobLister
	builds.Deleter
}

// unfinished are the builds of jobs that have not finished and are not
// being deleted.
func unfinished(jobs []batchv1.Job) []batchv1.Job {
	var out []batchv1.Job
	for _, j := range jobs {
		if _, done := builds.FinishedAt(&j); !done && j.DeletionTimestamp == nil {
			out = append(out, j)
		}
	}
	return out
}

// tooMany is the 429 of a user at the limit, naming their unfinished
// builds.
func tooMany(limit int, jobNames []string) error {
	jobNames = slices.Sorted(slices.Values(jobNames))
	return apperr.TooMany(RetryAfter, "you have %d unfinished builds (%s) and the limit is %d (max_active_builds): wait for one to finish, then send again", len(jobNames), strings.Join(jobNames, ", "), limit)
}

// recordStore is what pruning needs of the records.
type recordStore interface {
	Delete(ctx context.Context, jobName string) error
}

// pruneHistory deletes the user's finished builds beyond keep, oldest
// first: a finished build is its Job, its record, or both, and goes whole,
// so what one user leaves in the cluster is bounded whatever they do (a
// loop of send and cancel included). mine and recs are the user's Jobs and
// records. With dry, it only says what it would delete. It returns the Job
// names of the builds deleted; a failure is returned with the rest, and
// the bound holds again at the next send or cleanjobs.
func pruneHistory(ctx context.Context, jobs builds.Deleter, records recordStore, mine []batchv1.Job, recs []builds.Record, keep int, dry bool) (deleted []string, errs []error) {
	type done struct {
		name string
		at   time.Time
		job  *batchv1.Job
		rec  bool
	}
	byName := map[string]*done{}
	for i := range mine {
		if at, ok := builds.FinishedAt(&mine[i]); ok && mine[i].DeletionTimestamp == nil {
			byName[mine[i].Name] = &done{name: mine[i].Name, at: at, job: &mine[i]}
		}
	}
	for _, r := range recs {
		d, ok := byName[r.JobName]
		if !ok {
			d = &done{name: r.JobName, at: r.Created}
			if r.Finished != nil {
				d.at = *r.Finished
			}
			byName[r.JobName] = d
		}
		d.rec = true
	}
	if len(byName) <= keep {
		return nil, nil
	}
	finished := make([]*done, 0, len(byName))
	for _, d := range byName {
		finished = append(finished, d)
	}
	sort.Slice(finished, func(a, b int) bool {
		if !finished[a].at.Equal(finished[b].at) {
			return finished[a].at.After(finished[b].at)
		}
		return finished[a].name > finished[b].name
	})
	for _, d := range finished[keep:] {
		if dry {
			deleted = append(deleted, d.name)
			continue
		}
		if d.job != nil {
			if err := builds.DeleteJob(ctx, jobs, d.job); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("deleting finished build %s: %w", d.name, err))
				continue
			}
		}
		if d.rec {
			if err := records.Delete(ctx, d.name); err != nil {
				errs = append(errs, fmt.Errorf("deleting the record of build %s: %w", d.name, err))
				continue
			}
		}
		deleted = append(deleted, d.name)
	}
	return deleted, errs
}

// admit decides whether the build whose Job is name may join history h
// of its user: whether the user's unfinished builds, and the builds other
// sends are creating, number fewer than limit (0: no limit). It decides on
// the index as the entry is written (builds.Index.Add): a concurrent send
// that entered its build first is in h, Job or not, so the limit is
// exact.
func admit(h builds.History, name string, limit int) error {
	if limit <= 0 {
		return nil
	}
	var ahead []string
	for _, j := range unfinished(h.Jobs) {
		if j.Name != name {
			ahead = append(ahead, j.Name)
		}
	}
	for _, e := range h.Pending {
		if e.Job != name {
			ahead = append(ahead, e.Job)
		}
	}
	if len(ahead) >= limit {
		return tooMany(limit, ahead)
	}
	return nil
}
