package builds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/names"
)

// Each user's builds are named in one ConfigMap of the build namespace,
// their index (names.IndexName), so that send, builds and logs read a
// user's builds by name: a GET costs the same whatever the namespace
// holds, where a list by label filters every object of the resource in
// the namespace (BENCHMARKS.md, "a user's call among other tenants").
// send enters a build before it creates its Job, with optimistic
// concurrency, which also orders one user's concurrent sends for the
// build limit (docs/contract.md, "Fair use").

// Entry is one build in its user's index.
type Entry struct {
	Job     string    `json:"job"`
	Created time.Time `json:"created"`
}

// indexDoc is what the index ConfigMap holds under indexKey.
type indexDoc struct {
	Builds []Entry `json:"builds"`
}

const (
	indexKey = "builds.json"
	// PendingGrace is how long an entry whose build has neither a Job nor
	// a record counts as a build that a send is creating: send enters a
	// build, waits for the cache lookup and creates the Job, in well
	// under a second. After it, such an entry is dropped at the next
	// write (the send failed before undoing it, or its build was deleted
	// without a record).
	PendingGrace = time.Minute
	// indexReaders is how many of the entries' objects are read at once.
	indexReaders = 16
	// writeAttempts bounds the retries of a write that met a concurrent one.
	writeAttempts = 10
)

// Index reads and writes the index of one user.
type Index struct {
	Jobs    kube.Jobs
	Records Records
	User    string
	// Now is the clock that ages pending entries; nil is time.Now.
	Now func() time.Time
}

// History is a user's builds as their index names them.
type History struct {
	// Jobs are the builds whose Job exists.
	Jobs []batchv1.Job
	// Records are the records of the builds whose Job is finished or gone,
	// without their logs.
	Records []Record
	// Pending are the entries, written less than PendingGrace ago, of
	// builds with neither a Job nor a record: builds a send is creating.
	Pending []Entry
	// live are the entries worth keeping, oldest first: those of Jobs,
	// records and Pending.
	live []Entry
	// stored says whether the index exists, and version is the
	// resourceVersion it was read at.
	stored  bool
	version string
}

// Latest is the newest build of h: its Job while it exists, else its
// record (without its log); ok is false when h has none.
func (h History) Latest() (job *batchv1.Job, rec Record, ok bool) {
	all := Merge(h.Jobs, h.Records)
	if len(all) == 0 {
		return nil, Record{}, false
	}
	newest := all[0].JobName
	for i := range h.Jobs {
		if h.Jobs[i].Name == newest {
			return &h.Jobs[i], Record{}, true
		}
	}
	for _, r := range h.Records {
		if r.JobName == newest {
			return nil, r, true
		}
	}
	return nil, Record{}, false
}

// Load reads the index and, by name, the Job or record of each build it
// names. For a user without an index, it lists their builds by label
// (rebuild).
func (x Index) Load(ctx context.Context) (History, error) {
	cm, entries, err := x.get(ctx)
	switch {
	case errors.Is(err, errDamaged):
		// The lists say what it should hold, and the next write replaces
		// it.
		return x.rebuild(ctx, cm)
	case err != nil:
		return History{}, err
	case cm == nil:
		return x.rebuild(ctx, nil)
	}
	h, err := x.read(ctx, entries)
	h.stored, h.version = true, cm.ResourceVersion
	return h, err
}

// errDamaged is get's answer for an index whose entries do not decode.
var errDamaged = errors.New("the build index does not decode")

// get reads the index as stored, and its entries: cm is nil when there is
// none.
func (x Index) get(ctx context.Context) (cm *corev1.ConfigMap, entries []Entry, err error) {
	cm, err = x.Records.ConfigMaps.Get(ctx, names.IndexName(x.User), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, apperr.Upstream(err, "reading the build index of %s", x.User)
	}
	if cm.Annotations[names.AnnotationUser] != x.User || cm.Labels[names.LabelIndex] != "true" {
		return nil, nil, apperr.New(http.StatusInternalServerError, "ConfigMap %s is not the build index of %s: remove it, and the next call rebuilds it", cm.Name, x.User)
	}
	var doc indexDoc
	if err := json.Unmarshal([]byte(cm.Data[indexKey]), &doc); err != nil {
		return cm, nil, errDamaged
	}
	return cm, doc.Builds, nil
}

// found is what read finds of one entry.
type found struct {
	job *batchv1.Job
	rec *Record
	err error
}

// read reads the objects of entries by name, indexReaders at a time.
func (x Index) read(ctx context.Context, entries []Entry) (History, error) {
	res := make([]found, len(entries))
	each(len(entries), indexReaders, func(i int) { res[i] = x.readOne(ctx, entries[i].Job) })
	now := x.now()
	var h History
	for i, e := range entries {
		f := res[i]
		if f.err != nil {
			return History{}, f.err
		}
		if f.job != nil {
			h.Jobs = append(h.Jobs, *f.job)
		}
		if f.rec != nil {
			h.Records = append(h.Records, *f.rec)
		}
		if f.job == nil && f.rec == nil {
			if now.Sub(e.Created) >= PendingGrace {
				continue
			}
			h.Pending = append(h.Pending, e)
		}
		h.live = append(h.live, e)
	}
	return h, nil
}

// readOne reads the Job of the build named name and, once it has
// finished or is gone, its record: only the user's. Both from the API
// server's watch cache (resourceVersion=0: a map lookup, where a
// consistent read goes to etcd), at most the cache's delay behind, which
// the limit tolerates: a Job not seen yet is an entry being created, and
// counts; one seen unfinished a moment after it finished counts too.
// The index itself is read consistently: its writes are the order.
func (x Index) readOne(ctx context.Context, name string) found {
	cached := metav1.GetOptions{ResourceVersion: kube.Cached}
	job, err := x.Jobs.Get(ctx, name, cached)
	switch {
	case apierrors.IsNotFound(err):
		job = nil
	case err != nil:
		return found{err: apperr.Upstream(err, "reading build %s", name)}
	case job.Labels[names.LabelManagedBy] != names.ManagedBy || job.Annotations[names.AnnotationUser] != x.User:
		job = nil
	}
	if job != nil {
		if _, done := FinishedAt(job); !done {
			return found{job: job}
		}
	}
	rec, ok, err := x.Records.summary(ctx, name, cached)
	if err != nil {
		return found{err: err}
	}
	if !ok || rec.User != x.User {
		return found{job: job}
	}
	return found{job: job, rec: &rec}
}

// rebuild makes the history from the lists of the user's Jobs and
// records (by label, from the watch cache), for a user without an index
// (their builds predate it, or all of them are gone): the next Add stores
// it. damaged is an unreadable index that Add replaces (nil: there is
// none). A read stores nothing, so a refused send leaves nothing behind.
func (x Index) rebuild(ctx context.Context, damaged *corev1.ConfigMap) (History, error) {
	jobs, err := UserJobs(ctx, x.Jobs, x.User, kube.Cached)
	if err != nil {
		return History{}, err
	}
	recs, err := x.Records.List(ctx, x.User, kube.Cached)
	if err != nil {
		return History{}, err
	}
	created := map[string]time.Time{}
	for _, j := range jobs {
		created[j.Name] = j.CreationTimestamp.Time
	}
	for _, r := range recs {
		if _, ok := created[r.JobName]; !ok {
			created[r.JobName] = r.Created
		}
	}
	entries := make([]Entry, 0, len(created))
	for name, at := range created {
		entries = append(entries, Entry{Job: name, Created: at.UTC()})
	}
	sort.Slice(entries, func(a, b int) bool {
		return Newer(entries[b].Created, entries[b].Job, entries[a].Created, entries[a].Job)
	})
	h := History{Jobs: jobs, Records: recs, live: entries}
	if damaged != nil {
		h.stored, h.version = true, damaged.ResourceVersion
	}
	return h, nil
}

// Add enters e last in the index, replacing an entry of the same Job, and
// drops the entries of drop and of builds that are gone. check decides
// on the history e joins, h first: when another write came first, the
// history is loaded and checked again, so one user's concurrent Adds are
// decided in the order the index stores them.
func (x Index) Add(ctx context.Context, h History, e Entry, drop []string, check func(History) error) error {
	drop = append(slices.Clip(drop), e.Job)
	for attempt := 1; ; attempt++ {
		if err := check(h); err != nil {
			return err
		}
		err := x.store(ctx, &h, append(without(h.live, drop), e))
		if err == nil {
			return nil
		}
		if !conflict(err) || attempt == writeAttempts {
			return apperr.Upstream(err, "entering build %s in the build index of %s", e.Job, x.User)
		}
		if h, err = x.Load(ctx); err != nil {
			return err
		}
	}
}

// Remove drops the entries of jobNames from the index, if it has them,
// and deletes an index left empty, so that a send that failed leaves
// nothing. It reads the index alone, not the builds it names. It runs to
// the end even when ctx is cancelled, like DeleteJob.
func (x Index) Remove(ctx context.Context, jobNames ...string) error {
	ctx = context.WithoutCancel(ctx)
	for attempt := 1; ; attempt++ {
		cm, entries, err := x.get(ctx)
		if cm == nil || errors.Is(err, errDamaged) {
			// It names nothing to remove.
			return nil
		}
		if err != nil {
			return err
		}
		keep := without(entries, jobNames)
		if len(keep) == len(entries) {
			return nil
		}
		err = x.replace(ctx, cm, keep)
		if err == nil {
			return nil
		}
		if !conflict(err) || attempt == writeAttempts {
			return apperr.Upstream(err, "removing builds from the build index of %s", x.User)
		}
	}
}

// Tidy drops the entries of builds that exists says are neither a Job
// nor a record, PendingGrace after they were entered (a send that stopped
// before it could take its entry back), and deletes an index left empty.
// exists answers from lists the caller made (Namespace.Clean): Tidy reads
// the index alone, not the builds it names. It returns the Job names
// dropped, and runs to the end even when ctx is cancelled, like Remove.
func (x Index) Tidy(ctx context.Context, exists func(jobName string) bool) ([]string, error) {
	ctx = context.WithoutCancel(ctx)
	for attempt := 1; ; attempt++ {
		cm, entries, err := x.get(ctx)
		if cm == nil || errors.Is(err, errDamaged) {
			return nil, nil // a damaged index is rebuilt at its next load
		}
		if err != nil {
			return nil, err
		}
		now := x.now()
		var keep []Entry
		var dropped []string
		for _, e := range entries {
			if exists(e.Job) || now.Sub(e.Created) < PendingGrace {
				keep = append(keep, e)
			} else {
				dropped = append(dropped, e.Job)
			}
		}
		if len(dropped) == 0 {
			return nil, nil
		}
		err = x.replace(ctx, cm, keep)
		if err == nil {
			return dropped, nil
		}
		if !conflict(err) || attempt == writeAttempts {
			return nil, apperr.Upstream(err, "tidying the build index of %s", x.User)
		}
	}
}

// replace writes keep as the index cm was read as, or deletes it when keep
// is empty: only as it was read (its resourceVersion), so that a
// concurrent Add's entry stays; a conflict says to read it again.
func (x Index) replace(ctx context.Context, cm *corev1.ConfigMap, keep []Entry) error {
	h := History{stored: true, version: cm.ResourceVersion}
	if len(keep) > 0 {
		return x.store(ctx, &h, keep)
	}
	opts := metav1.DeleteOptions{}
	if h.version != "" {
		opts.Preconditions = &metav1.Preconditions{ResourceVersion: &h.version}
	}
	err := x.Records.ConfigMaps.Delete(ctx, cm.Name, opts)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// store writes entries as the index: an update of the version h read, or
// the index's creation when h read none. A concurrent write makes it
// fail with a conflict (or, for a creation, already exists).
func (x Index) store(ctx context.Context, h *History, entries []Entry) error {
	data, err := json.Marshal(indexDoc{Builds: entries})
	if err != nil {
		return fmt.Errorf("encoding the build index of %s: %w", x.User, err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      names.IndexName(x.User),
			Namespace: x.Records.Namespace,
			Labels: map[string]string{
				names.LabelManagedBy: names.ManagedBy,
				names.LabelUser:      names.UserLabel(x.User),
				names.LabelIndex:     "true",
			},
			Annotations:     map[string]string{names.AnnotationUser: x.User},
			ResourceVersion: h.version,
		},
		Data: map[string]string{indexKey: string(data)},
	}
	var stored *corev1.ConfigMap
	if !h.stored {
		stored, err = x.Records.ConfigMaps.Create(ctx, cm, metav1.CreateOptions{})
	} else {
		stored, err = x.Records.ConfigMaps.Update(ctx, cm, metav1.UpdateOptions{})
	}
	if err != nil {
		return err
	}
	h.stored, h.version, h.live = true, stored.ResourceVersion, entries
	return nil
}

// conflict reports whether err is a write that lost to a concurrent one.
func conflict(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)
}

// without is entries less those of jobNames, in a new slice.
func without(entries []Entry, jobNames []string) []Entry {
	out := make([]Entry, 0, len(entries)+1)
	for _, e := range entries {
		if !slices.Contains(jobNames, e.Job) {
			out = append(out, e)
		}
	}
	return out
}

func (x Index) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}
