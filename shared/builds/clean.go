package builds

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
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
)

// Clean removes finished builds from the namespace: their Jobs (after
// their records), orphaned build contexts, expired records, and each
// user's finished builds beyond the number kept (docs/contract.md, "Build
// records and cleanup").

// DefaultMaxAge is how long a finished build is kept by default.
const DefaultMaxAge = 24 * time.Hour

// CleanOptions choose what Clean removes.
type CleanOptions struct {
	User   string // only this user's builds; "" for everyone's
	Cutoff time.Time
	// RecordsCutoff: records of builds that finished before it go.
	RecordsCutoff time.Time
	DryRun        bool
	// Revision: the lists are at least this fresh, from the API server's
	// watch cache ("": consistent reads; see kube.ListPages).
	Revision string
	// Retained is how many finished builds each user keeps, whatever
	// their age.
	Retained int
}

// Clean deletes the builder's Jobs that finished before the cutoff (each
// after storing its record), the build contexts older than the cutoff
// that no Job owns, the records past theirs, then each user's finished
// builds beyond o.Retained, and last the index entries of builds that
// were never created. It lists the Jobs and the ConfigMaps once, and the
// later steps work from what those lists left. Running Jobs and objects
// without the builder's labels are never touched. A deletion that fails
// is reported and the others still happen.
func (n Namespace) Clean(ctx context.Context, o CleanOptions) (*types.Cleaned, error) {
	res, left, err := n.clean(ctx, o)
	if err != nil {
		return nil, err
	}
	pruned, errs := n.pruneUsers(ctx, left.jobs, left.recs, o.Retained, o.DryRun)
	for _, e := range errs {
		res.Failed = append(res.Failed, types.Failure{Name: "history", Error: e.Error()})
	}
	sort.Strings(pruned)
	res.Pruned = append(res.Pruned, pruned...)
	if len(pruned) > 0 {
		res.Message += fmt.Sprintf(", and %d finished builds beyond max_retained_builds=%d", len(pruned), o.Retained)
	}
	if o.DryRun {
		return res, nil
	}
	dropped, errs := n.tidy(ctx, left)
	for _, e := range errs {
		res.Failed = append(res.Failed, types.Failure{Name: "index", Error: e.Error()})
	}
	sort.Strings(dropped)
	res.Entries = append(res.Entries, dropped...)
	if len(dropped) > 0 {
		res.Message += fmt.Sprintf(", and %d index entries of builds that were never created", len(dropped))
	}
	return res, nil
}

// left is what clean's lists leave: the Jobs and records it did not
// delete (a dry run deletes none), and the users whose index it saw.
type left struct {
	jobs    []batchv1.Job
	recs    []Record
	indexes []string
}

// tidy drops from each index of l the entries of builds that are neither
// a Job nor a record of l (Index.Tidy). errs are the indexes that could
// not be written.
func (n Namespace) tidy(ctx context.Context, l left) (dropped []string, errs []error) {
	exists := map[string]bool{}
	for _, j := range l.jobs {
		exists[j.Name] = true
	}
	for _, r := range l.recs {
		exists[r.JobName] = true
	}
	for _, u := range l.indexes {
		d, err := n.Index(u).Tidy(ctx, func(job string) bool { return exists[job] })
		if err != nil {
			errs = append(errs, err)
		}
		dropped = append(dropped, d...)
	}
	return dropped, errs
}

// clean is Clean by age; it returns what it left.
func (n Namespace) clean(ctx context.Context, o CleanOptions) (*types.Cleaned, left, error) {
	selector := names.UserSelector(o.User)
	res := &types.Cleaned{Jobs: []string{}, ConfigMaps: []string{}, Records: []string{}, Pruned: []string{}, Entries: []string{}, DryRun: o.DryRun, Cutoff: o.Cutoff.UTC()}
	var l left
	live := map[string]bool{} // build ids whose Job stays
	bg := metav1.DeletePropagationBackground
	rec := n.recorder(ctx, o.User, o.Revision)
	now := time.Now()
	err := kube.ListPages(ctx, selector, o.Revision, func(opts metav1.ListOptions) (string, error) {
		list, err := n.Jobs.List(ctx, opts)
		if err != nil {
			return "", err
		}
		var doomed []*batchv1.Job
		for i := range list.Items {
			j := &list.Items[i]
			if !owned(j.ObjectMeta, o.User) {
				continue
			}
			if done, ok := FinishedAt(j); ok && done.Before(o.Cutoff) || abandoned(j, now) {
				doomed = append(doomed, j)
			} else {
				live[j.Labels[names.LabelBuildID]] = true
				l.jobs = append(l.jobs, *j)
			}
		}
		deleted, failed := deleteAll(ctx, doomed, o.DryRun, func(j *batchv1.Job) error {
			if !abandoned(j, now) {
				if err := rec.record(ctx, j); err != nil {
					return fmt.Errorf("storing its record first: %w", err)
				}
			}
			return n.Jobs.Delete(ctx, j.Name, metav1.DeleteOptions{
				PropagationPolicy: &bg,
				Preconditions:     &metav1.Preconditions{UID: &j.UID},
			})
		})
		for _, j := range deleted {
			res.Jobs = append(res.Jobs, j.Name)
			if o.DryRun {
				l.jobs = append(l.jobs, *j)
			}
		}
		for _, f := range failed {
			res.Failed = append(res.Failed, types.Failure{Name: "job/" + f.obj.Name, Error: f.err.Error()})
			live[f.obj.Labels[names.LabelBuildID]] = true
			l.jobs = append(l.jobs, *f.obj)
		}
		return list.Continue, nil
	})
	if err != nil {
		return nil, left{}, apperr.Upstream(err, "listing build Jobs")
	}
	// A context a Job owns goes with it, by the garbage collector, and
	// the builder may not delete it (deploy/admission.yaml); these are
	// the ones no Job owns (an older builder's, whose Job never came).
	// The list shows the records too (those just stored included), and
	// the users' indexes.
	err = kube.ListPages(ctx, selector, o.Revision, func(opts metav1.ListOptions) (string, error) {
		list, err := n.ConfigMaps.List(ctx, opts)
		if err != nil {
			return "", err
		}
		var orphans []*corev1.ConfigMap
		for i := range list.Items {
			cm := &list.Items[i]
			if !owned(cm.ObjectMeta, o.User) || cm.Name == names.BuildkitdConfigMap {
				continue
			}
			if cm.Labels[names.LabelIndex] == "true" {
				l.indexes = append(l.indexes, cm.Annotations[names.AnnotationUser])
				continue
			}
			// A record's log goes with its record, below.
			if cm.Labels[names.LabelBuildID] == "" || IsRecordLog(cm) {
				continue
			}
			if IsRecord(cm) {
				if expired(cm, o.RecordsCutoff) {
					orphans = append(orphans, cm)
				} else if r, ok := RecordOf(cm); ok {
					l.recs = append(l.recs, r)
				}
				continue
			}
			if live[cm.Labels[names.LabelBuildID]] || !cm.CreationTimestamp.Time.Before(o.Cutoff) || OwnedByJob(cm.ObjectMeta) {
				continue
			}
			orphans = append(orphans, cm)
		}
		deleted, failed := deleteAll(ctx, orphans, o.DryRun, func(cm *corev1.ConfigMap) error {
			if err := n.ConfigMaps.Delete(ctx, cm.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cm.UID}}); err != nil {
				return err
			}
			if r, ok := RecordOf(cm); ok {
				// Its log, kept apart; gone already is fine.
				if err := n.ConfigMaps.Delete(ctx, names.RecordLogName(r.JobName), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					return err
				}
			}
			return nil
		})
		for _, cm := range deleted {
			if IsRecord(cm) {
				res.Records = append(res.Records, cm.Name)
			} else {
				res.ConfigMaps = append(res.ConfigMaps, cm.Name)
			}
		}
		for _, f := range failed {
			res.Failed = append(res.Failed, types.Failure{Name: "configmap/" + f.obj.Name, Error: f.err.Error()})
		}
		// A record that stays (a dry run's, one whose deletion failed)
		// still counts.
		var stayed []*corev1.ConfigMap
		if o.DryRun {
			stayed = deleted
		}
		for _, f := range failed {
			stayed = append(stayed, f.obj)
		}
		for _, cm := range stayed {
			if r, ok := RecordOf(cm); ok {
				l.recs = append(l.recs, r)
			}
		}
		return list.Continue, nil
	})
	if err != nil {
		return nil, left{}, apperr.Upstream(err, "listing build ConfigMaps")
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
	return res, l, nil
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
		each(len(objs), workers, func(i int) {
			if errs[i] = ctx.Err(); errs[i] == nil {
				errs[i] = del(objs[i])
			}
		})
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
// never resumed, PendingGrace or more before now: its send stopped between
// the two (OpenWhisk killed it at its time limit, or its container died).
// It never ran, its deadline does not run while it is suspended, and it
// would hold its user's quota for ever. It leaves no record: there was no
// build. A younger one may be resuming now, and stays; so does one whose
// creation time is unknown.
func abandoned(j *batchv1.Job, now time.Time) bool {
	created := j.CreationTimestamp.Time
	return j.Spec.Suspend != nil && *j.Spec.Suspend && !created.IsZero() && created.Before(now.Add(-PendingGrace))
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
	if r, ok := RecordOf(cm); ok && r.Finished != nil {
		at = *r.Finished
	}
	return at.Before(cutoff)
}

// recorder stores the record of each Job Clean deletes. It reads the
// records and build pods of the user once, on the first Job it records,
// where recording each Job alone reads its record and lists its pods:
// two calls a Job less, for the thousands an alarm's run may delete.
type recorder struct {
	n    Namespace
	seen func() (seen, error)
}

// seen is what a recorder read: the Jobs recorded, and each Job's newest
// pod.
type seen struct {
	recorded map[string]bool
	pods     map[string]*corev1.Pod
}

func (n Namespace) recorder(ctx context.Context, user, rv string) recorder {
	return recorder{n: n, seen: sync.OnceValues(func() (seen, error) {
		s := seen{recorded: map[string]bool{}, pods: map[string]*corev1.Pod{}}
		recs, err := n.Records().List(ctx, user, rv)
		if err != nil {
			return seen{}, err
		}
		for _, r := range recs {
			s.recorded[r.JobName] = true
		}
		err = kube.ListPages(ctx, names.UserSelector(user), rv, func(opts metav1.ListOptions) (string, error) {
			list, err := n.Pods.List(ctx, opts)
			if err != nil {
				return "", err
			}
			for i := range list.Items {
				p := &list.Items[i]
				job := p.Labels[names.LabelJobName]
				if old, ok := s.pods[job]; !ok || old.CreationTimestamp.Before(&p.CreationTimestamp) {
					s.pods[job] = p
				}
			}
			return list.Continue, nil
		})
		if err != nil {
			return seen{}, apperr.Upstream(err, "listing build pods")
		}
		return s, nil
	})}
}

// record stores job's record unless it has one.
func (r recorder) record(ctx context.Context, job *batchv1.Job) error {
	s, err := r.seen()
	if err != nil || s.recorded[job.Name] {
		return err
	}
	_, err = recordWith(ctx, r.n.Pods, r.n.Records(), job, s.pods[job.Name])
	return err
}
