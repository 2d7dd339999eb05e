package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/shared/types"
)

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func builderJob(name, user string, created time.Time, conds ...batchv1.JobCondition) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: buildNS, CreationTimestamp: metav1.NewTime(created),
			Labels:      map[string]string{names.LabelManagedBy: names.ManagedBy, names.LabelUser: names.UserLabel(user), names.LabelBuildID: name[len(name)-3:]},
			Annotations: map[string]string{names.AnnotationUser: user, names.AnnotationImage: "reg/" + user + ":v1"},
		},
		Status: batchv1.JobStatus{Conditions: conds},
	}
}

// testPod is a build pod of job with the steps the builder's Jobs have.
func testPod(job string, phase corev1.PodPhase) *corev1.Pod {
	always := corev1.ContainerRestartPolicyAlways
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: job + "-x", Namespace: buildNS, Labels: map[string]string{"batch.kubernetes.io/job-name": job}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: names.StepFetch}, {Name: names.StepDaemon, RestartPolicy: &always}, {Name: names.StepBuild}},
			Containers:     []corev1.Container{{Name: names.StepPush}},
		},
		Status: corev1.PodStatus{Phase: phase},
	}
}

func cond(typ batchv1.JobConditionType, reason string, at time.Time) batchv1.JobCondition {
	return batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reason, LastTransitionTime: metav1.NewTime(at)}
}

func falseCond(typ batchv1.JobConditionType) batchv1.JobCondition {
	c := cond(typ, "NotYet", t0)
	c.Status = corev1.ConditionFalse
	return c
}

func TestLogsStatus(t *testing.T) {
	tests := []struct {
		name    string
		objects []runtime.Object
		p       params.Params
		want    string
		reason  string
		logs    bool
		message string
	}{
		{"pending without pod", []runtime.Object{builderJob("build-devel-aaa", "devel", t0)}, nil, types.Pending, "", false, ""},
		{"pending pod", []runtime.Object{builderJob("build-devel-aaa", "devel", t0), testPod("build-devel-aaa", corev1.PodPending)}, nil, types.Pending, "", false, ""},
		{"running", []runtime.Object{builderJob("build-devel-aaa", "devel", t0), testPod("build-devel-aaa", corev1.PodRunning)}, nil, types.Running, "", true, ""},
		{"pod done, job not yet", []runtime.Object{builderJob("build-devel-aaa", "devel", t0), testPod("build-devel-aaa", corev1.PodSucceeded)}, nil, types.Running, "", true, ""},
		{"succeeded", []runtime.Object{builderJob("build-devel-aaa", "devel", t0, cond(batchv1.JobComplete, "", t0.Add(time.Minute))), testPod("build-devel-aaa", corev1.PodSucceeded)}, nil, types.Succeeded, "", true, ""},
		{"deadline", []runtime.Object{builderJob("build-devel-aaa", "devel", t0, cond(batchv1.JobFailed, "DeadlineExceeded", t0.Add(time.Hour))), testPod("build-devel-aaa", corev1.PodFailed)}, nil, types.Failed, "DeadlineExceeded", true, ""},
		{"failed, pod gone", []runtime.Object{builderJob("build-devel-aaa", "devel", t0, cond(batchv1.JobFailed, "BackoffLimitExceeded", t0))}, nil, types.Failed, "BackoffLimitExceeded", false, "pod is gone"},
		{"latest of several", []runtime.Object{
			builderJob("build-devel-old", "devel", t0, cond(batchv1.JobFailed, "BackoffLimitExceeded", t0)),
			builderJob("build-devel-new", "devel", t0.Add(time.Hour)),
			builderJob("build-other-zzz", "other", t0.Add(2*time.Hour)),
		}, nil, types.Pending, "", false, ""},
		{"by name", []runtime.Object{
			builderJob("build-devel-old", "devel", t0, cond(batchv1.JobFailed, "BackoffLimitExceeded", t0)),
			builderJob("build-devel-new", "devel", t0.Add(time.Hour)),
		}, params.Params{"job_name": "build-devel-old"}, types.Failed, "BackoffLimitExceeded", false, "pod is gone"},
		{"conditions not true yet", []runtime.Object{builderJob("build-devel-aaa", "devel", t0, falseCond(batchv1.JobComplete), falseCond(batchv1.JobFailed)), testPod("build-devel-aaa", corev1.PodRunning)}, nil, types.Running, "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset(tt.objects...)
			res, err := logs(context.Background(), invocation(t, cs, devel, tt.p))
			require.NoError(t, err)
			s := res.(*types.Status)
			assert.Equal(t, tt.want, s.Status)
			if tt.reason == "" {
				assert.Empty(t, s.Reason)
			} else {
				assert.True(t, strings.HasPrefix(s.Reason, tt.reason), s.Reason)
			}
			assert.Equal(t, tt.logs, s.Logs != "", "logs %q", s.Logs)
			if tt.message == "" {
				assert.Empty(t, s.Message)
			} else {
				assert.Contains(t, s.Message, tt.message)
			}
			assert.Equal(t, "reg/devel:v1", s.Image)
			if tt.name == "latest of several" {
				assert.Equal(t, "build-devel-new", s.JobName)
			}
		})
	}
}

func TestLogsAccess(t *testing.T) {
	other := builderJob("build-other-zzz", "other", t0)
	foreign := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "not-a-build", Namespace: buildNS}}
	cs := fake.NewClientset(other, foreign)
	tests := []struct {
		caller identity.Caller
		p      params.Params
		status int
	}{
		{devel, params.Params{"job_name": "build-other-zzz"}, http.StatusForbidden},
		{devel, params.Params{"job_name": "not-a-build"}, http.StatusNotFound},
		{devel, params.Params{"job_name": "missing"}, http.StatusNotFound},
		{devel, nil, http.StatusNotFound},
		{devel, params.Params{"tail": "-3"}, http.StatusBadRequest},
		{identity.Caller{Name: "nuvolaris", Admin: true}, params.Params{"job_name": "build-other-zzz"}, 0},
	}
	for _, tt := range tests {
		_, err := logs(context.Background(), invocation(t, cs, tt.caller, tt.p))
		if tt.status == 0 {
			assert.NoError(t, err)
			continue
		}
		require.Error(t, err, "%v", tt.p)
		assert.Equal(t, tt.status, apperr.Status(err), "%v: %v", tt.p, err)
	}
}

// TestLogsKeepsCollidingUsersApart: a build labelled, before labels were
// injective, with what is now another user's whole name is not that user's
// latest build.
func TestLogsKeepsCollidingUsersApart(t *testing.T) {
	long := strings.Repeat("a", 70)
	sum := sha256.Sum256([]byte(long))
	oldCut := strings.Repeat("a", 46) + "-" + hex.EncodeToString(sum[:])[:16]
	legacy := builderJob("build-aaa-old", long, t0.Add(time.Hour))
	legacy.Labels[names.LabelUser] = oldCut
	cs := fake.NewClientset(legacy)
	caller := identity.Caller{Name: oldCut, Web: true}
	_, err := logs(context.Background(), invocation(t, cs, caller, nil))
	require.Error(t, err)
	assert.Equal(t, http.StatusNotFound, apperr.Status(err), "not %s's build", oldCut)

	mine := builderJob("build-aaa-new", oldCut, t0)
	require.NoError(t, cs.Tracker().Add(mine))
	res, err := logs(context.Background(), invocation(t, cs, caller, nil))
	require.NoError(t, err)
	assert.Equal(t, "build-aaa-new", res.(*types.Status).JobName, "their own, though older")

	jobs, err := builds.UserJobs(context.Background(), cs.BatchV1().Jobs(buildNS), oldCut, "")
	require.NoError(t, err)
	require.Len(t, jobs, 1, "the per-user limits count only the user's own builds")
	assert.Equal(t, "build-aaa-new", jobs[0].Name)
}

// TestLogsOfAFailedBuildShowTheDaemon (#35, case 6): when the build step
// failed (buildkitd died under it, say), logs names the step and shows
// the daemon's last lines after the steps' logs: those of the daemon that
// died, the previous container's, when the kubelet restarted it (it is a
// sidecar); when the step did not fail, the daemon's log is not shown.
func TestLogsOfAFailedBuildShowTheDaemon(t *testing.T) {
	for _, tt := range []struct {
		name      string
		exit      int32
		restarted bool
		want      string // "": no daemon section
	}{
		{"the build step failed", 1, false, "==> buildkitd (its last lines)\nthe daemon's lines"},
		{"its daemon died and was restarted", 1, true, "==> buildkitd (its last lines before it was restarted: exit code 137)\nthe dead daemon's lines"},
		{"it succeeded", 0, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod("build-devel-aaa", corev1.PodFailed)
			daemon := corev1.ContainerStatus{Name: names.StepDaemon, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}
			if tt.restarted {
				daemon.RestartCount = 1
				daemon.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137}}
			}
			pod.Status.InitContainerStatuses = []corev1.ContainerStatus{
				{Name: names.StepFetch, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
				daemon,
				{Name: names.StepBuild, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: tt.exit}}},
			}
			job := builderJob("build-devel-aaa", "devel", t0, cond(batchv1.JobFailed, "BackoffLimitExceeded", t0.Add(time.Minute)))
			cs := fake.NewClientset(job, pod)
			cs.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
				opts, ok := a.(k8stesting.GenericAction).GetValue().(*corev1.PodLogOptions)
				if a.GetSubresource() != "log" || !ok || opts.Container != names.StepDaemon {
					return false, nil, nil
				}
				if opts.Previous {
					return true, &runtime.Unknown{Raw: []byte("the dead daemon's lines")}, nil
				}
				return true, &runtime.Unknown{Raw: []byte("the daemon's lines")}, nil
			})
			res, err := logs(context.Background(), invocation(t, cs, devel, nil))
			require.NoError(t, err)
			s := res.(*types.Status)
			if tt.want == "" {
				assert.NotContains(t, s.Logs, "==> buildkitd")
				return
			}
			assert.Contains(t, s.Message, "step build failed (exit code 1)")
			assert.Contains(t, s.Logs, "==> build\n")
			assert.Contains(t, s.Logs, tt.want)
		})
	}
}
