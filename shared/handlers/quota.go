package handlers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/resourceversion"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/names"
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

type configMapLister interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.ConfigMapList, error)
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

// tooMany is the 429 of a user at the limit, naming their unfinished builds.
func tooMany(limit int, active []batchv1.Job) error {
	jobNames := make([]string, 0, len(active))
	for _, j := range active {
		jobNames = append(jobNames, j.Name)
	}
	sort.Strings(jobNames)
	return apperr.TooMany(RetryAfter, "you have %d unfinished builds (%s) and the limit is %d (max_active_builds): wait for one to finish, then send again", len(active), strings.Join(jobNames, ", "), limit)
}

// recorder stores the record of a finished build before its Job goes.
type recorder func(ctx context.Context, job *batchv1.Job) error

// pruneFinished deletes the oldest finished builds of jobs beyond keep, so
// that what one user leaves in the cluster is bounded, each after its
// record is stored (a build whose record cannot be stored stays). It
// returns the names it deleted; a failure is logged by the caller and the
// send goes on, since the bound holds again at the next send.
func pruneFinished(ctx context.Context, api jobsAPI, record recorder, jobs []batchv1.Job, keep int) (deleted []string, errs []error) {
	type done struct {
		job *batchv1.Job
		at  time.Time
	}
	var finished []done
	for i := range jobs {
		if at, ok := builds.FinishedAt(&jobs[i]); ok && jobs[i].DeletionTimestamp == nil {
			finished = append(finished, done{&jobs[i], at})
		}
	}
	if len(finished) <= keep {
		return nil, nil
	}
	sort.SliceStable(finished, func(a, b int) bool { return finished[a].at.After(finished[b].at) })
	for _, f := range finished[keep:] {
		if err := record(ctx, f.job); err != nil {
			errs = append(errs, fmt.Errorf("recording finished build %s before deleting it: %w", f.job.Name, err))
			continue
		}
		if err := builds.DeleteJob(ctx, api, f.job); err != nil {
			errs = append(errs, fmt.Errorf("deleting finished build %s: %w", f.job.Name, err))
			continue
		}
		deleted = append(deleted, f.job.Name)
	}
	return deleted, errs
}

// admitted decides, after a build was created, whether it is among the
// user's oldest limit unfinished builds. Builds are ordered by the
// resourceVersion of their build context ConfigMap, which nothing changes
// after it is created: that is the API server's own order of creation, so
// every build created before this one is in this one's list, and the first
// limit builds in that order are the ones every concurrent send keeps.
// Builds whose context is not stored yet were created after this one's.
func admitted(ctx context.Context, jobs jobsAPI, cms configMapLister, user, id string, limit int) (bool, []batchv1.Job, error) {
	all, err := builds.UserJobs(ctx, jobs, user)
	if err != nil {
		return false, nil, err
	}
	active := unfinished(all)
	contexts := map[string]corev1.ConfigMap{}
	err = kube.ListPages(ctx, names.UserSelector(user), func(opts metav1.ListOptions) (string, error) {
		list, err := cms.List(ctx, opts)
		if err != nil {
			return "", err
		}
		for i, cm := range list.Items {
			if cm.Annotations[names.AnnotationUser] == user && cm.Labels[names.LabelBuildID] != "" && !builds.IsRecord(&list.Items[i]) {
				contexts[cm.Labels[names.LabelBuildID]] = cm
			}
		}
		return list.Continue, nil
	})
	if err != nil {
		return false, nil, apperr.Upstream(err, "listing the build contexts of %s", user)
	}
	mine, ok := contexts[id]
	if !ok {
		return false, nil, apperr.New(500, "the build context of build %s is not listed right after it was created", id)
	}
	ahead := 0
	for _, j := range active {
		bid := j.Labels[names.LabelBuildID]
		if bid == id {
			continue
		}
		if cm, ok := contexts[bid]; ok && before(cm, mine) {
			ahead++
		}
	}
	return ahead < limit, active, nil
}

// before orders two build contexts by creation: resourceVersion where the
// API server gives comparable ones (etcd's revision), else creation time
// and name.
func before(a, b corev1.ConfigMap) bool {
	if c, err := resourceversion.CompareResourceVersion(a.ResourceVersion, b.ResourceVersion); err == nil {
		return c < 0
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}
