package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
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

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/shared/types"
)

// recordCM is the stored record of a build of user whose Job is gone.
func recordCM(t *testing.T, user, id string, created time.Time, status string) *corev1.ConfigMap {
	t.Helper()
	fin := created.Add(time.Minute)
	d := 60.0
	r := builds.Record{Build: types.Build{ID: id, JobName: names.JobName(user, id), User: user, Target: user + ":v1", Image: "reg/" + user + ":v1",
		Status: status, Created: created, Finished: &fin, DurationS: &d, Digest: "sha256:" + strings.Repeat("a", 64)},
		Log: "line 1\nline 2\n#9 pushing manifest\n"}
	cm, err := r.ConfigMap(buildNS)
	require.NoError(t, err)
	// As records were stored before their logs were kept apart: Get
	// still reads those.
	cm.Data["log"] = r.Log
	return cm
}

func buildsOf(t *testing.T, cs *fake.Clientset, caller identity.Caller, p params.Params) (*types.BuildPage, error) {
	res, err := listBuilds(context.Background(), invocation(t, cs, caller, p))
	if err != nil {
		return nil, err
	}
	return res.(*types.BuildPage), nil
}

func ids(bs []types.Build) []string {
	out := []string{}
	for _, b := range bs {
		out = append(out, b.ID)
	}
	return out
}

// TestBuildsListsEachBuildOnceNewestFirst: live Jobs and records, merged;
// a finished Job without a record gets one; another user's builds are not
// listed; an admin sees everyone's, or one user's.
func TestBuildsListsEachBuildOnceNewestFirst(t *testing.T) {
	recorded := builderJob("build-devel-rec", "devel", t0.Add(2*time.Hour), cond(batchv1.JobComplete, "", t0.Add(3*time.Hour)))
	cs := fake.NewClientset(
		builderJob("build-devel-run", "devel", t0.Add(5*time.Hour)),
		builderJob("build-devel-fin", "devel", t0.Add(4*time.Hour), cond(batchv1.JobFailed, "DeadlineExceeded", t0.Add(5*time.Hour))),
		recorded,
		recordCM(t, "devel", "rec", t0.Add(2*time.Hour), types.Succeeded), // its record
		recordCM(t, "devel", "old", t0, types.Succeeded),                  // the Job is gone
		builderJob("build-other-zzz", "other", t0.Add(6*time.Hour)),
		recordCM(t, "other", "ooo", t0.Add(time.Hour), types.Failed),
	)
	page, err := buildsOf(t, cs, devel, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"run", "fin", "rec", "old"}, ids(page.Builds))
	assert.Empty(t, page.Next)
	byID := map[string]types.Build{}
	for _, b := range page.Builds {
		byID[b.ID] = b
	}
	assert.Equal(t, types.Pending, byID["run"].Status)
	assert.Equal(t, types.Failed, byID["fin"].Status)
	assert.Equal(t, "DeadlineExceeded", byID["fin"].Reason)
	assert.Equal(t, "sha256:"+strings.Repeat("a", 64), byID["rec"].Digest, "what the record knows")
	require.NotNil(t, byID["old"].DurationS)
	assert.Equal(t, 60.0, *byID["old"].DurationS)

	// Seen finished, build-devel-fin got its record.
	_, ok, err := builds.Records{ConfigMaps: cs.CoreV1().ConfigMaps(buildNS), Namespace: buildNS}.Get(context.Background(), "build-devel-fin")
	require.NoError(t, err)
	assert.True(t, ok)

	admin := identity.Caller{Name: "nuvolaris", Admin: true}
	page, err = buildsOf(t, cs, admin, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"zzz", "run", "fin", "rec", "ooo", "old"}, ids(page.Builds))
	page, err = buildsOf(t, cs, admin, params.Params{"user": "other"})
	require.NoError(t, err)
	assert.Equal(t, []string{"zzz", "ooo"}, ids(page.Builds))

	_, err = buildsOf(t, cs, devel, params.Params{"user": "other"})
	assert.Equal(t, http.StatusForbidden, apperr.Status(err))
	for _, bad := range []params.Params{{"limit": 0}, {"limit": 101}, {"next": "not-a-cursor"}} {
		_, err = buildsOf(t, cs, devel, bad)
		assert.Equal(t, http.StatusBadRequest, apperr.Status(err), "%v", bad)
	}
}

// TestBuildsPages: pages of limit cover every build once, in order, also
// when builds share a creation second.
func TestBuildsPages(t *testing.T) {
	var objs []runtime.Object
	var want []string
	for i := 0; i < 25; i++ {
		id := fmt.Sprintf("b%02d", i)
		created := t0.Add(time.Duration(i/3) * time.Second) // three a second
		if i%2 == 0 {
			objs = append(objs, builderJob(names.JobName("devel", id), "devel", created))
		} else {
			objs = append(objs, recordCM(t, "devel", id, created, types.Succeeded))
		}
	}
	for i := 24; i >= 0; i-- {
		want = append(want, fmt.Sprintf("b%02d", i))
	}
	cs := fake.NewClientset(objs...)
	var got []string
	next := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		p := params.Params{"limit": 7}
		if next != "" {
			p["next"] = next
		}
		page, err := buildsOf(t, cs, devel, p)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(page.Builds), 7)
		got = append(got, ids(page.Builds)...)
		if next = page.Next; next == "" {
			break
		}
	}
	assert.Equal(t, want, got)
	page, err := buildsOf(t, cs, devel, nil)
	require.NoError(t, err)
	assert.Len(t, page.Builds, DefaultLimit, "20 by default")
}

// TestLogsAnswersFromTheRecord: once the Job is gone, logs reads the
// record: status, digest, timings and the end of the log.
func TestLogsAnswersFromTheRecord(t *testing.T) {
	cs := fake.NewClientset(recordCM(t, "devel", "old", t0, types.Succeeded), recordCM(t, "other", "ooo", t0, types.Succeeded))
	res, err := logs(context.Background(), invocation(t, cs, devel, params.Params{"job_name": "build-devel-old", "tail": 1}))
	require.NoError(t, err)
	s := res.(*types.Status)
	assert.Equal(t, types.Succeeded, s.Status)
	assert.Equal(t, "sha256:"+strings.Repeat("a", 64), s.Digest)
	assert.Equal(t, "#9 pushing manifest\n", s.Logs, "the last line")
	require.NotNil(t, s.Finished)
	assert.Contains(t, s.Message, "record")

	res, err = logs(context.Background(), invocation(t, cs, devel, params.Params{"id": "old"}))
	require.NoError(t, err)
	assert.Equal(t, "build-devel-old", res.(*types.Status).JobName, "by id")
	res, err = logs(context.Background(), invocation(t, cs, devel, nil))
	require.NoError(t, err)
	assert.Equal(t, "build-devel-old", res.(*types.Status).JobName, "the latest is a record")

	_, err = logs(context.Background(), invocation(t, cs, devel, params.Params{"job_name": "build-other-ooo"}))
	assert.Equal(t, http.StatusForbidden, apperr.Status(err))
	_, err = logs(context.Background(), invocation(t, cs, devel, params.Params{"job_name": "build-devel-nope"}))
	assert.Equal(t, http.StatusNotFound, apperr.Status(err))
}

// TestLogsRecordsAFinishedBuild: logs that sees a build finished stores its
// record, which then outlives the Job.
func TestLogsRecordsAFinishedBuild(t *testing.T) {
	job := builderJob("build-devel-fin", "devel", t0, cond(batchv1.JobComplete, "", t0.Add(time.Minute)))
	cs := fake.NewClientset(job, testPod("build-devel-fin", "Succeeded"))
	_, err := logs(context.Background(), invocation(t, cs, devel, params.Params{"job_name": "build-devel-fin"}))
	require.NoError(t, err)
	rec, ok, err := builds.Records{ConfigMaps: cs.CoreV1().ConfigMaps(buildNS), Namespace: buildNS}.Get(context.Background(), "build-devel-fin")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, types.Succeeded, rec.Status)
	assert.Equal(t, "==> fetch\nfake logs\n==> build\nfake logs\n==> push\nfake logs\n", rec.Log, "every step's log, in order")
	require.NoError(t, cs.BatchV1().Jobs(buildNS).Delete(context.Background(), "build-devel-fin", metav1.DeleteOptions{}))
	res, err := logs(context.Background(), invocation(t, cs, devel, params.Params{"job_name": "build-devel-fin"}))
	require.NoError(t, err)
	assert.Equal(t, types.Succeeded, res.(*types.Status).Status)
}

// TestCancel: a running build's Job and pod go and it is recorded as
// cancelled; finished is 409, someone else's 403, unknown 404.
func TestCancel(t *testing.T) {
	running := builderJob("build-devel-run", "devel", t0)
	cs := fake.NewClientset(running, testPod("build-devel-run", "Running"),
		builderJob("build-devel-fin", "devel", t0, cond(batchv1.JobComplete, "", t0)),
		builderJob("build-other-zzz", "other", t0),
		recordCM(t, "devel", "old", t0, types.Succeeded))
	res, err := cancel(context.Background(), invocation(t, cs, devel, params.Params{"id": "run"}))
	require.NoError(t, err)
	assert.Equal(t, types.Cancelled, res.(types.Stopped).Status)
	_, err = cs.BatchV1().Jobs(buildNS).Get(context.Background(), "build-devel-run", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the Job is gone: %v", err)
	pods, err := cs.CoreV1().Pods(buildNS).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, pods.Items, "the pod is gone")
	var graced bool
	for _, a := range cs.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && a.GetResource().Resource == "pods" {
			graced = *d.GetDeleteOptions().GracePeriodSeconds == 1
		}
	}
	assert.True(t, graced, "pods are deleted with a grace period, never forced")
	page, err := buildsOf(t, cs, devel, nil)
	require.NoError(t, err)
	var cancelled *types.Build
	for i, b := range page.Builds {
		if b.ID == "run" {
			cancelled = &page.Builds[i]
		}
	}
	require.NotNil(t, cancelled, "the cancelled build is listed, from its record")
	assert.Equal(t, types.Cancelled, cancelled.Status)
	assert.Contains(t, cancelled.Reason, "cancelled by devel")

	for _, tt := range []struct {
		p      params.Params
		caller identity.Caller
		status int
	}{
		{params.Params{"job_name": "build-devel-fin"}, devel, 409},
		{params.Params{"id": "old"}, devel, 409},
		{params.Params{"id": "run"}, devel, 409},
		{params.Params{"job_name": "build-other-zzz"}, devel, 403},
		{params.Params{"id": "nope"}, devel, 404},
		{nil, devel, 400},
	} {
		_, err := cancel(context.Background(), invocation(t, cs, tt.caller, tt.p))
		assert.Equal(t, tt.status, apperr.Status(err), "%v: %v", tt.p, err)
	}
	_, err = cancel(context.Background(), invocation(t, cs, identity.Caller{Name: "nuvolaris", Admin: true}, params.Params{"id": "zzz"}))
	assert.NoError(t, err, "an admin cancels anyone's, by id")
}

// TestBuildNamesAreCheckedFirst: a job_name, id or user that is not one is
// 400 before anything reaches the cluster.
func TestBuildNamesAreCheckedFirst(t *testing.T) {
	admin := identity.Caller{Name: "nuvolaris", Admin: true}
	for _, tt := range []struct {
		run    func(context.Context, *action.Invocation) (any, error)
		caller identity.Caller
		p      params.Params
	}{
		{logs, devel, params.Params{"job_name": "../build-other-abc"}},
		{logs, devel, params.Params{"job_name": "Build-devel-ABC"}},
		{logs, devel, params.Params{"id": "abc/../x"}},
		{logs, devel, params.Params{"id": strings.Repeat("a", 33)}},
		{cancel, devel, params.Params{"job_name": "build devel"}},
		{cancel, admin, params.Params{"id": "x,builder.openserverless.apache.org/user=alice"}},
		{cancel, devel, params.Params{"id": "0123456789", "job_name": "a/b"}},
		{listBuilds, admin, params.Params{"user": "alice,app=x"}},
		{listBuilds, admin, params.Params{"user": "Alice"}},
	} {
		cs := fake.NewClientset(builderJob("build-devel-abc", "devel", t0))
		_, err := tt.run(context.Background(), invocation(t, cs, tt.caller, tt.p))
		assert.Equal(t, http.StatusBadRequest, apperr.Status(err), "%v: %v", tt.p, err)
		assert.Empty(t, cs.Actions(), "%v reaches no server", tt.p)
	}
}
