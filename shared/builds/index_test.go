package builds

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
)

const indexNS = "nuvolaris-builds"

// job is a Job of user's build id as send labels it, created at, finished
// at done unless it is zero.
func job(user, id string, at, done time.Time) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{
		Name: names.JobName(user, id), Namespace: indexNS, CreationTimestamp: metav1.Time{Time: at},
		Labels:      map[string]string{names.LabelManagedBy: names.ManagedBy, names.LabelUser: names.UserLabel(user), names.LabelBuildID: id},
		Annotations: map[string]string{names.AnnotationUser: user},
	}}
	if !done.IsZero() {
		j.Status.CompletionTime = &metav1.Time{Time: done}
		j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobComplete, "", done)}
	}
	return j
}

func indexOf(cs *fake.Clientset, user string) Index {
	return Index{Jobs: cs.BatchV1().Jobs(indexNS), Records: Records{ConfigMaps: cs.CoreV1().ConfigMaps(indexNS), Namespace: indexNS}, User: user}
}

func jobNames(jobs []batchv1.Job) []string {
	out := []string{}
	for _, j := range jobs {
		out = append(out, j.Name)
	}
	return out
}

func entryNames(entries []Entry) []string {
	out := []string{}
	for _, e := range entries {
		out = append(out, e.Job)
	}
	return out
}

func lists(cs *fake.Clientset) int {
	n := 0
	for _, a := range cs.Actions() {
		if a.GetVerb() == "list" {
			n++
		}
	}
	return n
}

func always(History) error { return nil }

// TestIndexRebuildsOnceThenReadsByName: the builds of an earlier version
// (no index) are found by label until a send stores the index; from then
// on a load lists nothing, and reads the Job of a running build and the
// record of one whose Job is gone.
func TestIndexRebuildsOnceThenReadsByName(t *testing.T) {
	ctx := context.Background()
	running := job("devel", "run", t0.Add(2*time.Minute), time.Time{})
	cs := fake.NewClientset(running, job("other", "x", t0, time.Time{}))
	x := indexOf(cs, "devel")
	fin := t0.Add(time.Minute)
	require.NoError(t, x.Records.Save(ctx, Record{Build: types.Build{ID: "old", JobName: names.JobName("devel", "old"), User: "devel", Status: types.Succeeded, Created: t0, Finished: &fin}, Log: "done\n"}))

	h, err := x.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{running.Name}, jobNames(h.Jobs))
	require.Len(t, h.Records, 1)
	assert.Equal(t, []string{names.JobName("devel", "old"), running.Name}, entryNames(h.live), "oldest first")
	assert.Equal(t, 2, lists(cs), "the rebuild lists the Jobs and the records")
	_, err = cs.CoreV1().ConfigMaps(indexNS).Get(ctx, names.IndexName("devel"), metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "a load stores nothing")

	// The next send stores it.
	require.NoError(t, x.Add(ctx, h, Entry{Job: "build-devel-new", Created: time.Now()}, nil, always))
	cs.ClearActions()
	h, err = x.Load(ctx)
	require.NoError(t, err)
	assert.Zero(t, lists(cs), "a stored index is read by name")
	assert.Equal(t, []string{running.Name}, jobNames(h.Jobs))
	require.Len(t, h.Records, 1)
	assert.Empty(t, h.Records[0].Log, "records without their logs")
	j, _, ok := h.Latest()
	require.True(t, ok)
	assert.Equal(t, running.Name, j.Name)
}

// TestIndexReadsOnlyTheUsersBuilds: an entry naming another user's Job or
// record (Job names cut long user names) finds nothing of theirs.
func TestIndexReadsOnlyTheUsersBuilds(t *testing.T) {
	ctx := context.Background()
	theirs := job("other", "x", t0, time.Time{})
	cs := fake.NewClientset(theirs)
	require.NoError(t, indexOf(cs, "other").Records.Save(ctx, Record{Build: types.Build{ID: "y", JobName: names.JobName("other", "y"), User: "other", Status: types.Failed, Created: t0}}))
	x := indexOf(cs, "devel")
	x.Now = func() time.Time { return t0.Add(time.Hour) }
	h, err := x.Load(ctx)
	require.NoError(t, err)
	// An index naming their builds, as a forged or cut name would.
	require.NoError(t, x.store(ctx, &h, []Entry{{Job: theirs.Name, Created: t0}, {Job: names.JobName("other", "y"), Created: t0}}))

	h, err = x.Load(ctx)
	require.NoError(t, err)
	assert.Empty(t, h.Jobs)
	assert.Empty(t, h.Records)
	assert.Empty(t, h.Pending)
	assert.Empty(t, h.live, "entries of builds that are not the user's are dropped")
}

// TestIndexPendingEntriesAge: an entry with neither Job nor record counts
// as a build being created for PendingGrace, then goes at the next write.
func TestIndexPendingEntriesAge(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	x := indexOf(cs, "devel")
	now := t0
	x.Now = func() time.Time { return now }
	h, err := x.Load(ctx)
	require.NoError(t, err)
	require.NoError(t, x.Add(ctx, h, Entry{Job: "build-devel-a", Created: t0}, nil, always))

	now = t0.Add(PendingGrace - time.Second)
	h, err = x.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"build-devel-a"}, entryNames(h.Pending))

	now = t0.Add(PendingGrace)
	h, err = x.Load(ctx)
	require.NoError(t, err)
	assert.Empty(t, h.Pending)
	require.NoError(t, x.Add(ctx, h, Entry{Job: "build-devel-b", Created: now}, nil, always))
	h, err = x.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"build-devel-b"}, entryNames(h.live), "the stale entry is gone")
}

// TestIndexAddChecksAgainAfterAConflict: a write that loses to another
// reads the index again and checks the history it now joins; an entry of
// the same Job is replaced; drop removes entries.
func TestIndexAddChecksAgainAfterAConflict(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	x := indexOf(cs, "devel")
	x.Now = func() time.Time { return t0 }
	h, err := x.Load(ctx)
	require.NoError(t, err)
	for _, id := range []string{"a", "b", "c"} {
		require.NoError(t, x.Add(ctx, h, Entry{Job: "build-devel-" + id, Created: t0}, nil, always))
		h, err = x.Load(ctx)
		require.NoError(t, err)
	}
	conflicts := 1
	cs.PrependReactor("update", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts == 0 {
			return false, nil, nil
		}
		conflicts--
		return true, nil, apierrors.NewConflict(corev1.Resource("configmaps"), names.IndexName("devel"), nil)
	})
	var seen [][]string
	check := func(h History) error {
		seen = append(seen, entryNames(h.Pending))
		return nil
	}
	require.NoError(t, x.Add(ctx, h, Entry{Job: "build-devel-b", Created: t0}, []string{"build-devel-c"}, check))
	assert.Len(t, seen, 2, "checked again after the conflict")
	h, err = x.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"build-devel-a", "build-devel-b"}, entryNames(h.live), "b entered again, last; c dropped")

	require.NoError(t, x.Remove(ctx, "build-devel-a", "build-devel-x"))
	h, err = x.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"build-devel-b"}, entryNames(h.live))

	require.NoError(t, x.Remove(ctx, "build-devel-b"))
	_, err = cs.CoreV1().ConfigMaps(indexNS).Get(ctx, names.IndexName("devel"), metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "an empty index goes")
}

// TestIndexDamagedIsRebuilt: an index that does not decode is rebuilt
// from the lists and replaced at the next write; a ConfigMap of that name
// that is not the user's index is an error, not overwritten.
func TestIndexDamagedIsRebuilt(t *testing.T) {
	ctx := context.Background()
	running := job("devel", "run", t0, time.Time{})
	damaged := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: names.IndexName("devel"), Namespace: indexNS,
		Labels: map[string]string{names.LabelIndex: "true"}, Annotations: map[string]string{names.AnnotationUser: "devel"}},
		Data: map[string]string{indexKey: "{not json"}}
	cs := fake.NewClientset(running, damaged)
	x := indexOf(cs, "devel")
	h, err := x.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{running.Name}, jobNames(h.Jobs))
	require.NoError(t, x.Add(ctx, h, Entry{Job: "build-devel-new", Created: time.Now()}, nil, always))
	cm, err := cs.CoreV1().ConfigMaps(indexNS).Get(ctx, damaged.Name, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, cm.Data[indexKey], running.Name, "replaced at the next write")

	forged := damaged.DeepCopy()
	forged.Name = names.IndexName("eve")
	_, err = cs.CoreV1().ConfigMaps(indexNS).Create(ctx, forged, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = indexOf(cs, "eve").Load(ctx)
	require.Error(t, err, "the annotation names devel")
	assert.Contains(t, err.Error(), "is not the build index of eve")
}

// TestIndexRemoveKeepsAConcurrentEntry: the last entry's removal deletes
// the index only as it was read (its resourceVersion): a send that
// entered its build between the read and the delete keeps its entry.
func TestIndexRemoveKeepsAConcurrentEntry(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	x := indexOf(cs, "devel")
	x.Now = func() time.Time { return t0 }
	h, err := x.Load(ctx)
	require.NoError(t, err)
	require.NoError(t, x.Add(ctx, h, Entry{Job: "build-devel-a", Created: t0}, nil, always))
	gvr := corev1.SchemeGroupVersion.WithResource("configmaps")
	stored := func() *corev1.ConfigMap {
		obj, err := cs.Tracker().Get(gvr, indexNS, names.IndexName("devel"))
		require.NoError(t, err)
		return obj.(*corev1.ConfigMap)
	}
	// The fake keeps no versions: give the index one, as the API server
	// would.
	cm := stored()
	cm.ResourceVersion = "1"
	require.NoError(t, cs.Tracker().Update(gvr, cm, indexNS))

	var preconditions []*metav1.Preconditions
	cs.PrependReactor("delete", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		opts := a.(k8stesting.DeleteActionImpl).DeleteOptions
		preconditions = append(preconditions, opts.Preconditions)
		if len(preconditions) == 1 {
			// Another send enters build b between Remove's read and its
			// delete.
			// (The tracker directly: the fake client holds its lock
			// while a reactor runs.)
			cm := stored()
			doc, err := json.Marshal(indexDoc{Builds: []Entry{{Job: "build-devel-a", Created: t0}, {Job: "build-devel-b", Created: t0}}})
			require.NoError(t, err)
			cm.Data[indexKey], cm.ResourceVersion = string(doc), "2"
			require.NoError(t, cs.Tracker().Update(gvr, cm, indexNS))
		}
		if p := opts.Preconditions; p != nil && p.ResourceVersion != nil && *p.ResourceVersion != stored().ResourceVersion {
			return true, nil, apierrors.NewConflict(corev1.Resource("configmaps"), names.IndexName("devel"), nil)
		}
		return false, nil, nil
	})
	require.NoError(t, x.Remove(ctx, "build-devel-a"))
	require.NotEmpty(t, preconditions)
	h, err = x.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"build-devel-b"}, entryNames(h.live), "the concurrent entry stays; a is gone")
}

// TestIndexTidyDropsEntriesOfBuildsNeverCreated: an entry whose build has
// neither a Job nor a record PendingGrace after it was entered goes; one
// younger, or with a Job, stays; an index left empty goes. Tidy reads the
// index alone: whether a build exists is the caller's answer.
func TestIndexTidyDropsEntriesOfBuildsNeverCreated(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(time.Hour)
	cs := fake.NewClientset(job("devel", "a", t0, time.Time{}))
	x := indexOf(cs, "devel")
	x.Now = func() time.Time { return now }
	// As the index stands after a send stopped: Add itself would drop
	// the stale entry as it writes.
	require.NoError(t, x.store(ctx, &History{}, []Entry{
		{Job: names.JobName("devel", "a"), Created: t0},
		{Job: names.JobName("devel", "stale"), Created: now.Add(-PendingGrace - time.Second)},
		{Job: names.JobName("devel", "fresh"), Created: now.Add(-time.Second)},
	}))
	exists := func(job string) bool { return job == names.JobName("devel", "a") }
	cs.ClearActions()
	dropped, err := x.Tidy(ctx, exists)
	require.NoError(t, err)
	for _, a := range cs.Actions() {
		assert.Equal(t, "configmaps", a.GetResource().Resource, "the index alone: %s %s", a.GetVerb(), a.GetResource().Resource)
	}
	assert.Equal(t, []string{names.JobName("devel", "stale")}, dropped)
	cm, err := cs.CoreV1().ConfigMaps(indexNS).Get(ctx, names.IndexName("devel"), metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotContains(t, cm.Data[indexKey], "stale")
	assert.Contains(t, cm.Data[indexKey], "fresh")

	dropped, err = x.Tidy(ctx, exists)
	require.NoError(t, err)
	assert.Empty(t, dropped, "nothing more to drop")

	lonely := indexOf(fake.NewClientset(), "solo")
	lonely.Now = x.Now
	require.NoError(t, lonely.store(ctx, &History{}, []Entry{{Job: names.JobName("solo", "gone"), Created: t0}}))
	dropped, err = lonely.Tidy(ctx, func(string) bool { return false })
	require.NoError(t, err)
	assert.Equal(t, []string{names.JobName("solo", "gone")}, dropped)
	_, err = lonely.Records.ConfigMaps.Get(ctx, names.IndexName("solo"), metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "an index left empty goes")
}
