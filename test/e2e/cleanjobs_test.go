//go:build e2e

package e2e

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/test/invoker"
	"github.com/apache/openserverless-builder/test/localstack"
)

// externalController marks the test's Jobs as managed elsewhere, so that
// the real Job controller leaves their status to the test.
const externalController = "builder.openserverless.apache.org/e2e"

// state is how a test Job ends.
type state int

const (
	running state = iota
	succeeded
	failed
)

// makeJob creates a Job like send's, entered in its user's index (when
// labelled), with its owned ConfigMap, and sets its status through the
// status subresource to st, finished `ago` ago.
func makeJob(t testing.TB, ctx context.Context, user, id string, st state, ago time.Duration, labelled bool) *batchv1.Job {
	t.Helper()
	c := stack.kube.Client
	labels := map[string]string{names.LabelManagedBy: names.ManagedBy, names.LabelUser: names.UserLabel(user), names.LabelBuildID: id}
	if !labelled {
		labels = map[string]string{"app": "not-the-builder"}
	}
	managedBy := externalController
	// The build's own Job spec (deploy/admission.yaml admits no other),
	// handed to a controller that runs no pod.
	spec := buildPlan(t).Job().Spec
	spec.ManagedBy, spec.Suspend = &managedBy, nil
	for _, v := range spec.Template.Spec.Volumes {
		if v.ConfigMap != nil && v.Name == "workspace" {
			v.ConfigMap.Name = names.JobName(user, id) // its own context
		}
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: names.JobName(user, id), Labels: labels, Annotations: map[string]string{names.AnnotationUser: user}},
		Spec:       spec,
	}
	if labelled {
		enter(t, ctx, user, job.Name, time.Now())
	}
	job, err := c.BatchV1().Jobs(bns).Create(ctx, job, metav1.CreateOptions{})
	require.NoError(t, err)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: job.Name, Labels: labels, Annotations: map[string]string{names.AnnotationUser: user},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))}},
		Data: map[string]string{"Dockerfile": "FROM busybox\n"},
	}
	_, err = c.CoreV1().ConfigMaps(bns).Create(ctx, cm, metav1.CreateOptions{})
	require.NoError(t, err)

	finished := metav1.NewTime(time.Now().Add(-ago).Truncate(time.Second))
	started := metav1.NewTime(finished.Add(-time.Minute))
	job.Status.StartTime = &started
	cond := func(typ batchv1.JobConditionType, reason string) batchv1.JobCondition {
		return batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reason, LastTransitionTime: finished, LastProbeTime: finished}
	}
	switch st {
	case running:
		job.Status.Active = 1
	case succeeded:
		job.Status.Succeeded = 1
		job.Status.CompletionTime = &finished
		job.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet, "CompletionsReached"), cond(batchv1.JobComplete, "CompletionsReached")}
	case failed:
		job.Status.Failed = 1
		job.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget, "BackoffLimitExceeded"), cond(batchv1.JobFailed, "BackoffLimitExceeded")}
	}
	job, err = c.BatchV1().Jobs(bns).UpdateStatus(ctx, job, metav1.UpdateOptions{})
	require.NoError(t, err)
	return job
}

// buildPlan is a real build's plan with the stack's configuration: the
// admission policy admits its Job in the build namespace, so fixture Jobs
// carry its pod template (their external controller runs no pod).
func buildPlan(t testing.TB) buildspec.Plan {
	t.Helper()
	conf, err := config.FromParams(params.Params{"buildkit_image": localstack.BuildkitImage, "transfer_image": localstack.TransferImage})
	require.NoError(t, err)
	require.Equal(t, bns, conf.BuildNamespace)
	k, _ := kinds.Lookup("python")
	return buildspec.NewPlan(buildspec.Request{Source: "apache/openserverless-runtime-python:v3.13-2506091954", Repo: "shaper", Tag: "v1", Kind: k, File: []byte("x\n")},
		"shaper", "0123456789", "registry:5000", buildspec.Base{Digest: "sha256:" + strings.Repeat("a", 64)}, conf)
}

func exists(t *testing.T, ctx context.Context, job string) (jobThere, cmThere bool) {
	_, err := stack.kube.Client.BatchV1().Jobs(bns).Get(ctx, job, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		require.NoError(t, err)
	}
	jobThere = err == nil
	_, err = stack.kube.Client.CoreV1().ConfigMaps(bns).Get(ctx, job, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		require.NoError(t, err)
	}
	return jobThere, err == nil
}

func TestCleanJobs(t *testing.T) {
	ctx := context.Background()
	oldOK := makeJob(t, ctx, "cleaner", "old-ok", succeeded, 3*time.Hour, true)
	oldFailed := makeJob(t, ctx, "cleaner", "old-failed", failed, 2*time.Hour, true)
	recent := makeJob(t, ctx, "cleaner", "recent", succeeded, 10*time.Minute, true)
	runningJob := makeJob(t, ctx, "cleaner", "running", running, 5*time.Hour, true)
	foreign := makeJob(t, ctx, "cleaner", "foreign", succeeded, 5*time.Hour, false)
	otherUser := makeJob(t, ctx, "bystander", "old", failed, 5*time.Hour, true)

	p := action(t, "cleanjobs")
	// A user's cleanup touches only that user's builds.
	code, body := call(t, p, invoker.Web("cleanjobs", "cleaner", "POST", map[string]any{"max_age_hours": "1", "dry_run": true}))
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, []any{oldFailed.Name, oldOK.Name}, body["jobs"])
	for _, j := range []*batchv1.Job{oldOK, oldFailed} {
		there, _ := exists(t, ctx, j.Name)
		assert.True(t, there, "dry_run deletes nothing")
	}

	code, body = call(t, p, invoker.Web("cleanjobs", "cleaner", "POST", map[string]any{"max_age_hours": 1}))
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, float64(2), body["deleted"])
	assert.Equal(t, []any{oldFailed.Name, oldOK.Name}, body["jobs"])
	assert.Empty(t, body["configmaps"], "owned contexts are left to the garbage collector")

	for _, j := range []*batchv1.Job{recent, runningJob, foreign, otherUser} {
		there, cm := exists(t, ctx, j.Name)
		assert.True(t, there && cm, "%s stays", j.Name)
	}
	// The garbage collector of kube-controller-manager removes the
	// ConfigMaps of the deleted Jobs (propagation Background).
	for _, j := range []*batchv1.Job{oldOK, oldFailed} {
		require.Eventually(t, func() bool {
			there, cm := exists(t, ctx, j.Name)
			return !there && !cm
		}, 60*time.Second, 200*time.Millisecond, "%s and its ConfigMap are gone", j.Name)
	}

	// The alarm (an admin plain invocation) cleans every user's builds.
	code, body = call(t, p, invoker.Plain("cleanjobs", "nuvolaris", map[string]any{"max_age_hours": "1"}))
	require.Equal(t, 200, code, "%v", body)
	assert.Contains(t, body["jobs"], otherUser.Name)
	assert.NotContains(t, body["jobs"], foreign.Name)
	assert.NotContains(t, body["jobs"], runningJob.Name)
}

// TestCleanJobsRemovesOrphanedContexts: a ConfigMap whose Job never came
// (an interrupted send) goes once it is older than the cutoff.
func TestCleanJobsRemovesOrphanedContexts(t *testing.T) {
	ctx := context.Background()
	labels := map[string]string{names.LabelManagedBy: names.ManagedBy, names.LabelUser: "orphans", names.LabelBuildID: "lost"}
	cm, err := stack.kube.Client.CoreV1().ConfigMaps(bns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "build-orphans-lost", Labels: labels, Annotations: map[string]string{names.AnnotationUser: "orphans"}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	kept := makeJob(t, ctx, "orphans", "live", running, time.Hour, true)
	time.Sleep(1100 * time.Millisecond) // creation times have whole seconds

	p := action(t, "cleanjobs")
	code, body := call(t, p, invoker.Web("cleanjobs", "orphans", "POST", map[string]any{"max_age_hours": 0}))
	require.Equal(t, 200, code, "%v", body)
	got := []string{}
	for _, c := range body["configmaps"].([]any) {
		got = append(got, c.(string))
	}
	sort.Strings(got)
	assert.Equal(t, []string{cm.Name}, got)
	_, there := exists(t, ctx, cm.Name)
	assert.False(t, there)
	jobThere, cmThere := exists(t, ctx, kept.Name)
	assert.True(t, jobThere && cmThere, "a running build keeps its context")
}
