package builds

import (
	"context"
	"fmt"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/apache/openserverless-builder/shared/names"
)

// prune deletes a user's finished builds beyond keep, oldest first: a
// finished build is its Job, its record, or both, and goes whole, so what
// one user leaves in the cluster is bounded whatever they do (a loop of
// send and cancel included). mine and recs are the user's Jobs and
// records. With dry, it only says what it would delete. It returns the Job
// names of the builds deleted; a failure is returned with the rest, and
// the bound holds again at the next send or cleanjobs.
func (n Namespace) prune(ctx context.Context, mine []batchv1.Job, recs []Record, keep int, dry bool) (deleted []string, errs []error) {
	type done struct {
		name string
		at   time.Time
		job  *batchv1.Job
		rec  bool
	}
	byName := map[string]*done{}
	for i := range mine {
		if at, ok := FinishedAt(&mine[i]); ok && mine[i].DeletionTimestamp == nil {
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
	records := n.Records()
	for _, d := range finished[keep:] {
		if dry {
			deleted = append(deleted, d.name)
			continue
		}
		if d.job != nil {
			if err := DeleteJob(ctx, n.Jobs, d.job); err != nil && !apierrors.IsNotFound(err) {
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

// pruneUsers applies keep to the history of each user of jobs and recs
// (the Jobs and records Clean left), and drops the builds it removed from
// their users' indexes. errs are the builds that could not be deleted or
// dropped.
func (n Namespace) pruneUsers(ctx context.Context, all []batchv1.Job, recs []Record, keep int, dry bool) (pruned []string, errs []error) {
	type history struct {
		jobs []batchv1.Job
		recs []Record
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
		d, e := n.prune(ctx, h.jobs, h.recs, keep, dry)
		pruned, errs = append(pruned, d...), append(errs, e...)
		if len(d) > 0 && !dry {
			if err := n.Index(u).Remove(ctx, d...); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return pruned, errs
}
