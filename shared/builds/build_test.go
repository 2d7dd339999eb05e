package builds

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
)

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func cond(typ batchv1.JobConditionType, reason string, at time.Time) batchv1.JobCondition {
	return batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reason, LastTransitionTime: metav1.NewTime(at)}
}

func TestFinishedAt(t *testing.T) {
	done := t0.Add(time.Hour)
	later := t0.Add(2 * time.Hour)
	notTrue := cond(batchv1.JobComplete, "", done)
	notTrue.Status = corev1.ConditionFalse
	tests := []struct {
		name       string
		conds      []batchv1.JobCondition
		completion *time.Time
		want       time.Time
		ok         bool
	}{
		{"running", nil, nil, time.Time{}, false},
		{"complete condition not true", []batchv1.JobCondition{notTrue}, nil, time.Time{}, false},
		{"complete: completion time wins over the condition's", []batchv1.JobCondition{cond(batchv1.JobComplete, "", later)}, &done, done, true},
		{"complete without completion time", []batchv1.JobCondition{cond(batchv1.JobComplete, "", later)}, nil, later, true},
		{"failed", []batchv1.JobCondition{cond(batchv1.JobFailed, "DeadlineExceeded", done)}, nil, done, true},
		{"suspended is not finished", []batchv1.JobCondition{cond(batchv1.JobSuspended, "", done)}, nil, time.Time{}, false},
		// A pod on a lost node never terminates: the Job controller
		// decides the end and never records it.
		{"failure decided, its pod still terminating", []batchv1.JobCondition{cond(batchv1.JobFailureTarget, "BackoffLimitExceeded", done)}, nil, done, true},
		{"failure decided, then recorded", []batchv1.JobCondition{cond(batchv1.JobFailureTarget, "BackoffLimitExceeded", done), cond(batchv1.JobFailed, "BackoffLimitExceeded", later)}, nil, done, true},
		{"success decided", []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet, "CompletionsReached", done)}, nil, done, true},
	}
	for _, tt := range tests {
		j := &batchv1.Job{Status: batchv1.JobStatus{Conditions: tt.conds}}
		if tt.completion != nil {
			j.Status.CompletionTime = &metav1.Time{Time: *tt.completion}
		}
		got, ok := FinishedAt(j)
		assert.Equal(t, tt.ok, ok, tt.name)
		assert.True(t, tt.want.Equal(got), "%s: %v", tt.name, got)
	}
}

// TestFromJobDecidedEnd: a Job whose end the Job controller decided but
// has not recorded (its pod still terminating, on a lost node) is the
// build's end, with the controller's reason.
func TestFromJobDecidedEnd(t *testing.T) {
	for _, tt := range []struct {
		cond   batchv1.JobCondition
		status string
	}{
		{cond(batchv1.JobFailureTarget, "BackoffLimitExceeded", t0), types.Failed},
		{cond(batchv1.JobSuccessCriteriaMet, "CompletionsReached", t0), types.Succeeded},
	} {
		j := &batchv1.Job{Status: batchv1.JobStatus{Active: 1, Conditions: []batchv1.JobCondition{tt.cond}}}
		b := FromJob(j)
		assert.Equal(t, tt.status, b.Status, string(tt.cond.Type))
		if tt.status == types.Failed {
			assert.Equal(t, "BackoffLimitExceeded", b.Reason)
		}
		if assert.NotNil(t, b.Finished, string(tt.cond.Type)) {
			assert.True(t, t0.Equal(*b.Finished))
		}
	}
}

func TestPushedDigest(t *testing.T) {
	d1 := "sha256:" + strings.Repeat("1", 64)
	d2 := "sha256:" + strings.Repeat("2", 64)
	log := "#8 exporting manifest " + d1 + " done\n#8 naming to reg:5000/devel:v1 done\n#8 pushing manifest for reg:5000/devel:v1@" + d2 + " 0.1s done\n"
	assert.Equal(t, d2, PushedDigest(log))
	assert.Equal(t, d1, PushedDigest("#8 exporting manifest "+d1+" done\n"))
	assert.Equal(t, "", PushedDigest("ERROR: failed to solve"))
	push := "2026/11/30 12:00:00 pushed blob: " + d1 + "\nreg:5000/devel@" + d2 + "\n"
	assert.Equal(t, d2, PushedDigest(push), "transfer push prints the pushed reference alone on a line")
}

// TestStepLogs: the push step's digest is the image's, not the cache's
// printed after it; steps are read in the order they run, the sidecar
// left out; the first failed step is named.
func TestStepLogs(t *testing.T) {
	image, cache := "sha256:"+strings.Repeat("1", 64), "sha256:"+strings.Repeat("2", 64)
	l := logs{{names.StepFetch, ""}, {names.StepBuild, "#1 done"}, {names.StepPush, "reg/devel@" + image + "\n"}, {names.StepPushCache, "reg/devel/buildcache@" + cache + "\n"}}
	assert.Equal(t, image, l.pushedDigest())
	// The user's RUN prints a digest line and fills the budget before the
	// push step is read: the digest is never taken from the user's output.
	forged := "sha256:" + strings.Repeat("6", 64)
	userOnly := logs{{names.StepFetch, ""}, {names.StepBuild, "#5 RUN ...\nreg/devel@" + forged + "\n"}}
	assert.Equal(t, "", userOnly.pushedDigest(), "no push step read: no digest")
	assert.Equal(t, "==> fetch\n==> build\n#1 done\n==> push\nreg/devel@"+image+"\n==> push-cache\nreg/devel/buildcache@"+cache+"\n", l.text())

	always := corev1.ContainerRestartPolicyAlways
	pod := &corev1.Pod{
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: names.StepFetch}, {Name: names.StepDaemon, RestartPolicy: &always}, {Name: names.StepBuild}},
			Containers:     []corev1.Container{{Name: names.StepPush}, {Name: names.StepPushCache}},
		},
		Status: corev1.PodStatus{
			InitContainerStatuses: []corev1.ContainerStatus{
				{Name: names.StepFetch, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}},
				{Name: names.StepBuild, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}},
			},
		},
	}
	assert.Equal(t, []string{names.StepFetch, names.StepBuild, names.StepPush, names.StepPushCache}, stepNames(pod))
	assert.True(t, started(pod, names.StepFetch))
	assert.False(t, started(pod, names.StepBuild))
	assert.Equal(t, "step fetch failed (exit code 1): fetching the source image; its log says why", failedStep(pod))
	pod.Status.InitContainerStatuses[0].State.Terminated.ExitCode = 0
	assert.Empty(t, failedStep(pod))
}

func TestLastLines(t *testing.T) {
	for _, tt := range []struct {
		text string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\nb\n", 5, "a\nb\n"},
		{"a\nb\n", 0, "a\nb\n"},
		{"", 3, ""},
	} {
		assert.Equal(t, tt.want, LastLines(tt.text, tt.n), "%q %d", tt.text, tt.n)
	}
}
