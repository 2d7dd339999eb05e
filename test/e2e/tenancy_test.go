//go:build e2e

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/test/invoker"
	"github.com/apache/openserverless-builder/test/localstack"
)

// victim pushes alice's private images and returns the digest of
// alice/secret:1.
func victim(t *testing.T) string {
	t.Helper()
	img := image(t)
	push(t, stack.registry, img, "alice/secret:1", "alice:private")
	d, err := img.Digest()
	require.NoError(t, err)
	return d.String()
}

// intact checks, as the registry's admin, that alice's images are as pushed.
func intact(t *testing.T, digest string) {
	t.Helper()
	for _, ref := range []string{"alice/secret:1", "alice:private"} {
		assert.Equal(t, digest, tagDigest(t, ref), ref)
	}
}

// userJobs are the builder's Jobs of user on the real API server.
func userJobs(t testing.TB, user string) []batchv1.Job {
	t.Helper()
	list, err := stack.kube.Client.BatchV1().Jobs(bns).List(context.Background(), metav1.ListOptions{LabelSelector: names.UserSelector(user)})
	require.NoError(t, err)
	return list.Items
}

// removeJobs deletes the named Jobs when the test ends.
func removeJobs(t *testing.T, names *[]string) {
	t.Cleanup(func() {
		bg := metav1.DeletePropagationBackground
		for _, n := range *names {
			_ = stack.kube.Client.BatchV1().Jobs(bns).Delete(context.Background(), n, metav1.DeleteOptions{PropagationPolicy: &bg})
		}
	})
}

// TestSendRefusesOtherUsersSources: devel cannot build FROM alice's image
// under any spelling of the cluster registry; nothing is created and
// alice's image is intact. devel's own image, a shared one, and an admin
// are let through.
func TestSendRefusesOtherUsersSources(t *testing.T) {
	cordon(t) // the accepted builds need not run
	digest := victim(t)
	push(t, stack.registry, image(t), "devel/base:1", "runtimes/tenancy:1")
	host := stack.registry.Host
	port := host[strings.LastIndex(host, ":")+1:]
	p := action(t, "send", map[string]any{"registry_aliases": "registry.alias.test"})
	params := func(source string) map[string]any {
		return map[string]any{"source": source, "target": "devel:stolen", "kind": "python"}
	}
	refused := []struct {
		source string
		status int
	}{
		{host + "/alice/secret:1", 403},
		{"nuvolaris-registry-svc:5000/alice/secret:1", 403},
		{"NUVOLARIS-REGISTRY-SVC:5000/alice/secret:1", 403},
		{"nuvolaris-registry-svc.nuvolaris.svc.cluster.local:5000/alice/secret:1", 403},
		{"nuvolaris-registry-svc.nuvolaris:" + port + "/alice/secret:1", 403},
		{"registry.alias.test/alice/secret:1", 403},
		{host + "/alice/secret@" + digest, 403},
		{host + "/alice:private", 403},
		{host + "/devel/../alice/secret:1", 400},
		{host + "/devel/./alice:1", 400},
	}
	for _, tt := range refused {
		t.Run(tt.source, func(t *testing.T) {
			jobs, cms := counts(t)
			code, body := call(t, p, invoker.Web("send", "devel", "POST", params(tt.source)))
			assert.Equal(t, tt.status, code, "%v", body)
			if tt.status == 403 {
				assert.Contains(t, body["error"], "devel, devel/..., runtimes, runtimes/...", "the refusal says what devel may build from")
			}
			j, c := counts(t)
			assert.Equal(t, jobs, j, "no Job was created")
			assert.Equal(t, cms, c, "no ConfigMap was created")
		})
	}
	var made []string
	removeJobs(t, &made)
	for _, ok := range []struct {
		user, source string
	}{
		{"devel", host + "/devel/base:1"},
		{"devel", host + "/runtimes/tenancy:1"},
		{"", host + "/alice/secret:1"},
	} {
		a := invoker.Web("send", ok.user, "POST", params(ok.source))
		if ok.user == "" {
			a = invoker.Plain("send", ns, params(ok.source))
		}
		code, body := call(t, p, a)
		require.Equal(t, 200, code, "%s from %s: %v", ok.user, ok.source, body)
		made = append(made, body["job_name"].(string))
	}
	intact(t, digest)
}

// TestRegistryActionsRefuseTraversal: names with '.' or '..' components are
// 400 before any registry call, so devel never reads or deletes alice's
// images through them.
func TestRegistryActionsRefuseTraversal(t *testing.T) {
	digest := victim(t)
	push(t, stack.registry, image(t), "devel:v1")
	p := action(t, "registry")
	for _, tt := range []struct {
		op, key, value string
	}{
		{"list-images", "catalog", "devel/../alice/secret"},
		{"list-images", "catalog", "devel/../alice"},
		{"list-images", "catalog", "devel/./../alice"},
		{"get-image", "image", "devel/../alice:private"},
		{"get-image", "image", "devel/../alice/secret:1"},
		{"get-image", "image", "devel/../alice/secret@" + digest},
		{"delete-image", "image", "devel/../alice:private"},
		{"delete-image", "image", "devel/../alice/secret:1"},
		{"delete-image", "image", "devel/../alice/secret@" + digest},
		{"delete-image", "image", "devel//../alice:private"},
	} {
		code, body := call(t, p, invoker.Web(tt.op, "devel", "POST", map[string]any{tt.key: tt.value}))
		assert.Equal(t, 400, code, "%s %s: %v", tt.op, tt.value, body)
		assert.NotContains(t, jsonText(body), "deleted")
	}
	intact(t, digest)
	// The same actions still work on devel's own names.
	code, body := call(t, p, invoker.Web("list-images", "devel", "GET", map[string]any{"catalog": "devel"}))
	require.Equal(t, 200, code, "%v", body)
	assert.Contains(t, body["tags"], "v1")
}

// TestConcurrentSendsHoldTheActiveLimit: eight sends at once from one
// user with a limit of two leave exactly two builds, and each send that
// answered 200 has its build.
func TestConcurrentSendsHoldTheActiveLimit(t *testing.T) {
	cordon(t) // builds stay unfinished
	const user, limit, sends = "racer", 2, 8
	procs := make([]*invoker.Process, sends)
	for i := range procs {
		procs[i] = action(t, "send", map[string]any{"max_active_builds": limit})
	}
	params := seed(user + ":v1")
	type answer struct {
		code int
		body map[string]any
		hdr  map[string]any
	}
	answers := make([]answer, sends)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := p.RunValue(invoker.Web("send", user, "POST", params))
			if err != nil {
				answers[i] = answer{code: -1, body: map[string]any{"error": err.Error()}}
				return
			}
			code, body, err := invoker.Response(res)
			if err != nil {
				answers[i] = answer{code: -1, body: map[string]any{"error": err.Error()}}
				return
			}
			hdr, _ := res["headers"].(map[string]any)
			answers[i] = answer{code, body, hdr}
		}()
	}
	close(start)
	wg.Wait()
	var accepted []string
	removeJobs(t, &accepted)
	refused := 0
	for _, a := range answers {
		switch a.code {
		case 200:
			accepted = append(accepted, a.body["job_name"].(string))
		case 429:
			refused++
			assert.Equal(t, "30", a.hdr["Retry-After"], "%v", a)
			assert.Contains(t, a.body["error"], "max_active_builds")
		default:
			t.Errorf("unexpected answer %d: %v", a.code, a.body)
		}
	}
	assert.Len(t, accepted, limit, "exactly the limit is accepted")
	assert.Equal(t, sends-limit, refused)
	var live []string
	for _, j := range userJobs(t, user) {
		if j.DeletionTimestamp == nil {
			live = append(live, j.Name)
		}
	}
	assert.ElementsMatch(t, accepted, live, "every 200 has its build, and no other build is left")
	// Refused builds created nothing: the Job controller created pods for
	// the accepted builds only.
	require.Eventually(t, func() bool { return len(podsCreatedFor(t, "build-"+user+"-")) >= limit }, 30*time.Second, 100*time.Millisecond)
	for _, job := range podsCreatedFor(t, "build-"+user+"-") {
		assert.Contains(t, accepted, job, "a pod was created for %s, which send refused", job)
	}
	require.Eventually(t, func() bool {
		cms, err := stack.kube.Client.CoreV1().ConfigMaps(bns).List(context.Background(), metav1.ListOptions{LabelSelector: names.ContextSelector(user)})
		return err == nil && len(cms.Items) == limit
	}, 30*time.Second, 100*time.Millisecond, "the accepted builds' contexts, and no other")
	h, err := indexOf(user).Load(context.Background())
	require.NoError(t, err)
	assert.Empty(t, h.Pending, "the index names no refused build")
	assert.Len(t, h.Jobs, limit)

	// At the limit, the next send is refused before anything is created.
	jobs, cms := counts(t)
	code, body := call(t, procs[0], invoker.Web("send", user, "POST", params))
	assert.Equal(t, 429, code, "%v", body)
	for _, n := range accepted {
		assert.Contains(t, body["error"], n, "the refusal names the unfinished builds")
	}
	j, c := counts(t)
	assert.Equal(t, jobs, j)
	assert.Equal(t, cms, c)

	// Admins are exempt.
	code, body = call(t, procs[1], invoker.Plain("send", ns, invoker.Merge(params, map[string]any{"target": "racer:admin"})))
	require.Equal(t, 200, code, "%v", body)
	accepted = append(accepted, body["job_name"].(string))
}

// TestSendPrunesRetainedBuilds: a user's finished builds beyond
// max_retained_builds go at their next send, oldest first; running ones
// and other users' stay.
func TestSendPrunesRetainedBuilds(t *testing.T) {
	cordon(t)
	ctx := context.Background()
	const user = "keeper"
	for i := 0; i < 5; i++ {
		makeJob(t, ctx, user, fmt.Sprintf("old%d", i), succeeded, time.Duration(i+1)*time.Hour, true)
	}
	makeJob(t, ctx, user, "running", running, 0, true)
	makeJob(t, ctx, "bystander", "old", succeeded, 100*time.Hour, true)

	p := action(t, "send", map[string]any{"max_retained_builds": 2})
	code, body := call(t, p, invoker.Web("send", user, "POST", seed(user+":v1")))
	require.Equal(t, 200, code, "%v", body)
	var ids []string
	for _, j := range userJobs(t, user) {
		if j.DeletionTimestamp == nil {
			ids = append(ids, j.Labels[names.LabelBuildID])
		}
	}
	assert.ElementsMatch(t, []string{"old0", "old1", "running", body["id"].(string)}, ids, "the two newest finished builds, the running one and the new one")
	assert.Len(t, userJobs(t, "bystander"), 1, "another user's build stays")
}

// TestSendContextLimit: a context over the bound max_context_bytes is 413,
// naming the limit, with nothing created.
func TestSendContextLimit(t *testing.T) {
	p := action(t, "send", map[string]any{"max_context_bytes": 4096})
	jobs, cms := counts(t)
	big := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("requests\n", 1000)))
	code, body := call(t, p, invoker.Web("send", "devel", "POST", invoker.Merge(seed("devel:big"), map[string]any{"file": big})))
	assert.Equal(t, 413, code, "%v", body)
	assert.Contains(t, body["error"], "4096 bytes")
	j, c := counts(t)
	assert.Equal(t, jobs, j)
	assert.Equal(t, cms, c)
}

// TestBuildStepFindsNoCredential: a real build on the local node whose
// build step (the source image's /bin/extend) looks for the registry
// credential everywhere it can reach: every file, every process it can see
// (its files through /proc/*/root, its environment, every readable mapping
// of its memory), its own environment, and any socket to a daemon's
// session. Its needles are the registry's password (2) and the encoded
// user:password of the docker config (3); needle 1 is a canary that is in
// the memory of the shell running the step, and a docker config (a canary
// too) is planted in its requirements file: the search finds both canaries
// where they are, and nothing else.
func TestBuildStepFindsNoCredential(t *testing.T) {
	bases(t)
	auth := base64.StdEncoding.EncodeToString([]byte(stack.registry.User + ":" + stack.registry.Password))
	img, err := localstack.ProbeRuntime("[ -x /bin/extend ]", stack.registry.Password, auth)
	require.NoError(t, err)
	push(t, stack.registry, img, "runtimes/probe:1")
	canary := base64.StdEncoding.EncodeToString([]byte(`{"auths":{"canary.invalid":{"auth":"Y2FuYXJ5"}}}` + "\n"))
	sent, st := buildAndWait(t, "prober", map[string]any{
		"source": stack.registry.Host + "/runtimes/probe:1", "target": "prober:probed", "kind": "python", "file": canary,
	})
	require.Equal(t, "succeeded", st["status"], "%v", st["logs"])
	logs := st["logs"].(string)
	assert.Contains(t, logs, "probe: done", "the probe ran to its end")
	assert.Regexp(t, `probe: searched [1-9][0-9]* files, [1-9][0-9]* processes and [1-9][0-9]* memory mappings`, logs)
	found := regexp.MustCompile(`probe: credential \( ([^)]*)\) in (.*)`).FindAllStringSubmatch(logs, -1)
	where := map[string]string{}
	for _, f := range found {
		where[f[2]] = f[1]
	}
	assert.Equal(t, "docker ", where["file /tmp/requirements.txt"], "the search finds a docker config where there is one")
	memory := 0
	for place, what := range where {
		if strings.HasPrefix(place, "the memory of /proc/") && what == "1 " {
			memory++
			delete(where, place)
		}
	}
	assert.NotZero(t, memory, "the search finds the canary in the memory of the step's shell: %s", logs)
	delete(where, "file /tmp/requirements.txt")
	assert.Empty(t, where, "and nothing else: %s", logs)
	assert.NotContains(t, logs, "probe: socket reachable", "no daemon's session is within reach")
	assert.NotContains(t, logs, stack.registry.Password)
	assert.NotContains(t, logs, auth)
	require.NotEmpty(t, sent["image"])
}

// TestCollidingUserNames: user long's name is cut for its label; under the
// old scheme the cut was the whole name of user oldCut. On the real API
// server, with long's build labelled the old way (as builds made before
// the change are), oldCut's logs, cleanup and limits never see it; and
// long's new builds get a label that is no one's name.
func TestCollidingUserNames(t *testing.T) {
	cordon(t)
	ctx := context.Background()
	long := strings.Repeat("a", 70)
	sum := sha256.Sum256([]byte(long))
	oldCut := strings.Repeat("a", 46) + "-" + hex.EncodeToString(sum[:])[:16]

	legacyDone := makeJob(t, ctx, long, "legacy1", succeeded, 48*time.Hour, true)
	legacyRunning := makeJob(t, ctx, long, "legacy2", running, 0, true)
	for _, j := range []*batchv1.Job{legacyDone, legacyRunning} {
		require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := stack.kube.Client.BatchV1().Jobs(bns).Get(ctx, j.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur.Labels[names.LabelUser] = oldCut
			_, err = stack.kube.Client.BatchV1().Jobs(bns).Update(ctx, cur, metav1.UpdateOptions{})
			return err
		}))
	}
	require.Len(t, userJobs(t, oldCut), 2, "the label alone would give oldCut long's builds")

	code, body := call(t, action(t, "logs"), invoker.Web("logs", oldCut, "GET", nil))
	assert.Equal(t, 404, code, "oldCut has no builds: %v", body)

	code, body = call(t, action(t, "cleanjobs"), invoker.Web("cleanjobs", oldCut, "POST", map[string]any{"max_age_hours": 0}))
	require.Equal(t, 200, code, "%v", body)
	assert.Empty(t, body["jobs"], "oldCut's cleanup leaves long's builds")
	_, err := stack.kube.Client.BatchV1().Jobs(bns).Get(ctx, legacyDone.Name, metav1.GetOptions{})
	assert.NoError(t, err)

	var made []string
	removeJobs(t, &made)
	sp := action(t, "send", map[string]any{"max_active_builds": 1})
	code, body = call(t, sp, invoker.Web("send", oldCut, "POST", seed(oldCut+":v1")))
	require.Equal(t, 200, code, "long's running build is not oldCut's: %v", body)
	made = append(made, body["job_name"].(string))

	code, body = call(t, action(t, "send"), invoker.Web("send", long, "POST", seed(long+":v1")))
	require.Equal(t, 200, code, "%v", body)
	made = append(made, body["job_name"].(string))
	job, err := stack.kube.Client.BatchV1().Jobs(bns).Get(ctx, body["job_name"].(string), metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotEqual(t, oldCut, job.Labels[names.LabelUser], "a new build's label is no user's name")
	code, st := call(t, action(t, "logs"), invoker.Web("logs", oldCut, "GET", nil))
	require.Equal(t, 200, code, "%v", st)
	assert.Equal(t, made[0], st["job_name"], "oldCut's latest is their own")
}

// TestSharedPrefixesAreReadOnlyToUsers: with shared_repositories=runtimes
// (bound in this suite), user runtimes owns runtimes/... by the naming
// rule, yet may neither build into it (by send or ensure) nor delete the
// base image every user builds FROM: 403, no Job, and the image intact.
func TestSharedPrefixesAreReadOnlyToUsers(t *testing.T) {
	python, _ := bases(t)
	r, err := name.ParseReference(python, name.Insecure)
	require.NoError(t, err)
	auth := remote.WithAuth(&authn.Basic{Username: stack.registry.User, Password: stack.registry.Password})
	before, err := remote.Head(r, auth)
	require.NoError(t, err)

	code, body := call(t, action(t, "send"), invoker.Web("send", "runtimes", "POST", map[string]any{
		"source": python, "target": localstack.PythonRuntimeRef, "kind": "python", "file": b64("setuptools\n"),
	}))
	assert.Equal(t, 403, code, "%v", body)
	assert.Contains(t, body["error"], "shared prefix runtimes")
	assert.Empty(t, userJobs(t, "runtimes"), "nothing created")

	// ensure pushes where send may: runtimes:python-<hash> and the cache
	// runtimes/buildcache would both be under the shared prefix.
	code, body = ensureCall(t, ensureZip(t, python), "runtimes", map[string]any{"builder": "python:3.13", "file": b64("setuptools\n")})
	assert.Equal(t, 403, code, "%v", body)
	assert.Contains(t, body["error"], "shared prefix runtimes")
	assert.Empty(t, userJobs(t, "runtimes"), "nothing created")

	del := action(t, "registry", map[string]any{"operation": "delete-image"})
	code, body = call(t, del, invoker.Web("delete-image", "runtimes", "DELETE", map[string]any{"image": localstack.PythonRuntimeRef}))
	assert.Equal(t, 403, code, "%v", body)

	after, err := remote.Head(r, auth)
	require.NoError(t, err, "the shared base image is still there")
	assert.Equal(t, before.Digest, after.Digest)
}

// TestUserNamesAreNotFolded: a web user named NUVOLARIS is not the admin
// namespace nuvolaris, and Devel is not devel: 400 before anything is
// read, where folding made the first an admin who sees every build.
func TestUserNamesAreNotFolded(t *testing.T) {
	p := action(t, "logs", map[string]any{"operation": "builds"})
	for _, user := range []string{"NUVOLARIS", "Devel"} {
		code, body := call(t, p, invoker.Web("builds", user, "GET", nil))
		assert.Equal(t, 400, code, "%s: %v", user, body)
		assert.Nil(t, body["builds"], user)
	}
	code, body := call(t, p, invoker.Web("builds", "nuvolaris", "GET", nil))
	assert.Equal(t, 200, code, "%v", body)
}

// TestSourcesAreAllowListed: a user's source outside the cluster registry
// and allowed_sources is 403 before any network call: the host the user
// named sees no request, and nothing is created. An admin may build from
// it.
func TestSourcesAreAllowListed(t *testing.T) {
	var probes atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probes.Add(1)
		w.Header().Set("Server", "internal-banner/1.0")
		http.NotFound(w, r)
	}))
	defer internal.Close()
	// localhost, not 127.0.0.1: the cluster registry of the suite is on
	// 127.0.0.1, and the source rules ignore ports (which refuses more).
	source := "localhost:" + internal.URL[strings.LastIndex(internal.URL, ":")+1:] + "/probe/me:1"
	p := action(t, "send")
	jobs, cms := counts(t)
	code, body := call(t, p, invoker.Web("send", "prober", "POST", map[string]any{"source": source, "target": "prober:v1", "kind": "python"}))
	assert.Equal(t, 403, code, "%v", body)
	assert.Contains(t, body["error"], "docker.io/apache/openserverless-runtime-", "it names what is allowed")
	assert.Zero(t, probes.Load(), "the named host was never contacted")
	// ensure goes through the same rules.
	ens := action(t, "send", map[string]any{"operation": "ensure"})
	code, body = call(t, ens, invoker.Web("ensure", "prober", "POST", map[string]any{"source": source, "kind": "python"}))
	assert.Equal(t, 403, code, "%v", body)
	assert.Zero(t, probes.Load(), "the named host was never contacted")
	j, c := counts(t)
	assert.Equal(t, jobs, j)
	assert.Equal(t, cms, c)

	_, body = call(t, p, invoker.Plain("send", ns, map[string]any{"source": source, "target": "prober:v1", "kind": "python"}))
	assert.Contains(t, body["error"], "does not exist", "an admin's source is looked up")
	assert.NotZero(t, probes.Load())
	assert.NotContains(t, body["error"], "internal-banner", "no text of the other end reaches the caller")
}

// podsCreatedFor are the Jobs named with prefix for which the Job
// controller has created a pod (its SuccessfulCreate events, which outlive
// the Job).
func podsCreatedFor(t *testing.T, prefix string) []string {
	t.Helper()
	events, err := stack.kube.Client.CoreV1().Events(bns).List(context.Background(), metav1.ListOptions{FieldSelector: "reason=SuccessfulCreate,involvedObject.kind=Job"})
	require.NoError(t, err)
	var jobs []string
	for _, e := range events.Items {
		if strings.HasPrefix(e.InvolvedObject.Name, prefix) && !slices.Contains(jobs, e.InvolvedObject.Name) {
			jobs = append(jobs, e.InvolvedObject.Name)
		}
	}
	return jobs
}
