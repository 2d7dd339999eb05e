package builds

import (
	"context"
	"fmt"
	"io"
	"log"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
)

// finished is a builder Job of user that completed ago.
func finished(name, user string, ago time.Duration) batchv1.Job {
	at := metav1.NewTime(time.Now().Add(-ago))
	return batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "nuvolaris",
			Labels:      map[string]string{names.LabelManagedBy: names.ManagedBy, names.LabelUser: user, names.LabelBuildID: name},
			Annotations: map[string]string{names.AnnotationUser: user}},
		Status: batchv1.JobStatus{CompletionTime: &at, Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: at}}},
	}
}

// pagedJobs serves a job list in pages of two, as a real API server does
// with limit and continue.
type pagedJobs struct {
	kube.Jobs // the other verbs: not called
	jobs      []batchv1.Job
	calls     []metav1.ListOptions
}

func (p *pagedJobs) List(_ context.Context, o metav1.ListOptions) (*batchv1.JobList, error) {
	p.calls = append(p.calls, o)
	start := 0
	if o.Continue != "" {
		start = int(o.Continue[0] - '0')
	}
	end := min(start+2, len(p.jobs))
	l := &batchv1.JobList{Items: p.jobs[start:end]}
	if end < len(p.jobs) {
		l.Continue = string(rune('0' + end))
	}
	return l, nil
}

func (p *pagedJobs) Delete(context.Context, string, metav1.DeleteOptions) error { return nil }

// pagedNamespace cleans p, with fake ConfigMaps and Pods.
func pagedNamespace(p *pagedJobs) Namespace {
	cs := fake.NewClientset()
	return Namespace{Name: "nuvolaris", Jobs: p, ConfigMaps: cs.CoreV1().ConfigMaps("nuvolaris"), Pods: cs.CoreV1().Pods("nuvolaris"), Log: log.New(io.Discard, "", 0)}
}

func TestCleanFollowsPages(t *testing.T) {
	p := &pagedJobs{}
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		p.jobs = append(p.jobs, finished(n, "devel", 48*time.Hour))
	}
	res, _, err := pagedNamespace(p).clean(context.Background(), CleanOptions{Cutoff: time.Now().Add(-24 * time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c", "d", "e"}, res.Jobs)
	require.Len(t, p.calls, 3)
	for _, c := range p.calls {
		assert.Equal(t, int64(kube.PageSize), c.Limit)
	}
	assert.Equal(t, "4", p.calls[2].Continue)
}

// TestCleanRemovesAbandonedSuspendedBuilds: a Job send created suspended
// and never resumed goes once older than PendingGrace, whatever the
// cutoff, with no record; a fresh one stays (its send may be admitting it
// now).
func TestCleanRemovesAbandonedSuspendedBuilds(t *testing.T) {
	suspended := func(name string, age time.Duration) batchv1.Job {
		j := finished(name, "devel", age)
		j.Status = batchv1.JobStatus{}
		j.Spec.Suspend = ptr(true)
		j.CreationTimestamp = metav1.NewTime(time.Now().Add(-age))
		return j
	}
	p := &pagedJobs{jobs: []batchv1.Job{suspended("old", PendingGrace+time.Minute), suspended("fresh", 10*time.Second)}}
	n := pagedNamespace(p)
	res, _, err := n.clean(context.Background(), CleanOptions{Cutoff: time.Now().Add(-24 * time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, []string{"old"}, res.Jobs, "abandoned a few minutes ago, long before the 24 h cutoff")
	recs, err := n.Records().List(context.Background(), "", "")
	require.NoError(t, err)
	assert.Empty(t, recs, "a build that never ran leaves no record")
}

func ptr[T any](v T) *T { return &v }

// TestCleanRecordsWithTwoListsNotTwoCallsAJob: Clean reads the records
// and build pods once, whatever the number of Jobs it deletes, and lists
// the Jobs and ConfigMaps once for all its steps; a Job recorded already
// keeps its record, and one without a pod gets a record without a log.
func TestCleanRecordsWithTwoListsNotTwoCallsAJob(t *testing.T) {
	ctx := context.Background()
	var objs []runtime.Object
	for i := range 6 {
		j := finished(fmt.Sprintf("build-devel-%d", i), "devel", 48*time.Hour)
		j.Namespace = indexNS
		objs = append(objs, &j)
	}
	cs := fake.NewClientset(objs...)
	n := fakeNamespace(cs)
	seen := job("devel", "x", t0, t0)
	seen.Name = "build-devel-0"
	require.NoError(t, n.Records().Save(ctx, Record{Build: FromJob(seen), Log: "kept\n"}))
	cs.ClearActions()

	res, err := n.Clean(ctx, CleanOptions{Cutoff: time.Now().Add(-24 * time.Hour), Retained: 20})
	require.NoError(t, err)
	assert.Len(t, res.Jobs, 6)
	count := map[string]int{}
	for _, a := range cs.Actions() {
		count[a.GetVerb()+" "+a.GetResource().Resource]++
	}
	assert.Equal(t, 0, count["get configmaps"], "no record read one by one")
	assert.Equal(t, 1, count["list pods"], "the pods listed once")
	assert.Equal(t, 1, count["list jobs"], "the Jobs listed once: the history bound works from that list")
	assert.Equal(t, 2, count["list configmaps"], "the records the recorder lists, then every ConfigMap once")
	assert.Equal(t, 5, count["create configmaps"], "a record for each of the 5 unrecorded, no empty log")
	rec, ok, err := n.Records().Get(ctx, "build-devel-0")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "kept\n", rec.Log, "a record that exists is kept")
	rec, ok, err = n.Records().Get(ctx, "build-devel-3")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, types.Succeeded, rec.Status)
	assert.Empty(t, rec.Log)
}
