// Package cleanup removes finished builds from a namespace: their Jobs
// (after their records), orphaned build contexts and expired records
// (docs/contract.md, "Build records and cleanup").
package cleanup

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/names"
)

// DefaultMaxAge is how long a finished build is kept by default.
const DefaultMaxAge = 24 * time.Hour

// Failure is an object that could not be deleted.
type Failure struct {
	Name  string `json:"name"`
	Error string `json:"error"`
}

// Result is cleanjobs' result.
type Result struct {
	Deleted    int      `json:"deleted"`
	Jobs       []string `json:"jobs"`
	ConfigMaps []string `json:"configmaps"`
	// Records are the build records deleted for being older than
	// record_retention_days.
	Records []string `json:"records"`
	// Pruned are the finished builds (by Job name) removed, Job and record
	// together, for being beyond max_retained_builds.
	Pruned  []string  `json:"pruned"`
	Failed  []Failure `json:"failed,omitempty"`
	DryRun  bool      `json:"dry_run"`
	Cutoff  time.Time `json:"cutoff"`
	Message string    `json:"message"`
}

// Options choose what Clean removes.
type Options struct {
	User   string // only this user's builds; "" for everyone's
	Cutoff time.Time
	// RecordsCutoff: records of builds that finished before it go.
	RecordsCutoff time.Time
	DryRun        bool
	// Revision: the lists are at least this fresh, from the API server's
	// watch cache ("": consistent reads; see kube.ListPages).
	Revision string
}

type jobsAPI interface {
	List(ctx context.Context, opts metav1.ListOptions) (*batchv1.JobList, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

type configMapsAPI interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.ConfigMapList, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// Cleaner removes finished builds from one namespace.
type Cleaner struct {
	Jobs       jobsAPI
	ConfigMaps configMapsAPI
	// Record stores a finished build's record before its Job goes; a Job
	// whose record cannot be stored stays.
	Record func(ctx context.Context, job *batchv1.Job) error
}

// Clean deletes the builder's Jobs that finished before the cutoff, and the
// builder's build contexts older than the cutoff that no Job owns. Running Jobs
// and objects without the builder's labels are never touched. A deletion
// that fails is reported and the others still happen.
func (c Cleaner) Clean(ctx context.Context, o Options) (*Result, error) {
	selector := names.UserSelector(o.User)
	res := &Result{Jobs: []string{}, ConfigMaps: []string{}, Records: []string{}, Pruned: []string{}, DryRun: o.DryRun, Cutoff: o.Cutoff.UTC()}
	live := map[string]bool{} // build ids whose Job stays
	bg := metav1.DeletePropagationBackground
	err := kube.ListPages(ctx, selector, o.Revision, func(opts metav1.ListOptions) (string, error) {
		list, err := c.Jobs.List(ctx, opts)
		if err != nil {
			return "", err
		}
		var doomed []*batchv1.Job
		for i := range list.Items {
			j := &list.Items[i]
			if !owned(j.ObjectMeta, o.User) {
				continue
			}
			if done, ok := builds.FinishedAt(j); ok && done.Before(o.Cutoff) || abandoned(j, o.Cutoff) {
				doomed = append(doomed, j)
			} else {
				live[j.Labels[names.LabelBuildID]] = true
			}
		}
		deleted, failed := deleteAll(ctx, doomed, o.DryRun, func(j *batchv1.Job) error {
			if c.Record != nil && !abandoned(j, o.Cutoff) {
				if err := c.Record(ctx, j); err != nil {
					return fmt.Errorf("storing its record first: %w", err)
				}
			}
			return c.Jobs.Delete(ctx, j.Name, metav1.DeleteOptions{
				PropagationPolicy: &bg,
				Preconditions:     &metav1.Preconditions{UID: &j.UID},
			})
		})
		for _, j := range deleted {
			res.Jobs = append(res.Jobs, j.Name)
		}
		for _, f := range failed {
			res.Failed = append(res.Failed, Failure{Name: "job/" + f.obj.Name, Error: f.err.Error()})
			live[f.obj.Labels[names.LabelBuildID]] = true
		}
		return list.Continue, nil
	})
	if err != nil {
		return nil, apperr.Upstream(err, "listing build Jobs")
	}
	// A context a Job owns goes with it, by the garbage collector, and
	// the builder may not delete it (deploy/admission.yaml); these are
	// the ones no Job owns (an older builder's, whose Job never came).
	err = kube.ListPages(ctx, selector, o.Revision, func(opts metav1.ListOptions) (string, error) {
		list, err := c.ConfigMaps.List(ctx, opts)
		if err != nil {
			return "", err
		}
		var orphans []*corev1.ConfigMap
		for i := range list.Items {
			cm := &list.Items[i]
			// A record's log goes with its record, below.
			if !owned(cm.ObjectMeta, o.User) || cm.Name == names.BuildkitdConfigMap || cm.Labels[names.LabelBuildID] == "" || builds.IsRecordLog(cm) {
				continue
			}
			if builds.IsRecord(cm) {
				if expired(cm, o.RecordsCutoff) {
					orphans = append(orphans, cm)
				}
				continue
			}
			if live[cm.Labels[names.LabelBuildID]] || !cm.CreationTimestamp.Time.Before(o.Cutoff) || builds.OwnedByJob(cm.ObjectMeta) {
				continue
			}
			orphans = append(orphans, cm)
		}
		deleted, failed := deleteAll(ctx, orphans, o.DryRun, func(cm *corev1.ConfigMap) error {
			if err := c.ConfigMaps.Delete(ctx, cm.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cm.UID}}); err != nil {
				return err
			}
			if r, ok := builds.RecordOf(cm); ok {
				// Its log, kept apart; gone already is fine.
				if err := c.ConfigMaps.Delete(ctx, names.RecordLogName(r.JobName), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					return err
				}
			}
			return nil
		})
		for _, cm := range deleted {
			if builds.IsRecord(cm) {
				res.Records = append(res.Records, cm.Name)
			} else {
				res.ConfigMaps = append(res.ConfigMaps, cm.Name)
			}
		}
		for _, f := range failed {
			res.Failed = append(res.Failed, Failure{Name: "configmap/" + f.obj.Name, Error: f.err.Error()})
		}
		return list.Continue, nil
	})
	if err != nil {
		return nil, apperr.Upstream(err, "listing build ConfigMaps")
	}
	sort.Strings(res.Jobs)
	sort.Strings(res.ConfigMaps)
	sort.Strings(res.Records)
	res.Deleted = len(res.Jobs)
	verb := "deleted"
	if o.DryRun {
		verb = "would delete"
	}
	res.Message = fmt.Sprintf("%s %s and %s older than %s", verb, count(len(res.Jobs), "finished build job"), count(len(res.ConfigMaps), "orphaned build context"), res.Cutoff.Format(time.RFC3339))
	if len(res.Records) > 0 {
		res.Message += fmt.Sprintf(", and %s past their retention", count(len(res.Records), "build record"))
	}
	if len(res.Failed) > 0 {
		res.Message += fmt.Sprintf("; %d could not be deleted", len(res.Failed))
	}
	return res, nil
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// workers is how many deletions run at once.
const workers = 8

type failure[T any] struct {
	obj T
	err error
}

// deleteAll runs del over objs, workers at a time, and splits them into the
// deleted and the failed, each in the order of objs. A dry run deletes
// nothing and reports all as deleted.
func deleteAll[T any](ctx context.Context, objs []T, dry bool, del func(T) error) ([]T, []failure[T]) {
	errs := make([]error, len(objs))
	if !dry {
		var wg sync.WaitGroup
		sem := make(chan struct{}, workers)
		for i, o := range objs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				if err := ctx.Err(); err != nil {
					errs[i] = err
					return
				}
				errs[i] = del(o)
			}()
		}
		wg.Wait()
	}
	var ok []T
	var failed []failure[T]
	for i, o := range objs {
		if errs[i] != nil {
			failed = append(failed, failure[T]{o, errs[i]})
		} else {
			ok = append(ok, o)
		}
	}
	return ok, failed
}

// abandoned reports whether j is a build that send created suspended and
// never resumed (it stopped between the two) before cutoff: it never ran,
// its deadline does not run while it is suspended, and it would hold its
// user's quota for ever. It leaves no record: there was no build.
func abandoned(j *batchv1.Job, cutoff time.Time) bool {
	return j.Spec.Suspend != nil && *j.Spec.Suspend && j.CreationTimestamp.Time.Before(cutoff)
}

// owned double-checks the labels the selector asked for (and, for a user,
// the full name, since long names share a hashed label prefix).
func owned(m metav1.ObjectMeta, user string) bool {
	if m.Labels[names.LabelManagedBy] != names.ManagedBy {
		return false
	}
	return user == "" || m.Annotations[names.AnnotationUser] == user
}

// expired reports whether a record's build finished before cutoff (its
// record's creation, when it says no time).
func expired(cm *corev1.ConfigMap, cutoff time.Time) bool {
	if cutoff.IsZero() {
		return false
	}
	at := cm.CreationTimestamp.Time
	if r, ok := builds.RecordOf(cm); ok && r.Finished != nil {
		at = *r.Finished
	}
	return at.Before(cutoff)
}
