package handlers

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
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
	"github.com/apache/openserverless-builder/shared/action/actiontest"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/shared/registry/registrytest"
	"github.com/apache/openserverless-builder/shared/types"
)

const seedSource = "apache/openserverless-runtime-python:v3.13-2506091954"

var requirements = base64.StdEncoding.EncodeToString([]byte("beautifulsoup4\nsetuptools\n"))

func seedParams() params.Params {
	return params.Params{"source": seedSource, "target": "devel:python3.13-custom", "kind": "python", "file": requirements}
}

func TestSendCreatesJobAndOwnedConfigMap(t *testing.T) {
	cs := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: "config", Namespace: "nuvolaris", Annotations: map[string]string{"registry_host": "registry.local:5000"},
	}})
	res, err := send(context.Background(), invocation(t, cs, devel, seedParams()))
	require.NoError(t, err)
	sent := res.(types.Sent)
	assert.Equal(t, "registry.local:5000/devel:python3.13-custom", sent.Image)
	assert.Equal(t, "build-devel-"+sent.ID, sent.JobName)

	job, err := cs.BatchV1().Jobs(buildNS).Get(context.Background(), sent.JobName, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{names.LabelManagedBy: names.ManagedBy, names.LabelUser: "devel", names.LabelBuildID: sent.ID}, job.Labels)
	assert.Equal(t, "devel:python3.13-custom", job.Annotations[names.AnnotationTarget])
	assert.Equal(t, seedSource, job.Annotations[names.AnnotationSource])
	assert.Equal(t, "python", job.Annotations[names.AnnotationKind])
	assert.Equal(t, int32(0), *job.Spec.BackoffLimit)
	assert.Equal(t, int64(1800), *job.Spec.ActiveDeadlineSeconds)
	assert.Equal(t, int32(buildspec.TTLAfterFinished/time.Second), *job.Spec.TTLSecondsAfterFinished)

	pod := job.Spec.Template.Spec
	c, d := step(t, job, names.StepBuild), step(t, job, names.StepDaemon)
	assert.Equal(t, config.DefaultBuildkitImage, c.Image)
	assert.Equal(t, config.DefaultBuildkitImage, d.Image)
	assert.Equal(t, []string{"buildctl"}, c.Command)
	assert.Equal(t, []string{"--addr", buildspec.DaemonAddress, "build"}, c.Args[:3])
	push := step(t, job, names.StepPush)
	assert.Equal(t, config.DefaultTransferImage, push.Image)
	assert.Equal(t, []string{"push", "--insecure", "--layout", "/layouts", "registry.local:5000/devel:python3.13-custom", "registry.local:5000/devel:python3.13-custom"}, push.Args)
	fetch := step(t, job, names.StepFetch)
	assert.Equal(t, []string{"fetch", "--layout", "/layouts", "index.docker.io/apache/openserverless-runtime-python@" + sources.digests[seedSource]}, fetch.Args,
		"the source is fetched where send resolved it, pinned")
	assert.Empty(t, fetch.Env, "a source outside the cluster registry is fetched anonymously")
	assert.Equal(t, []string{"rootlesskit", "buildkitd"}, d.Command)
	assert.Nil(t, d.SecurityContext.Privileged, "rootless by default")
	assert.Equal(t, int64(1000), *d.SecurityContext.RunAsUser)
	assert.False(t, d.Resources.Limits.Memory().IsZero())
	assert.False(t, c.Resources.Requests.Cpu().IsZero())
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	assert.Equal(t, "registry-pull-secret", volumes["docker-config"].Secret.SecretName)
	assert.Equal(t, names.BuildkitdConfigMap, volumes["buildkitd-config"].ConfigMap.Name)
	assert.Equal(t, sent.JobName, volumes["workspace"].ConfigMap.Name)

	cm, err := cs.CoreV1().ConfigMaps(buildNS).Get(context.Background(), sent.JobName, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "beautifulsoup4\nsetuptools\n", cm.Data["requirements.txt"])
	assert.Contains(t, cm.Data["Dockerfile"], "FROM "+seedSource+"@"+sources.digests[seedSource]+"\n", "pinned to the digest send resolved")
	assert.True(t, strings.HasSuffix(cm.Data["Dockerfile"], "\nUSER nobody\n"), "back to the source's user")
	assert.Equal(t, sources.digests[seedSource], sent.SourceDigest)
	assert.Equal(t, sent.SourceDigest, job.Annotations[names.AnnotationSourceDigest])
	require.Len(t, cm.OwnerReferences, 1)
	assert.Equal(t, "Job", cm.OwnerReferences[0].Kind)
	assert.Equal(t, sent.JobName, cm.OwnerReferences[0].Name)
	assert.Equal(t, job.UID, cm.OwnerReferences[0].UID)
	assert.Equal(t, job.Labels, cm.Labels)
	assert.Equal(t, job.Annotations, cm.Annotations, "the ConfigMap names the same build, image included")
	assert.Equal(t, sent.Image, cm.Annotations[names.AnnotationImage])
}

func TestSendOptions(t *testing.T) {
	cs := fake.NewClientset()
	p := seedParams()
	p["registry_host"] = "ext.registry:443"
	p["registry_insecure"] = false
	p["buildkit_privileged"] = true
	p["build_timeout_seconds"] = "600"
	res, err := send(context.Background(), invocation(t, cs, identity.Caller{Name: "nuvolaris", Admin: true}, p))
	require.NoError(t, err)
	job, err := cs.BatchV1().Jobs(buildNS).Get(context.Background(), res.(types.Sent).JobName, metav1.GetOptions{})
	require.NoError(t, err)
	c := step(t, job, names.StepBuild)
	assert.Equal(t, []string{"push", "--layout", "/layouts", "ext.registry:443/devel:python3.13-custom", "ext.registry:443/devel:python3.13-custom"}, step(t, job, names.StepPush).Args)
	d := step(t, job, names.StepDaemon)
	assert.True(t, *d.SecurityContext.Privileged)
	assert.Equal(t, []string{"buildkitd"}, d.Command)
	assert.Nil(t, c.SecurityContext.Privileged, "only the daemon is privileged")
	assert.Equal(t, int64(600), *job.Spec.ActiveDeadlineSeconds)
}

func TestSendRejectsBadInputBeforeTouchingTheCluster(t *testing.T) {
	with := func(k string, v any) params.Params {
		p := seedParams()
		if v == nil {
			delete(p, k)
		} else {
			p[k] = v
		}
		return p
	}
	tests := []struct {
		name   string
		p      params.Params
		status int
	}{
		{"no source", with("source", nil), 400},
		{"source with newline", with("source", "busybox\nRUN id"), 400},
		{"no target", with("target", nil), 400},
		{"target without tag", with("target", "devel"), 400},
		{"target not ours", with("target", "other:v1"), 403},
		{"bad tag", with("target", "devel:-x"), 400},
		{"no kind", with("kind", nil), 400},
		{"unknown kind", with("kind", "cobol"), 400},
		{"file not base64", with("file", "%%%"), 400},
		{"file binary", with("file", base64.StdEncoding.EncodeToString([]byte{0xff, 0})), 400},
		{"file too large", with("file", base64.StdEncoding.EncodeToString([]byte(strings.Repeat("a", config.DefaultMaxContextBytes-10)))), 413},
		{"file invalid UTF-8", with("file", base64.StdEncoding.EncodeToString([]byte("a\xc3\x28"))), 400},
		{"source an object", with("source", map[string]any{}), 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset()
			_, err := send(context.Background(), invocation(t, cs, devel, tt.p))
			require.Error(t, err)
			assert.Equal(t, tt.status, apperr.Status(err), "%v", err)
			assert.Empty(t, cs.Actions(), "nothing may reach the cluster")
		})
	}
}

func TestSendLeavesNothingWhenConfigMapFails(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.CreateAction).GetObject().(*corev1.ConfigMap).Labels[names.LabelIndex] == "true" {
			return false, nil, nil
		}
		return true, nil, errors.New("etcd is down")
	})
	_, err := send(context.Background(), invocation(t, cs, devel, seedParams()))
	require.Error(t, err)
	assert.Equal(t, http.StatusBadGateway, apperr.Status(err))
	jobs, _ := cs.BatchV1().Jobs(buildNS).List(context.Background(), metav1.ListOptions{})
	assert.Empty(t, jobs.Items, "the Job goes when its ConfigMap cannot be made")
	cms, _ := cs.CoreV1().ConfigMaps(buildNS).List(context.Background(), metav1.ListOptions{})
	assert.Empty(t, cms.Items, "and the build's entry: the index it made is gone")
	var deleted bool
	for _, a := range cs.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && a.GetResource().Resource == "jobs" {
			deleted = true
			assert.Equal(t, metav1.DeletePropagationBackground, *d.GetDeleteOptions().PropagationPolicy)
		}
	}
	assert.True(t, deleted)
}

func TestSendJobFailureCreatesNothing(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "jobs", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("forbidden")
	})
	_, err := send(context.Background(), invocation(t, cs, devel, seedParams()))
	require.Error(t, err)
	assert.Equal(t, http.StatusBadGateway, apperr.Status(err))
	cms, _ := cs.CoreV1().ConfigMaps(buildNS).List(context.Background(), metav1.ListOptions{})
	assert.Empty(t, cms.Items)
}

// userJob is a build Job of user, finished at done (zero: unfinished).
func userJob(user, id string, done time.Time) *batchv1.Job {
	p := buildspec.Plan{Request: buildspec.Request{Source: "busybox:1", Repo: user, Tag: "v1"}, ID: id, User: user, Namespace: buildNS, Timeout: time.Hour}
	j := p.Job()
	j.Spec.Suspend = new(bool) // resumed, as send leaves it
	if !done.IsZero() {
		j.Status.CompletionTime = &metav1.Time{Time: done}
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Time{Time: done}}}
	}
	return j
}

func created(cs *fake.Clientset) (jobs []string) {
	for _, a := range cs.Actions() {
		if c, ok := a.(k8stesting.CreateAction); ok {
			jobs = append(jobs, c.GetResource().Resource)
		}
	}
	return jobs
}

func TestSendRefusesAnotherUsersSourceAndCreatesNothing(t *testing.T) {
	secret := registrytest.Secret("registry-pull-secret", buildNS, registrytest.DockerConfig("https://mirror.corp:8443/v2/", "u", "p"))
	tests := []struct {
		source string
		caller identity.Caller
		status int
	}{
		{"registry.local:5000/alice/secret:1", devel, 403},
		{"nuvolaris-registry-svc:5000/alice/secret:1", devel, 403},
		{"nuvolaris-registry-svc.nuvolaris.svc.cluster.local:5000/alice/secret:1", devel, 403},
		{"mirror.corp:8443/alice/secret:1", devel, 403},
		{"registry.local:5000/devel/../alice/secret:1", devel, 400},
		{"registry.local:5000/devel:base", devel, 200},
		{"registry.local:5000/runtimes/python:1", devel, 200},
		{"registry.local:5000/alice/secret:1", identity.Caller{Name: "nuvolaris", Admin: true}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			cs := fake.NewClientset(secret.DeepCopy())
			p := seedParams()
			p["source"] = tt.source
			p["registry_host"] = "registry.local:5000"
			p["shared_repositories"] = "runtimes"
			inv := invocation(t, cs, tt.caller, p)
			asked := &countingTransport{next: sourceRegistry(t)}
			env := actiontest.Env(cs)
			env.Transport = asked
			inv = action.NewInvocation(env, p, tt.caller, inv.Config, log.New(io.Discard, "", 0))
			_, err := send(context.Background(), inv)
			if tt.status == 200 {
				require.NoError(t, err)
				assert.Equal(t, []string{"configmaps", "jobs", "configmaps"}, created(cs), "the index, the Job, its context")
				return
			}
			require.Error(t, err)
			assert.Equal(t, tt.status, apperr.Status(err), "%v", err)
			assert.Empty(t, created(cs), "a refused source creates nothing")
			// (A lookup started beside send would land after its answer.)
			assert.Never(t, func() bool { return asked.calls.Load() > 0 }, 300*time.Millisecond, 10*time.Millisecond,
				"and asks no registry anything, the user's cache included")
		})
	}
}

// TestSendRefusesTheClusterRegistryAsAMirror: a mirror of Docker Hub
// that is the cluster registry would let user apache decide what
// docker.io/apache/... is for everyone (BuildKit pulls mirrors with the
// builder's credential): send refuses it, naming the setting, and
// creates nothing; a mirror of its own is used.
func TestSendRefusesTheClusterRegistryAsAMirror(t *testing.T) {
	for _, mirror := range []string{"registry.local:5000", "nuvolaris-registry-svc:5000", "REGISTRY.local:5000"} {
		cs := fake.NewClientset()
		p := seedParams()
		p["registry_host"] = "registry.local:5000"
		p["registry_mirrors"] = "docker.io=" + mirror
		_, err := send(context.Background(), invocation(t, cs, devel, p))
		require.Error(t, err, mirror)
		assert.Equal(t, 500, apperr.Status(err))
		assert.Contains(t, err.Error(), "registry_mirrors")
		assert.Empty(t, created(cs), "nothing created")
	}
	cs := fake.NewClientset()
	p := seedParams()
	p["registry_host"] = "registry.local:5000"
	p["registry_mirrors"] = "docker.io=mirror.local:5001"
	_, err := send(context.Background(), invocation(t, cs, devel, p))
	require.NoError(t, err, "the test registry answers for every host")
}

func TestSendLimitsActiveBuilds(t *testing.T) {
	now := time.Now()
	cs := fake.NewClientset(
		userJob("devel", "a1", time.Time{}), userJob("devel", "a2", time.Time{}),
		userJob("devel", "f1", now.Add(-time.Hour)),
		userJob("other", "o1", time.Time{}), userJob("other", "o2", time.Time{}),
	)
	p := seedParams()
	p["max_active_builds"] = 2
	_, err := send(context.Background(), invocation(t, cs, devel, p))
	require.Error(t, err)
	assert.Equal(t, http.StatusTooManyRequests, apperr.Status(err))
	assert.Equal(t, map[string]string{"Retry-After": "30"}, apperr.HeadersOf(err))
	assert.Contains(t, err.Error(), names.JobName("devel", "a1"))
	assert.Contains(t, err.Error(), names.JobName("devel", "a2"))
	assert.NotContains(t, err.Error(), names.JobName("devel", "f1"), "a finished build does not count")
	assert.Empty(t, created(cs))

	p["max_active_builds"] = 3
	_, err = send(context.Background(), invocation(t, cs, devel, p))
	require.NoError(t, err, "other users' builds do not count")

	p["max_active_builds"] = 1
	_, err = send(context.Background(), invocation(t, cs, identity.Caller{Name: "other", Admin: true}, p))
	require.NoError(t, err, "admins are exempt")

	p["max_active_builds"] = 0
	_, err = send(context.Background(), invocation(t, cs, devel, p))
	require.NoError(t, err, "0 is no limit")
}

// TestSendIsNotRefusedByAnAbandonedBuild: a build whose send stopped
// between creating its Job suspended and resuming it (OpenWhisk killed
// it) does not count against the limit once PendingGrace has passed, and
// the next send removes it, Job and index entry. One younger than that
// counts: its send may be resuming it now.
func TestSendIsNotRefusedByAnAbandonedBuild(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		age     time.Duration
		refused bool
	}{{"abandoned", builds.PendingGrace + time.Second, false}, {"being resumed", time.Second, true}} {
		t.Run(tt.name, func(t *testing.T) {
			phantom := userJob("devel", "phantom", time.Time{})
			phantom.Spec.Suspend = ptrTo(true)
			phantom.CreationTimestamp = metav1.NewTime(time.Now().Add(-tt.age))
			cs := fake.NewClientset(phantom)
			p := seedParams()
			p["max_active_builds"] = 1
			_, err := send(ctx, invocation(t, cs, devel, p))
			_, gone := cs.BatchV1().Jobs(buildNS).Get(ctx, phantom.Name, metav1.GetOptions{})
			if tt.refused {
				assert.Equal(t, http.StatusTooManyRequests, apperr.Status(err), "%v", err)
				assert.NoError(t, gone, "left to its send")
				return
			}
			require.NoError(t, err)
			assert.True(t, apierrors.IsNotFound(gone), "the abandoned Job is removed")
			h, err := builds.Index{Jobs: cs.BatchV1().Jobs(buildNS), Records: builds.Records{ConfigMaps: cs.CoreV1().ConfigMaps(buildNS), Namespace: buildNS}, User: "devel"}.Load(ctx)
			require.NoError(t, err)
			require.Len(t, h.Jobs, 1, "the index names the new build alone")
			assert.NotEqual(t, phantom.Name, h.Jobs[0].Name)
		})
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestSendPrunesFinishedBuildsBeyondTheRetained(t *testing.T) {
	now := time.Now()
	var objs []runtime.Object
	for i := 0; i < 4; i++ {
		objs = append(objs, userJob("devel", fmt.Sprintf("f%d", i), now.Add(-time.Duration(i)*time.Hour)))
	}
	// Two older builds whose Jobs are gone, known by their records only;
	// f1 has its record too (a build with both counts once).
	objs = append(objs, recordCM(t, "devel", "r4", now.Add(-4*time.Hour-time.Minute), types.Succeeded),
		recordCM(t, "devel", "r5", now.Add(-5*time.Hour-time.Minute), types.Cancelled),
		recordCM(t, "devel", "f1", now.Add(-time.Hour-time.Minute), types.Succeeded),
		recordCM(t, "other", "o9", now.Add(-100*time.Hour), types.Succeeded))
	objs = append(objs, userJob("devel", "run", time.Time{}), userJob("other", "old", now.Add(-100*time.Hour)))
	cs := fake.NewClientset(objs...)
	p := seedParams()
	p["max_retained_builds"] = 3
	res, err := send(context.Background(), invocation(t, cs, devel, p))
	require.NoError(t, err)
	left, err := cs.BatchV1().Jobs(buildNS).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	var kept []string
	for _, j := range left.Items {
		kept = append(kept, j.Labels[names.LabelBuildID])
	}
	assert.ElementsMatch(t, []string{"f0", "f1", "f2", "run", "old", res.(types.Sent).ID}, kept,
		"the oldest finished build's Job went; the running one, the new one and other users' stay")
	records := builds.Records{ConfigMaps: cs.CoreV1().ConfigMaps(buildNS), Namespace: buildNS}
	for id, want := range map[string]bool{"f1": true, "r4": false, "r5": false, "f3": false} {
		_, ok, err := records.Get(context.Background(), names.JobName("devel", id))
		require.NoError(t, err)
		assert.Equal(t, want, ok, "record of %s", id)
	}
	others, err := records.List(context.Background(), "other", "")
	require.NoError(t, err)
	assert.Len(t, others, 1, "another user's records are not this user's bound")
	mine, err := records.List(context.Background(), "devel", "")
	require.NoError(t, err)
	assert.Len(t, mine, 1, "three finished builds are kept, Jobs and records together: f0, f1 (and its record), f2")
}

func TestSendContextLimitIsAParameter(t *testing.T) {
	cs := fake.NewClientset()
	p := seedParams()
	p["max_context_bytes"] = 2048
	p["file"] = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("a\n", 1000)))
	_, err := send(context.Background(), invocation(t, cs, devel, p))
	require.Error(t, err)
	assert.Equal(t, http.StatusRequestEntityTooLarge, apperr.Status(err))
	assert.Contains(t, err.Error(), "2048 bytes")
	assert.Empty(t, cs.Actions(), "nothing reaches the cluster")
}

// TestSendMeasuresThePinnedContext: a requirements file that fits before
// the source is pinned (the Dockerfile then names no digest and no user)
// but not after is 413 too, with nothing created.
func TestSendMeasuresThePinnedContext(t *testing.T) {
	const limit = 1024
	python, _ := kinds.Lookup("python")
	unpinned := func(file []byte) int {
		return buildspec.ContextSize(buildspec.Plan{Request: buildspec.Request{Source: seedSource, Kind: python, File: file}}.Context())
	}
	file := []byte(strings.Repeat("a", limit-unpinned([]byte{})))
	require.Equal(t, limit, unpinned(file), "the unpinned context is exactly the limit")

	for _, tt := range []struct {
		name string
		file []byte
		want int
	}{
		{"fits unpinned, not pinned", file, http.StatusRequestEntityTooLarge},
		{"fits pinned", file[:len(file)-200], http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset()
			p := seedParams()
			p["max_context_bytes"] = limit
			p["file"] = base64.StdEncoding.EncodeToString(tt.file)
			_, err := send(context.Background(), invocation(t, cs, devel, p))
			if tt.want == http.StatusOK {
				require.NoError(t, err)
				assert.ElementsMatch(t, []string{"configmaps", "jobs", "configmaps"}, created(cs), "the index, the Job, its context")
				return
			}
			require.Error(t, err)
			assert.Equal(t, tt.want, apperr.Status(err))
			assert.Contains(t, err.Error(), "1024 bytes")
			assert.Empty(t, created(cs), "no Job and no ConfigMap")
		})
	}
}

// TestSendMethods: over the web, send takes POST only; any other method is
// 405 and creates nothing.
func TestSendMethods(t *testing.T) {
	for _, tt := range []struct {
		method string
		status int
	}{{"GET", 405}, {"PUT", 405}, {"DELETE", 405}, {"PATCH", 405}, {"post", 200}, {"POST", 200}} {
		cs := fake.NewClientset()
		env := actiontest.Env(cs)
		env.Transport = sourceRegistry(t)
		h := env.Handler(Send)
		code, body := actiontest.WebCall(t, h, "send", "devel", tt.method, seedParams())
		assert.Equal(t, tt.status, code, "%s: %v", tt.method, body)
		if tt.status == 405 {
			assert.Contains(t, body["error"], "use POST")
			assert.Empty(t, cs.Actions(), "%s reaches no cluster", tt.method)
		}
	}
}

// flagValues are the values of flag in args.
func flagValues(args []string, flag string) []string {
	var out []string
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			out = append(out, args[i+1])
		}
	}
	return out
}

// TestSendCacheAndProvenance: the cache is imported from and exported to
// the caller's own <user>/buildcache:<kind>, for every valid user name;
// build_cache and provenance turn each off.
func TestSendCacheAndProvenance(t *testing.T) {
	for _, user := range []string{"devel", "a", "dev.el_x-y", strings.Repeat("u", 200)} {
		cs := fake.NewClientset()
		p := seedParams()
		p["registry_host"] = "registry.local:5000"
		p["target"] = user + "/py:v1"
		res, err := send(context.Background(), invocation(t, cs, identity.Caller{Name: user, Web: true}, p))
		require.NoError(t, err, user)
		job, err := cs.BatchV1().Jobs(buildNS).Get(context.Background(), res.(types.Sent).JobName, metav1.GetOptions{})
		require.NoError(t, err)
		args := step(t, job, names.StepBuild).Args
		cache := "registry.local:5000/" + user + "/buildcache:python"
		assert.Empty(t, flagValues(args, "--import-cache"), "no cache yet: nothing to import")
		assert.Equal(t, []string{"type=local,dest=/layouts,mode=max,image-manifest=true,oci-mediatypes=true,tag=cache"}, flagValues(args, "--export-cache"), user)
		assert.Equal(t, []string{"push", "--insecure", "--layout", "/layouts", "cache", cache}, step(t, job, names.StepPushCache).Args, user)
		assert.True(t, identity.Caller{Name: user}.Owns(names.CacheRepository(user)), "the cache is the user's own repository")
		assert.Contains(t, flagValues(args, "--opt"), "attest:provenance=mode=min")
	}

	cs := fake.NewClientset()
	p := seedParams()
	p["build_cache"] = "false"
	p["provenance"] = false
	p["registry_insecure"] = false
	res, err := send(context.Background(), invocation(t, cs, devel, p))
	require.NoError(t, err)
	job, err := cs.BatchV1().Jobs(buildNS).Get(context.Background(), res.(types.Sent).JobName, metav1.GetOptions{})
	require.NoError(t, err)
	args := step(t, job, names.StepBuild).Args
	assert.Empty(t, flagValues(args, "--import-cache"))
	assert.Empty(t, flagValues(args, "--export-cache"))
	assert.Len(t, job.Spec.Template.Spec.Containers, 1, "no cache to push")
	for _, o := range flagValues(args, "--opt") {
		assert.NotContains(t, o, "attest:", "no provenance")
	}
	for _, a := range step(t, job, names.StepPush).Args {
		assert.NotContains(t, a, "insecure")
	}
}

// TestSendResolvesTheSource: a source that does not exist is 404 naming it,
// with nothing created; an unreachable registry is 503; a source whose user
// could change the Dockerfile is 400; a source that runs as root gives a
// Dockerfile without USER.
func TestSendResolvesTheSource(t *testing.T) {
	img, err := random.Image(64, 1)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.Config.User = "nobody\nRUN id"
	evil, err := mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	pushSource(t, "registry.local:5000/devel:evil", evil)

	for _, tt := range []struct {
		source string
		status int
		says   string
	}{
		{"apache/openserverless-runtime-python:v0-missing", 404, "apache/openserverless-runtime-python:v0-missing does not exist"},
		{"ghcr.io/nobody/nothing:1", 403, "not one users may build from"},
		{"docker.io/openwhisk/action-nothing:1", 404, "does not exist"},
		{"registry.local:5000/devel:evil", 400, "cannot restore"},
	} {
		cs := fake.NewClientset()
		p := seedParams()
		p["source"] = tt.source
		p["registry_host"] = "registry.local:5000"
		_, err := send(context.Background(), invocation(t, cs, devel, p))
		require.Error(t, err, tt.source)
		assert.Equal(t, tt.status, apperr.Status(err), "%s: %v", tt.source, err)
		assert.Contains(t, err.Error(), tt.says)
		assert.Empty(t, created(cs), "nothing is created")
	}

	cs := fake.NewClientset()
	p := seedParams()
	p["source"] = "registry.local:5000/devel:base" // runs as root
	p["registry_host"] = "registry.local:5000"
	res, err := send(context.Background(), invocation(t, cs, devel, p))
	require.NoError(t, err)
	cm, err := cs.CoreV1().ConfigMaps(buildNS).Get(context.Background(), res.(types.Sent).JobName, metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotContains(t, cm.Data["Dockerfile"], "USER")
	assert.Contains(t, cm.Data["Dockerfile"], "FROM registry.local:5000/devel:base@"+sources.digests["registry.local:5000/devel:base"])

	// Unreachable: a transport that fails every call.
	cs = fake.NewClientset()
	env := actiontest.Env(cs)
	env.Transport = failing{}
	cfg, err := config.FromParams(seedParams())
	require.NoError(t, err)
	_, err = send(context.Background(), action.NewInvocation(env, seedParams(), devel, cfg, log.New(io.Discard, "", 0)))
	assert.Equal(t, http.StatusServiceUnavailable, apperr.Status(err), "%v", err)
	assert.Equal(t, map[string]string{"Retry-After": "30"}, apperr.HeadersOf(err))
	assert.Empty(t, created(cs))
}

type failing struct{}

func (failing) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection refused")
}

// TestSharedPrefixesAreReadOnlyToUsers: with shared_repositories=runtimes,
// user runtimes owns runtimes/... by name, yet may neither build into it
// nor delete from it; an admin may. Nothing is created or deleted.
func TestSharedPrefixesAreReadOnlyToUsers(t *testing.T) {
	runtimes := identity.Caller{Name: "runtimes", Web: true}
	admin := identity.Caller{Name: "nuvolaris", Admin: true}
	for _, tt := range []struct {
		caller identity.Caller
		target string
		status int
	}{
		{runtimes, "runtimes/python:v3", http.StatusForbidden},
		{runtimes, "runtimes:v3", http.StatusForbidden},
		{runtimes, "runtimesx:v3", http.StatusForbidden}, // not theirs either
		{admin, "runtimes/python:v3", http.StatusOK},
	} {
		cs := fake.NewClientset()
		p := seedParams()
		p["target"], p["shared_repositories"] = tt.target, "runtimes"
		_, err := send(context.Background(), invocation(t, cs, tt.caller, p))
		if tt.status == http.StatusOK {
			require.NoError(t, err, tt.target)
			continue
		}
		require.Error(t, err, tt.target)
		assert.Equal(t, tt.status, apperr.Status(err), "%s: %v", tt.target, err)
		assert.Empty(t, created(cs), tt.target)
	}
	cs := fake.NewClientset()
	p := seedParams()
	p["target"], p["shared_repositories"] = "runtimes/python:v3", "runtimes"
	_, err := send(context.Background(), invocation(t, cs, runtimes, p))
	assert.Contains(t, err.Error(), "shared prefix runtimes")
}

// TestSendStartsOnlyAdmittedBuilds: a build's Job is created suspended and
// resumed once its context exists; a build refused at admission (another
// send of the user entered its build first) creates nothing.
func TestSendStartsOnlyAdmittedBuilds(t *testing.T) {
	cs := fake.NewClientset()
	p := seedParams()
	p["max_active_builds"] = 1
	res, err := send(context.Background(), invocation(t, cs, devel, p))
	require.NoError(t, err)
	var createdSuspended, resumed bool
	for _, a := range cs.Actions() {
		if c, ok := a.(k8stesting.CreateAction); ok && c.GetResource().Resource == "jobs" {
			createdSuspended = *c.GetObject().(*batchv1.Job).Spec.Suspend
		}
		if pa, ok := a.(k8stesting.PatchAction); ok && pa.GetResource().Resource == "jobs" {
			assert.True(t, createdSuspended, "resumed after it was created")
			assert.JSONEq(t, `{"spec":{"suspend":false}}`, string(pa.GetPatch()))
			resumed = true
		}
	}
	assert.True(t, createdSuspended, "created suspended")
	assert.True(t, resumed, "resumed once admitted")
	job, err := cs.BatchV1().Jobs(buildNS).Get(context.Background(), res.(types.Sent).JobName, metav1.GetOptions{})
	require.NoError(t, err)
	assert.False(t, *job.Spec.Suspend)

	// Another send of devel enters its build in the index while this one
	// writes: this one's write loses, it reads the index again, and the
	// other build takes the only place.
	cs = fake.NewClientset()
	earlier := userJob("devel", "0000000000", time.Time{})
	other := builds.Index{Jobs: cs.BatchV1().Jobs(buildNS), Records: builds.Records{ConfigMaps: cs.CoreV1().ConfigMaps(buildNS), Namespace: buildNS}, User: "devel"}
	var raced atomic.Bool
	cs.PrependReactor("create", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		cm := a.(k8stesting.CreateAction).GetObject().(*corev1.ConfigMap)
		if cm.Name != names.IndexName("devel") || raced.Swap(true) {
			return false, nil, nil
		}
		// The other send's write, made beside and stored as it came.
		side := fake.NewClientset()
		o := other
		o.Jobs, o.Records.ConfigMaps = side.BatchV1().Jobs(buildNS), side.CoreV1().ConfigMaps(buildNS)
		require.NoError(t, o.Add(context.Background(), builds.History{}, builds.Entry{Job: earlier.Name, Created: time.Now()}, nil, func(builds.History) error { return nil }))
		index, err := side.CoreV1().ConfigMaps(buildNS).Get(context.Background(), cm.Name, metav1.GetOptions{})
		require.NoError(t, err)
		require.NoError(t, cs.Tracker().Add(index))
		return true, nil, apierrors.NewAlreadyExists(corev1.Resource("configmaps"), cm.Name)
	})
	_, err = send(context.Background(), invocation(t, cs, devel, p))
	require.Error(t, err)
	assert.Equal(t, http.StatusTooManyRequests, apperr.Status(err))
	assert.Contains(t, err.Error(), earlier.Name, "the 429 names the build ahead, whose Job is still to come")
	for _, a := range cs.Actions() {
		if c, ok := a.(k8stesting.CreateAction); ok {
			assert.NotEqual(t, "jobs", c.GetResource().Resource, "a refused build creates no Job")
		}
	}
	h, err := other.Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []builds.Entry{{Job: earlier.Name}}, stripTimes(h.Pending), "the index names only the build admitted")
}

// stripTimes drops the times of entries, for comparing names.
func stripTimes(entries []builds.Entry) []builds.Entry {
	out := make([]builds.Entry, 0, len(entries))
	for _, e := range entries {
		out = append(out, builds.Entry{Job: e.Job})
	}
	return out
}

// countingTransport counts the requests that reach a registry.
type countingTransport struct {
	next  http.RoundTripper
	calls atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.calls.Add(1)
	return c.next.RoundTrip(r)
}

// cacheRefused is the test registry, except that it refuses every look at
// a build cache: the cache's registry refuses the builder, or cannot be
// reached from the action.
type cacheRefused struct{ next http.RoundTripper }

func (c cacheRefused) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/buildcache/") {
		return nil, errors.New("dial tcp 10.255.255.53:53: connection refused")
	}
	return c.next.RoundTrip(r)
}

// TestSendBuildsWithoutACacheItCannotLookUp (#35, case 9): a cache lookup
// that fails never fails send: the build runs without importing the
// cache, and its note says so, in the builder's words.
func TestSendBuildsWithoutACacheItCannotLookUp(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	p := seedParams()
	p["registry_host"] = "registry.local:5000"
	cfg, err := config.FromParams(p)
	require.NoError(t, err)
	env := actiontest.Env(cs)
	env.Transport = cacheRefused{sourceRegistry(t)}
	res, err := send(ctx, action.NewInvocation(env, p, devel, cfg, log.New(io.Discard, "", 0)))
	require.NoError(t, err, "the build goes on without its cache")
	job, err := cs.BatchV1().Jobs(buildNS).Get(ctx, res.(types.Sent).JobName, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Empty(t, flagValues(step(t, job, names.StepBuild).Args, "--import-cache"), "nothing to import")
	note := job.Annotations[names.AnnotationNote]
	assert.Contains(t, note, "built without the build cache: looking up registry.local:5000/devel/buildcache:python failed: ")
	assert.NotContains(t, note, "10.255.255.53", "no network error's text")

	st, err := logs(ctx, invocation(t, cs, devel, params.Params{"job_name": job.Name}))
	require.NoError(t, err)
	assert.Equal(t, note, st.(*types.Status).Note, "logs says so")
}

// TestSendWhoseTimeIsUpAnswersWithoutUndoing: when a request's time is up
// in the middle of send (a server too slow to answer), send answers 503
// at once instead of undoing what it made, which would hold the answer
// past the deadline: its entry and suspended Job are what a killed send
// leaves, removed once abandoned (TestSendIsNotRefusedByAnAbandonedBuild).
func TestSendWhoseTimeIsUpAnswersWithoutUndoing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	cs := fake.NewClientset()
	cs.PrependReactor("create", "jobs", func(k8stesting.Action) (bool, runtime.Object, error) {
		<-ctx.Done() // the API server answers too late
		return true, nil, ctx.Err()
	})
	_, err := send(ctx, invocation(t, cs, devel, seedParams()))
	require.Error(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, apperr.Status(err), "%v", err)
	var after bool
	for _, a := range cs.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == "jobs" {
			after = true
			continue
		}
		if after {
			t.Errorf("after the deadline: %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
	assert.True(t, after)
}
