package handlers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	ListMetadata(ctx context.Context, opts metav1.ListOptions) (*metav1.PartialObjectMetadataList, error)
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

// admissionJobs is what admitted needs of the Job client.
type admissionJobs interface {
	builds.JobLister
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*batchv1.Job, error)
}

// revisions are those of the new build's Job and context, as stored.
type revisions struct{ job, context string }

// admitted decides, after a build was created, whether it is among the
// user's oldest limit unfinished builds. Builds are ordered by the
// resourceVersion of their build context ConfigMap, which nothing changes
// after it is created: that is the API server's own order of creation, so
// every build created before this one is in this one's list, and the first
// limit builds in that order are the ones every concurrent send keeps.
// Builds whose context is not stored yet were created after this one's.
//
// Both lists come from the API server's watch cache, at least as fresh as
// the new build's own objects (at): the contexts list has every context
// stored before this one's. The Jobs list has every Job stored before this
// one's Job; a build ahead whose Job came later (two sends interleaved)
// is read by name, so the decision is exact.
func admitted(ctx context.Context, jobs admissionJobs, cms configMapLister, user, id string, at revisions, limit int) (bool, []batchv1.Job, error) {
	all, err := builds.UserJobs(ctx, jobs, user, at.job)
	if err != nil {
		return false, nil, err
	}
	contexts := map[string]metav1.ObjectMeta{}
	// Contexts only (the selector leaves out records and their logs), and
	// their metadata only: the order needs no Dockerfile.
	err = kube.ListPages(ctx, names.ContextSelector(user), at.context, func(opts metav1.ListOptions) (string, error) {
		list, err := cms.ListMetadata(ctx, opts)
		if err != nil {
			return "", err
		}
		for _, cm := range list.Items {
			if cm.Annotations[names.AnnotationUser] == user && cm.Labels[names.LabelBuildID] != "" && cm.Labels[names.LabelRecord] != "true" {
				contexts[cm.Labels[names.LabelBuildID]] = cm.ObjectMeta
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
	listed := map[string]bool{}
	for _, j := range all {
		listed[j.Labels[names.LabelBuildID]] = true
	}
	for bid, cm := range contexts {
		if bid == id || listed[bid] || !before(cm, mine) {
			continue
		}
		// A context names its Job.
		j, err := jobs.Get(ctx, cm.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return false, nil, apperr.Upstream(err, "reading build %s", cm.Name)
		}
		if j.Annotations[names.AnnotationUser] == user {
			all = append(all, *j)
		}
	}
	active := unfinished(all)
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
func before(a, b metav1.ObjectMeta) bool {
	if c, err := resourceversion.CompareResourceVersion(a.ResourceVersion, b.ResourceVersion); err == nil {
		return c < 0
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}
