package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
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
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/apache/openserverless-builder/shared/action/actiontest"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/shared/types"
)

var now = time.Now()

func job(name, user string, finished time.Duration, typ batchv1.JobConditionType) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: buildNS, UID: k8stypes.UID("uid-" + name),
		CreationTimestamp: metav1.NewTime(now.Add(-finished - time.Hour)),
		Labels:            map[string]string{names.LabelManagedBy: names.ManagedBy, names.LabelUser: user, names.LabelBuildID: name},
		Annotations:       map[string]string{names.AnnotationUser: user},
	}}
	if typ != "" {
		at := metav1.NewTime(now.Add(-finished))
		j.Status.Conditions = []batchv1.JobCondition{{Type: typ, Status: corev1.ConditionTrue, LastTransitionTime: at}}
		if typ == batchv1.JobComplete {
			j.Status.CompletionTime = &at
		}
	}
	return j
}

func configMap(name, user string, age time.Duration, owner string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: buildNS, UID: k8stypes.UID("uid-cm-" + name),
		CreationTimestamp: metav1.NewTime(now.Add(-age)),
		Labels:            map[string]string{names.LabelManagedBy: names.ManagedBy, names.LabelUser: user, names.LabelBuildID: name},
		Annotations:       map[string]string{names.AnnotationUser: user},
	}}
	if owner != "" {
		cm.OwnerReferences = []metav1.OwnerReference{{Kind: "Job", Name: owner}}
	}
	return cm
}

func fixture() []runtime.Object {
	foreign := job("not-ours", "devel", 48*time.Hour, batchv1.JobComplete)
	foreign.Labels = map[string]string{"app": "something-else"}
	return []runtime.Object{
		job("devel-old-ok", "devel", 48*time.Hour, batchv1.JobComplete),
		job("devel-old-failed", "devel", 30*time.Hour, batchv1.JobFailed),
		job("devel-recent", "devel", time.Hour, batchv1.JobComplete),
		job("devel-running", "devel", 100*time.Hour, ""),
		job("other-old", "other", 48*time.Hour, batchv1.JobFailed),
		foreign,
		configMap("devel-old-ok", "devel", 49*time.Hour, "devel-old-ok"),
		configMap("devel-running", "devel", 101*time.Hour, "devel-running"),
		configMap("devel-orphan", "devel", 50*time.Hour, ""),
		configMap("devel-orphan-young", "devel", time.Hour, ""),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: names.BuildkitdConfigMap, Namespace: buildNS,
			CreationTimestamp: metav1.NewTime(now.Add(-1000 * time.Hour)), Labels: map[string]string{names.LabelManagedBy: names.ManagedBy}}},
	}
}

func runClean(t *testing.T, cs *fake.Clientset, caller identity.Caller, p params.Params) (*types.Cleaned, error) {
	t.Helper()
	res, err := cleanJobs(context.Background(), actiontest.Invocation(t, cs, caller, p))
	if err != nil {
		return nil, err
	}
	return res.(*types.Cleaned), nil
}

// deletes lists the deletions cs saw, checking each one's options.
func deletes(t *testing.T, cs *fake.Clientset) []string {
	var got []string
	for _, a := range cs.Actions() {
		d, ok := a.(k8stesting.DeleteAction)
		if !ok {
			continue
		}
		opts := d.GetDeleteOptions()
		require.NotNil(t, opts.Preconditions, "deletes are pinned to the UID listed")
		if d.GetResource().Resource == "jobs" {
			require.NotNil(t, opts.PropagationPolicy)
			assert.Equal(t, metav1.DeletePropagationBackground, *opts.PropagationPolicy, "pods and contexts go with the Job")
		}
		got = append(got, d.GetResource().Resource+"/"+d.GetName())
	}
	return got
}

func selectors(cs *fake.Clientset) []string {
	var got []string
	for _, a := range cs.Actions() {
		if l, ok := a.(k8stesting.ListAction); ok && a.GetResource().Resource != "pods" {
			got = append(got, l.GetListRestrictions().Labels.String())
		}
	}
	return got
}

func TestAdminCleansEveryonesFinishedJobs(t *testing.T) {
	cs := fake.NewClientset(fixture()...)
	res, err := runClean(t, cs, identity.Caller{Name: "nuvolaris", Admin: true}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"devel-old-failed", "devel-old-ok", "other-old"}, res.Jobs)
	assert.Equal(t, 3, res.Deleted)
	assert.Equal(t, []string{"devel-orphan"}, res.ConfigMaps)
	assert.ElementsMatch(t, []string{"jobs/devel-old-ok", "jobs/devel-old-failed", "jobs/other-old", "configmaps/devel-orphan"}, deletes(t, cs))
	for _, s := range selectors(cs) {
		assert.True(t, strings.HasPrefix(s, "app.kubernetes.io/managed-by=openserverless-builder"), s)
		assert.NotContains(t, s, names.LabelUser, "everyone's")
	}
}

func TestUserCleansOnlyOwnJobs(t *testing.T) {
	cs := fake.NewClientset(fixture()...)
	res, err := runClean(t, cs, identity.Caller{Name: "devel", Web: true}, params.Params{"max_age_hours": "40"})
	require.NoError(t, err)
	assert.Equal(t, []string{"devel-old-ok"}, res.Jobs, "30h-old failure is younger than 40h")
	for _, s := range selectors(cs) {
		assert.Contains(t, s, names.LabelUser+"=devel")
	}
}

func TestDryRunDeletesNothing(t *testing.T) {
	cs := fake.NewClientset(fixture()...)
	res, err := runClean(t, cs, identity.Caller{Name: "nuvolaris", Admin: true}, params.Params{"dry_run": "true", "max_age_hours": 0})
	require.NoError(t, err)
	assert.True(t, res.DryRun)
	assert.Equal(t, []string{"devel-old-failed", "devel-old-ok", "devel-recent", "other-old"}, res.Jobs)
	assert.Empty(t, deletes(t, cs))
	assert.Contains(t, res.Message, "would delete")
}

func TestFailedDeletionIsReportedAndOthersGo(t *testing.T) {
	cs := fake.NewClientset(fixture()...)
	cs.PrependReactor("delete", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.DeleteAction).GetName() == "devel-old-ok" {
			return true, nil, errors.New("conflict")
		}
		return false, nil, nil
	})
	res, err := runClean(t, cs, identity.Caller{Name: "nuvolaris", Admin: true}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"devel-old-failed", "other-old"}, res.Jobs)
	require.Len(t, res.Failed, 1)
	assert.Equal(t, "job/devel-old-ok", res.Failed[0].Name)
	assert.Contains(t, res.Message, "1 could not be deleted")
	assert.NotContains(t, deletes(t, cs), "configmaps/devel-old-ok", "a Job that stays keeps its build context")
	_, err = cs.BatchV1().Jobs(buildNS).Get(context.Background(), "not-ours", metav1.GetOptions{})
	assert.NoError(t, err, "objects without the builder's labels stay")
}

// TestCollidingLabelsAreKeptApart: builds made before labels were
// injective carry, for a user whose name was cut, the label that is now
// another user's whole name. The user annotation keeps them apart: that
// user's cleanup never touches them.
func TestCollidingLabelsAreKeptApart(t *testing.T) {
	long := strings.Repeat("a", 70)
	sum := sha256.Sum256([]byte(long))
	oldCut := strings.Repeat("a", 46) + "-" + hex.EncodeToString(sum[:])[:16]
	legacy := job("legacy", oldCut, 48*time.Hour, batchv1.JobComplete)
	legacy.Annotations[names.AnnotationUser] = long
	legacyCM := configMap("legacy-orphan", oldCut, 48*time.Hour, "")
	legacyCM.Annotations[names.AnnotationUser] = long
	cs := fake.NewClientset(legacy, legacyCM, job("mine", oldCut, 48*time.Hour, batchv1.JobComplete))
	res, err := runClean(t, cs, identity.Caller{Name: oldCut, Web: true}, params.Params{"max_age_hours": 0})
	require.NoError(t, err)
	assert.Equal(t, []string{"mine"}, res.Jobs)
	assert.Equal(t, []string{"jobs/mine"}, deletes(t, cs), "the other user's Job and context stay")
}

func TestMaxAgeValidation(t *testing.T) {
	for _, v := range []any{"-1", "soon", -3.0, map[string]any{}} {
		_, err := runClean(t, fake.NewClientset(), identity.Caller{Name: "nuvolaris", Admin: true}, params.Params{"max_age_hours": v})
		require.Error(t, err, "%v", v)
		assert.Equal(t, http.StatusBadRequest, apperr.Status(err), "%v", v)
	}
}

// TestCleanJobsMethods: over the web, cleanjobs takes POST only.
func TestCleanJobsMethods(t *testing.T) {
	for _, tt := range []struct {
		method string
		status int
	}{{"GET", 405}, {"DELETE", 405}, {"PUT", 405}, {"POST", 200}} {
		cs := fake.NewClientset(fixture()...)
		code, body := actiontest.WebCall(t, actiontest.Env(cs).Handler(CleanJobs), "cleanjobs", "devel", tt.method, params.Params{"max_age_hours": 0})
		assert.Equal(t, tt.status, code, "%s: %v", tt.method, body)
		if tt.status == 405 {
			assert.Empty(t, deletes(t, cs), "%s deletes nothing", tt.method)
		}
	}
}

// record is a stored build record of user, finished ago.
func record(t *testing.T, name, user string, ago time.Duration) *corev1.ConfigMap {
	t.Helper()
	fin := now.Add(-ago)
	cm := configMap(name+"-record", user, ago, "")
	cm.Labels[names.LabelRecord] = "true"
	cm.Data = map[string]string{"build.json": fmt.Sprintf(`{"id":%q,"job_name":%q,"user":%q,"status":"succeeded","finished":%q}`, name, name, user, fin.UTC().Format(time.RFC3339))}
	return cm
}

// TestCleanupRecordsBeforeDeletingAndExpiresRecords: every Job that goes
// leaves its record first; a Job whose record cannot be stored stays;
// records past record_retention_days go, younger ones and their builds'
// contexts are left alone.
func TestCleanupRecordsBeforeDeletingAndExpiresRecords(t *testing.T) {
	objs := append(fixture(), record(t, "ancient", "devel", 40*24*time.Hour), record(t, "recent", "devel", 24*time.Hour), record(t, "other-ancient", "other", 40*24*time.Hour))
	cs := fake.NewClientset(objs...)
	res, err := runClean(t, cs, identity.Caller{Name: "devel", Web: true}, params.Params{"record_retention_days": 30})
	require.NoError(t, err)
	assert.Equal(t, []string{"devel-old-failed", "devel-old-ok"}, res.Jobs)
	assert.Equal(t, []string{"ancient-record"}, res.Records, "only the caller's expired record")
	assert.Equal(t, []string{"devel-orphan"}, res.ConfigMaps, "records are not orphaned contexts")
	for _, j := range res.Jobs {
		cm, err := cs.CoreV1().ConfigMaps(buildNS).Get(context.Background(), names.RecordName(j), metav1.GetOptions{})
		require.NoError(t, err, "%s left its record", j)
		assert.Equal(t, "devel", cm.Annotations[names.AnnotationUser])
	}
	assert.Contains(t, res.Message, "1 build record past their retention")

	// A record that cannot be stored keeps its Job.
	cs = fake.NewClientset(fixture()...)
	cs.PrependReactor("create", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("etcd is full")
	})
	res, err = runClean(t, cs, identity.Caller{Name: "nuvolaris", Admin: true}, nil)
	require.NoError(t, err)
	assert.Empty(t, res.Jobs)
	assert.Len(t, res.Failed, 3)
	for _, d := range deletes(t, cs) {
		assert.NotContains(t, d, "jobs/", "no Job goes without its record")
	}
}

// TestDryRunPrunesNothing: a dry run names the builds beyond
// max_retained_builds and changes nothing: no Job, record or index entry
// goes.
func TestDryRunPrunesNothing(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset(
		job("build-devel-a", "devel", 3*time.Hour, batchv1.JobComplete),
		job("build-devel-b", "devel", 2*time.Hour, batchv1.JobFailed),
		job("build-devel-c", "devel", time.Hour, batchv1.JobComplete),
	)
	index := builds.Index{Jobs: cs.BatchV1().Jobs(buildNS), Records: builds.Records{ConfigMaps: cs.CoreV1().ConfigMaps(buildNS), Namespace: buildNS}, User: "devel"}
	h, err := index.Load(ctx)
	require.NoError(t, err)
	for _, j := range []string{"build-devel-a", "build-devel-b", "build-devel-c"} {
		require.NoError(t, index.Add(ctx, h, builds.Entry{Job: j, Created: now}, nil, func(builds.History) error { return nil }))
		h, err = index.Load(ctx)
		require.NoError(t, err)
	}
	cs.ClearActions()

	res, err := runClean(t, cs, identity.Caller{Name: "nuvolaris", Admin: true},
		params.Params{"dry_run": true, "max_age_hours": 1000, "max_retained_builds": 1})
	require.NoError(t, err)
	assert.Equal(t, []string{"build-devel-a", "build-devel-b"}, res.Pruned, "the two oldest would go")
	for _, a := range cs.Actions() {
		assert.Contains(t, []string{"get", "list"}, a.GetVerb(), "a dry run only reads: %s %s", a.GetVerb(), a.GetResource().Resource)
	}
	h, err = index.Load(ctx)
	require.NoError(t, err)
	assert.Len(t, h.Jobs, 3, "every build is still in the index")
}
