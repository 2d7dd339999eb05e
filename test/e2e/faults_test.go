//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/test/faults"
	"github.com/apache/openserverless-builder/test/invoker"
	"github.com/apache/openserverless-builder/test/localstack"
	"github.com/apache/openserverless-builder/test/whiskfake"
)

// TestFaultSourceRegistryDownOrFrozen (#35, case 2): send resolves a source
// whose registry is down (nothing listens) or frozen (it accepts the
// connection and never answers). The answer is a 503 naming the source,
// in the builder's words, before the action's time limit (the invoker's
// 60 s, which would otherwise end the activation with no answer), and
// nothing is created. Before the resolution was bounded, a frozen
// registry held send until it was killed; a stopped one was a 502.
func TestFaultSourceRegistryDownOrFrozen(t *testing.T) {
	for name, host := range map[string]string{"down": faults.Closed(t), "frozen": faults.Frozen(t)} {
		t.Run(name, func(t *testing.T) {
			src := host + "/runtimes/python:v1"
			jobs, cms := counts(t)
			// An admin may build from any registry: the source policy is
			// not what is tested.
			code, body := call(t, action(t, "send"), invoker.Web("send", "nuvolaris", "POST", map[string]any{"source": src, "target": "nuvolaris:faults", "kind": "python"}))
			assert.Equal(t, 503, code, "%v", body)
			msg, _ := body["error"].(string)
			assert.Contains(t, msg, "resolving source "+src)
			assert.Contains(t, msg, "try again shortly")
			assert.NotContains(t, msg, "dial tcp")
			assert.NotContains(t, msg, "connection refused")
			j, c := counts(t)
			assert.Equal(t, jobs, j, "no Job")
			assert.Equal(t, cms, c, "no ConfigMap")
		})
	}
	// A source whose registry answers builds at once: nothing of the
	// refused sends stands in its way.
	refused := time.Now()
	_, st := buildAndWait(t, "nuvolaris", seed("nuvolaris:faults"))
	assert.Equal(t, types.Succeeded, st["status"], "%v", st["logs"])
	t.Logf("recovery: the next build succeeded %s after the refusals", time.Since(refused).Round(time.Second))
}

// abandonBuild leaves a build of user as a send that OpenWhisk killed
// between creating its Job and resuming it leaves it: its index entry and
// its Job, suspended, with no context. It returns the Job's name.
func abandonBuild(t *testing.T, user, id string) string {
	t.Helper()
	ctx := context.Background()
	conf, err := config.FromParams(params.Params{"buildkit_image": localstack.BuildkitImage, "transfer_image": localstack.TransferImage})
	require.NoError(t, err)
	python, _ := kinds.Lookup("python")
	plan := buildspec.NewPlan(buildspec.Request{Source: seedSource(), Repo: user, Tag: "v1", Kind: python, File: []byte("x\n")},
		user, id, stack.registry.Host, buildspec.Base{Digest: "sha256:" + strings.Repeat("c", 64)}, conf)
	index := indexOf(user)
	h, err := index.Load(ctx)
	require.NoError(t, err)
	require.NoError(t, index.Add(ctx, h, builds.Entry{Job: plan.Name(), Created: time.Now().UTC()}, nil, func(builds.History) error { return nil }))
	_, err = stack.kube.Client.BatchV1().Jobs(bns).Create(ctx, plan.Job(), metav1.CreateOptions{})
	require.NoError(t, err)
	return plan.Name()
}

// TestFaultKilledSendLeavesNoPhantom (#35, case 4): a send killed after it
// entered its build and created the Job, before it resumed it, leaves a
// suspended Job. While its send could still be resuming it
// (builds.PendingGrace, a minute) it counts against the user's limit;
// after that the next send is not refused by it and removes it, Job and
// entry, and cleanjobs removes another user's. Before, such a Job held
// its user's quota until cleanjobs' cutoff (24 hours by default).
func TestFaultKilledSendLeavesNoPhantom(t *testing.T) {
	ctx := context.Background()
	cordon(t) // the new builds wait: what is tested is send and cleanjobs
	phantom := abandonBuild(t, "phantom", "0000000001")
	other := abandonBuild(t, "phantom2", "0000000002")
	send := action(t, "send", map[string]any{"max_active_builds": 1})

	code, body := call(t, send, invoker.Web("send", "phantom", "POST", seed("phantom:v2")))
	assert.Equal(t, 429, code, "while its send could be resuming it, it counts: %v", body)

	// After the grace, the next send is admitted.
	abandoned := time.Now()
	require.Eventually(t, func() bool {
		code, body = call(t, send, invoker.Web("send", "phantom", "POST", seed("phantom:v2")))
		return code == 200
	}, builds.PendingGrace+30*time.Second, 5*time.Second, "the abandoned build stops counting after PendingGrace: %v", body)
	t.Logf("recovery: the next send was admitted %s after the first refusal", time.Since(abandoned).Round(time.Second))
	gone := func(name string) bool {
		j, err := stack.kube.Client.BatchV1().Jobs(bns).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err) || err == nil && j.DeletionTimestamp != nil
	}
	assert.True(t, gone(phantom), "send removed the abandoned Job")
	h, err := indexOf("phantom").Load(ctx)
	require.NoError(t, err)
	for _, j := range h.Jobs {
		assert.NotEqual(t, phantom, j.Name, "the index no longer names it")
	}

	// cleanjobs, with the default age, removes the other user's.
	code, body = call(t, action(t, "cleanjobs"), invoker.Plain("cleanjobs", "nuvolaris", nil))
	require.Equal(t, 200, code, "%v", body)
	assert.Contains(t, jsonText(body["jobs"]), other)
	assert.True(t, gone(other), "cleanjobs removed the abandoned Job")
}

// TestFaultUnreachableCacheIsNoSendFailure (#35, case 9): the action cannot
// reach the registry to look up the user's build cache (here the cluster
// registry is named by an address nothing listens on; the source, whose
// registry the Secret has a credential for, still resolves). send starts
// the build anyway, without importing the cache, and the build's note
// says so in the builder's words: in the Job, and in logs. Before, the
// lookup's failure was send's, a 502.
func TestFaultUnreachableCacheIsNoSendFailure(t *testing.T) {
	ctx := context.Background()
	cordon(t) // the build would push to the same address
	host := faults.Closed(t)
	code, body := call(t, action(t, "send", map[string]any{"registry_host": host}), invoker.Web("send", "nuvolaris", "POST", seed("nuvolaris:cacheless")))
	require.Equal(t, 200, code, "%v", body)
	name, _ := body["job_name"].(string)
	t.Cleanup(func() {
		bg := metav1.DeletePropagationBackground
		_ = stack.kube.Client.BatchV1().Jobs(bns).Delete(context.Background(), name, metav1.DeleteOptions{PropagationPolicy: &bg})
	})
	job, err := stack.kube.Client.BatchV1().Jobs(bns).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	note := job.Annotations[names.AnnotationNote]
	assert.Contains(t, note, "built without the build cache: looking up "+host+"/nuvolaris/buildcache:python failed: ")
	assert.NotContains(t, note, "dial tcp")
	for _, c := range job.Spec.Template.Spec.InitContainers {
		assert.NotEqual(t, names.StepFetchCache, c.Name, "no cache is fetched")
	}

	code, body = call(t, action(t, "logs", map[string]any{"registry_host": host}), invoker.Web("logs", "nuvolaris", "POST", map[string]any{"job_name": name}))
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, note, body["note"], "logs says so")
}

// TestFaultFrozenRegistryAnswersBeforeTheDeadline (#35, case 10, the
// registry): the cluster registry accepts connections and never answers
// (a proxy in front of it, frozen). A registry action limited to 8 s, as
// OpenWhisk limits it (the harness stops waiting then), answers 503, "did
// not answer in time", before its activation's deadline
// (actionloop.AnswerMargin), where it would otherwise be ended with no
// answer, and the warm process serves its next activation the same way;
// the connections it gave up on do not pile up, and are all closed soon
// after. Once the registry answers again, the same warm process lists it.
func TestFaultFrozenRegistryAnswersBeforeTheDeadline(t *testing.T) {
	proxy := faults.NewProxy(t, stack.registry.Host)
	p := actionWithin(t, "registry", 8*time.Second, map[string]any{"registry_host": proxy.Addr, "registry_user": stack.registry.User, "registry_password": stack.registry.Password})
	proxy.Freeze(true)
	for range 2 {
		code, body := call(t, p, invoker.Web("list-catalogs", "devel", "GET", nil))
		assert.Equal(t, 503, code, "%v", body)
		assert.Contains(t, body["error"], "the registry did not answer in time; try again shortly")
		// What the action gave up on does not pile up: Go's transport
		// lets a dial the request no longer waits for run to its end
		// (here the TLS handshake's 10 s limit, on a server that never
		// answers), so one connection, the latest's, may be open still.
		n, err := faults.Conns(p.Pid(), proxy.Addr)
		require.NoError(t, err)
		assert.LessOrEqual(t, n, 1, "connections to the frozen registry after an activation")
	}
	assert.Eventually(t, func() bool {
		n, err := faults.Conns(p.Pid(), proxy.Addr)
		return err == nil && n == 0
	}, 15*time.Second, 100*time.Millisecond, "the action holds no connection to the registry it gave up on")
	proxy.Freeze(false)
	thawed := time.Now()
	code, body := call(t, p, invoker.Web("list-catalogs", "devel", "GET", nil))
	assert.Equal(t, 200, code, "the warm action serves the next activation: %v", body)
	t.Logf("recovery: the registry listed %s after it answered again", time.Since(thawed).Round(time.Millisecond))
}

// TestFaultDaemonKilledMidBuild (#35, case 6): buildkitd dies while the
// build step runs (here the user's install waits on an index that never
// answers). The build step exits non-zero, the build fails, and logs
// names the step and shows the daemon's last lines. Before, logs showed
// the steps' logs alone, and nothing of the daemon.
func TestFaultDaemonKilledMidBuild(t *testing.T) {
	ctx := context.Background()
	file := base64.StdEncoding.EncodeToString([]byte("--index-url http://" + faults.Frozen(t) + "/simple\nrequests\n"))
	code, body := call(t, action(t, "send"), invoker.Web("send", "devel", "POST", map[string]any{
		"source": seedSource(), "target": "devel:daemon-killed", "kind": "python", "file": file}))
	require.Equal(t, 200, code, "%v", body)
	job := body["job_name"].(string)

	// Once the build step runs, its daemon is killed, as the node's OOM
	// killer or a crash would.
	var pid int
	require.Eventually(t, func() bool {
		pods, err := stack.kube.Client.CoreV1().Pods(bns).List(ctx, metav1.ListOptions{LabelSelector: names.PodSelector(job)})
		if err != nil || len(pods.Items) == 0 {
			return false
		}
		pod := &pods.Items[0]
		for _, cs := range pod.Status.InitContainerStatuses {
			if cs.Name == names.StepBuild && cs.State.Running != nil {
				pid = localstack.DaemonPID(pod)
				return pid != 0
			}
		}
		return false
	}, 2*time.Minute, 200*time.Millisecond, "the build step runs")
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))

	st := waitDone(t, action(t, "logs"), "devel", job)
	assert.Equal(t, types.Failed, st["status"])
	assert.Contains(t, st["message"], "step build failed")
	assert.Contains(t, st["logs"], "==> build\n")
	assert.Contains(t, st["logs"], "==> buildkitd (its last lines") // before it was restarted, if the node did that first

	// The next build of that target, from an index that answers, builds.
	killed := time.Now()
	_, st = buildAndWait(t, "devel", seed("devel:daemon-killed"))
	assert.Equal(t, types.Succeeded, st["status"], "%v", st["logs"])
	t.Logf("recovery: the next build succeeded %s after the failed one ended", time.Since(killed).Round(time.Second))
}

// TestFaultCleanjobsDuringBuilds (#35, case 8): the schedule's cleanjobs
// runs again and again, with no age (max_age_hours 0), while builds are
// sent, one is cancelled, and they finish. Nothing of a build is deleted
// while it is created or runs: every send is admitted and every build
// ends as it would alone (succeeded, or cancelled by its user); each
// ended build has its record, once. Before, a cleanjobs with no age
// deleted a build's Job between its creation (suspended) and its
// resumption, and that send failed.
func TestFaultCleanjobsDuringBuilds(t *testing.T) {
	ctx := context.Background()
	cleaner := action(t, "cleanjobs")
	stop := make(chan struct{})
	cleaned := make(chan int)
	go func() {
		runs := 0
		defer func() { cleaned <- runs }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if res, err := cleaner.RunValue(invoker.Plain("cleanjobs", "nuvolaris", map[string]any{"max_age_hours": 0})); err == nil && res["error"] == nil {
				runs++
			}
		}
	}()
	send, logs, cancel := action(t, "send"), action(t, "logs"), action(t, "logs", map[string]any{"operation": "cancel"})
	type build struct{ user, job string }
	var sent []build
	for i := range 6 {
		user := fmt.Sprintf("sweep%d", i%3)
		// No file: the build copies its source, quickly.
		code, body := call(t, send, invoker.Web("send", user, "POST", map[string]any{"source": seedSource(), "target": fmt.Sprintf("%s:v%d", user, i), "kind": "python"}))
		require.Equal(t, 200, code, "send %d during cleanjobs: %v", i, body)
		sent = append(sent, build{user, body["job_name"].(string)})
	}
	code, body := call(t, cancel, invoker.Web("cancel", sent[0].user, "POST", map[string]any{"job_name": sent[0].job}))
	cancelled := code == 200
	if !cancelled {
		assert.Contains(t, body["error"], "finished already", "it may have ended first: %v", body)
	}
	for i, b := range sent {
		st := waitDone(t, logs, b.user, b.job)
		want := types.Succeeded
		if i == 0 && cancelled {
			want = types.Cancelled
		}
		assert.Equal(t, want, st["status"], "%s: %v", b.job, st["reason"])
	}
	close(stop)
	runs := <-cleaned
	assert.Positive(t, runs, "cleanjobs ran meanwhile")
	// The last runs leave every build recorded once, its Job gone.
	code, body = call(t, cleaner, invoker.Plain("cleanjobs", "nuvolaris", map[string]any{"max_age_hours": 0}))
	require.Equal(t, 200, code, "%v", body)
	for _, b := range sent {
		cm, err := stack.kube.Client.CoreV1().ConfigMaps(bns).Get(ctx, names.RecordName(b.job), metav1.GetOptions{})
		require.NoError(t, err, "%s has its record", b.job)
		rec, ok := builds.RecordOf(cm)
		require.True(t, ok)
		assert.Equal(t, b.user, rec.User)
	}
}

// tagDigest is the digest the cluster registry's tag ref names.
func tagDigest(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(stack.registry.Host+"/"+ref, name.Insecure)
	require.NoError(t, err)
	desc, err := remote.Head(r, remote.WithAuth(&authn.Basic{Username: stack.registry.User, Password: stack.registry.Password}))
	require.NoError(t, err)
	return desc.Digest.String()
}

// TestFaultRegistryDownAtPush (#35, case 1): the cluster registry stops
// while a build of an existing tag runs, before its push, and comes back
// once the build has ended. The build fails naming its push step; the tag
// still names the image it named (never a partial one); the same request
// sent again, the registry back, succeeds.
func TestFaultRegistryDownAtPush(t *testing.T) {
	ctx := context.Background()
	send, logs := action(t, "send"), action(t, "logs")
	const target = "devel:pushfault"
	_, st := buildAndWait(t, "devel", seed(target))
	require.Equal(t, types.Succeeded, st["status"], "%v", st["logs"])
	before := tagDigest(t, target)

	again := seed(target)
	again["file"] = base64.StdEncoding.EncodeToString([]byte("beautifulsoup4\n"))
	code, body := call(t, send, invoker.Web("send", "devel", "POST", again))
	require.Equal(t, 200, code, "%v", body)
	job := body["job_name"].(string)
	require.Eventually(t, func() bool { return stepRuns(ctx, job, names.StepBuild) }, 2*time.Minute, 100*time.Millisecond, "the build step runs")
	stack.registry.Stop()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			require.NoError(t, stack.registry.Start(context.Background()))
		}
	})
	st = waitDone(t, logs, "devel", job)
	require.NoError(t, stack.registry.Start(ctx))
	restarted = true
	back := time.Now()
	assert.Equal(t, types.Failed, st["status"])
	assert.Contains(t, st["message"], "step push failed")
	assert.Equal(t, before, tagDigest(t, target), "the tag names the image it named")

	_, st = buildAndWait(t, "devel", again)
	require.Equal(t, types.Succeeded, st["status"], "the same request, the registry back: %v", st["logs"])
	assert.NotEqual(t, before, tagDigest(t, target))
	t.Logf("recovery: the next build succeeded %s after the registry was back", time.Since(back).Round(time.Second))
}

// stepRuns reports whether step of job's pod is running.
func stepRuns(ctx context.Context, job, step string) bool {
	pods, err := stack.kube.Client.CoreV1().Pods(bns).List(ctx, metav1.ListOptions{LabelSelector: names.PodSelector(job)})
	if err != nil || len(pods.Items) == 0 {
		return false
	}
	for _, list := range [][]corev1.ContainerStatus{pods.Items[0].Status.InitContainerStatuses, pods.Items[0].Status.ContainerStatuses} {
		for _, cs := range list {
			if cs.Name == step && cs.State.Running != nil {
				return true
			}
		}
	}
	return false
}

// TestFaultAPIServerRestartUnderSends (#35, case 3): the API server is
// restarted (stopped by its PID, started again on its address and
// storage) in the middle of a burst of sends by three users, each a
// send every 300 ms. Every send answers: a build, or an error saying the
// API server failed (502) or did not answer (503), or the limit (429).
// Every build it answered with runs to an end. Once PendingGrace has
// passed and cleanjobs has run, no index names a build that was never
// created, and no Job is left suspended.
func TestFaultAPIServerRestartUnderSends(t *testing.T) {
	ctx := context.Background()
	users := []string{"burst0", "burst1", "burst2"}
	type answer struct {
		user, job string
		code      int
		at        time.Time
	}
	answers := make(chan answer, 3*8)
	var wg sync.WaitGroup
	for _, user := range users {
		send := action(t, "send", map[string]any{"max_active_builds": 2})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 8 {
				// No file: the build copies its source, quickly.
				res, err := send.RunValue(invoker.Web("send", user, "POST", map[string]any{"source": seedSource(), "target": fmt.Sprintf("%s:v%d", user, i), "kind": "python"}))
				code := 0
				var body map[string]any
				if err == nil {
					code, body, err = invoker.Response(res)
				}
				job, _ := body["job_name"].(string)
				if err != nil {
					job = err.Error()
				}
				answers <- answer{user, job, code, time.Now()}
				time.Sleep(300 * time.Millisecond)
			}
		}()
	}
	// The limit holds throughout: a sampler counts each user's started,
	// unfinished builds (a suspended Job is a send still deciding).
	sampling, sampled := make(chan struct{}), make(chan map[string]int)
	go func() {
		most := map[string]int{}
		defer func() { sampled <- most }()
		for {
			select {
			case <-sampling:
				return
			case <-time.After(200 * time.Millisecond):
			}
			for _, user := range users {
				list, err := stack.kube.Client.BatchV1().Jobs(bns).List(ctx, metav1.ListOptions{LabelSelector: names.UserSelector(user)})
				if err != nil {
					continue // the API server is restarting
				}
				active := 0
				for _, j := range list.Items {
					if _, done := builds.FinishedAt(&j); !done && (j.Spec.Suspend == nil || !*j.Spec.Suspend) {
						active++
					}
				}
				most[user] = max(most[user], active)
			}
		}
	}()
	time.Sleep(time.Second)
	restarted := time.Now()
	require.NoError(t, stack.kube.RestartAPIServer(ctx))
	back := time.Now()
	wg.Wait()
	close(answers)

	logs := action(t, "logs")
	var built, refused int
	codes := map[int]int{}
	var recovered time.Time // when the first build sent after the restart ended well
	for a := range answers {
		codes[a.code]++
		switch a.code {
		case 200:
			built++
			st := waitDone(t, logs, a.user, a.job)
			assert.True(t, types.Done(st["status"].(string)), "%s ends", a.job)
			if end, err := time.Parse(time.RFC3339, fmt.Sprint(st["finished"])); err == nil && a.at.After(back) && st["status"] == types.Succeeded && (recovered.IsZero() || end.Before(recovered)) {
				recovered = end
			}
		case 429, 502, 503:
			refused++
		default:
			t.Errorf("%s: a send answered %d (%s)", a.user, a.code, a.job)
		}
	}
	assert.Positive(t, built, "sends went through around the restart")
	t.Logf("%d builds, %d refusals; answers by status: %v", built, refused, codes)
	if recovered.IsZero() {
		// Every send of the burst answered before the API server was back.
		_, st := buildAndWait(t, users[0], map[string]any{"source": seedSource(), "target": users[0] + ":after", "kind": "python"})
		assert.Equal(t, types.Succeeded, st["status"], "%v", st["logs"])
		recovered = time.Now()
	}
	t.Logf("recovery: the first build sent after the restart succeeded %s after the API server was back", recovered.Sub(back).Round(time.Second))
	close(sampling)
	most := <-sampled
	for _, user := range users {
		assert.LessOrEqual(t, most[user], 2, "%s: running builds at once, max_active_builds 2", user)
	}
	t.Logf("most running builds at once, by user: %v", most)

	// Past PendingGrace since the restart, cleanjobs leaves nothing of a
	// send that the restart stopped half-way.
	time.Sleep(time.Until(restarted.Add(builds.PendingGrace + time.Second)))
	code, body := call(t, action(t, "cleanjobs"), invoker.Plain("cleanjobs", "nuvolaris", nil))
	require.Equal(t, 200, code, "%v", body)
	t.Logf("cleanjobs: %v", body["message"])
	for _, user := range users {
		h, err := indexOf(user).Load(ctx)
		require.NoError(t, err)
		known := map[string]bool{}
		for _, j := range h.Jobs {
			known[j.Name] = true
		}
		for _, r := range h.Records {
			known[r.JobName] = true
		}
		cm, err := stack.kube.Client.CoreV1().ConfigMaps(bns).Get(ctx, names.IndexName(user), metav1.GetOptions{})
		require.NoError(t, err)
		var doc struct {
			Builds []builds.Entry `json:"builds"`
		}
		require.NoError(t, json.Unmarshal([]byte(cm.Data["builds.json"]), &doc))
		for _, e := range doc.Builds {
			assert.True(t, known[e.Job], "%s: the index names %s, a build that was never created", user, e.Job)
		}
		jobs, err := stack.kube.Client.BatchV1().Jobs(bns).List(ctx, metav1.ListOptions{LabelSelector: names.UserSelector(user)})
		require.NoError(t, err)
		for _, j := range jobs.Items {
			assert.False(t, j.Spec.Suspend != nil && *j.Spec.Suspend, "%s is left suspended", j.Name)
		}
	}
}

// TestFaultSlowAPIServerAnswersBeforeTheDeadline (#35, case 10, the API
// server): every request to the API server takes 5 s more (a proxy holds
// what the client sends). send, limited to 20 s as OpenWhisk limits it,
// answers 503 before its deadline, twice from the warm process, where it
// would otherwise be ended with no answer; neither leaves a connection
// behind but the one its client keeps for the next request. Once the API
// server answers at its pace again, the same warm process starts the
// build, and the build succeeds.
func TestFaultSlowAPIServerAnswersBeforeTheDeadline(t *testing.T) {
	u, err := url.Parse(stack.kube.Server)
	require.NoError(t, err)
	proxy := faults.NewProxy(t, u.Host)
	proxy.SetDelay(5 * time.Second)
	require.Contains(t, stack.saKubeconfig, stack.kube.Server)
	kubeconfig := strings.ReplaceAll(stack.saKubeconfig, stack.kube.Server, "https://"+proxy.Addr)
	send := actionWithin(t, "send", 20*time.Second, map[string]any{"kubeconfig": kubeconfig})
	var held []int
	for range 2 {
		code, body := call(t, send, invoker.Web("send", "slowapi", "POST", seed("slowapi:v1")))
		assert.Equal(t, 503, code, "%v", body)
		assert.Contains(t, body["error"], "did not answer in time; try again shortly")
		n, err := faults.Conns(send.Pid(), proxy.Addr)
		require.NoError(t, err)
		held = append(held, n)
	}
	// Kubernetes' client keeps one connection (HTTP/2) for its requests;
	// one more per activation would be a leak.
	assert.LessOrEqual(t, held[1], 1, "connections held after each activation: %v", held)
	assert.Equal(t, held[0], held[1], "connections held after each activation: %v", held)

	proxy.SetDelay(0)
	healed := time.Now()
	code, body := call(t, send, invoker.Web("send", "slowapi", "POST", seed("slowapi:v1")))
	require.Equal(t, 200, code, "the warm action serves the next activation: %v", body)
	st := waitDone(t, action(t, "logs"), "slowapi", body["job_name"].(string))
	assert.Equal(t, types.Succeeded, st["status"], "%v", st["logs"])
	t.Logf("recovery: the next build succeeded %s after the API server answered at its pace", time.Since(healed).Round(time.Second))
}

// TestFaultBuildDiskFull (#35, case 7): the user's install writes more
// than build_disk (1Gi here; the ballast package writes 1200 MiB) and the
// node evicts the pod, as a kubelet does. The user is told, by send
// --follow's exit code and output, by logs and by builds, that the build
// used more disk than build_disk allows, with its value; nothing of the
// build runs on; the same request builds once the operator gives builds
// more disk. Before, the build said only "step build failed (exit code
// 137)" and the Job's BackoffLimitExceeded.
func TestFaultBuildDiskFull(t *testing.T) {
	ctx := context.Background()
	const user = "diskfull"
	bin := builderCommand(t)
	api := whiskfake.New(filepath.Join(stack.root, "build"), invoker.Merge(bound(), map[string]any{"build_disk": "1Gi"}), map[string]string{"uuid-disk:key": user})
	defer api.Close()
	home := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(home, ".wskprops"), []byte("APIHOST="+api.URL+"\nAUTH=uuid-disk:key\nNAMESPACE="+user+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(home, "requirements.txt"), []byte("ballast\n"), 0o600))
	cmd := exec.Command(bin, "send", "--source", seedSource(), "--target", user+":v1", "--requirements", "requirements.txt", "--follow")
	cmd.Env, cmd.Dir = []string{"HOME=" + home}, home
	code, out := runCommand(t, cmd)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "the build failed: "+builds.ReasonDiskFull+": the build used more disk than build_disk (1Gi) allows")

	list := buildsOf(t, user)
	require.Len(t, list, 1)
	b := list[0].(map[string]any)
	assert.Equal(t, types.Failed, b["status"])
	assert.Contains(t, b["reason"], builds.ReasonDiskFull+": the build used more disk than build_disk (1Gi) allows")
	job := b["job_name"].(string)
	st := waitDone(t, action(t, "logs"), user, job)
	assert.Contains(t, st["message"], "ask your operator for a larger build_disk")
	assert.Contains(t, st["logs"], fmt.Sprintf("installing %d MiB", localstack.BallastMiB))
	pods, err := stack.kube.Client.CoreV1().Pods(bns).List(ctx, metav1.ListOptions{LabelSelector: names.PodSelector(job)})
	require.NoError(t, err)
	require.Len(t, pods.Items, 1)
	assert.Equal(t, "Evicted", pods.Items[0].Status.Reason)
	assert.Zero(t, localstack.DaemonPID(&pods.Items[0]), "the build's daemon was stopped with it")

	// More disk, as the operator would give: the same request builds.
	evicted := time.Now()
	_, st = buildAndWait(t, user, map[string]any{"source": seedSource(), "target": user + ":v1", "kind": "python", "file": base64.StdEncoding.EncodeToString([]byte("ballast\n"))})
	assert.Equal(t, types.Succeeded, st["status"], "%v", st["logs"])
	t.Logf("recovery: the next build, with more disk, succeeded %s after the eviction was reported", time.Since(evicted).Round(time.Second))
}

// buildsOf is the first page of user's builds, as the builds action lists
// them.
func buildsOf(t *testing.T, user string) []any {
	t.Helper()
	code, list := call(t, action(t, "logs", map[string]any{"operation": "builds"}), invoker.Web("builds", user, "GET", nil))
	require.Equal(t, 200, code, "%v", list)
	return list["builds"].([]any)
}

// TestFaultNodeLost (#35, case 5): the node dies under two running builds
// (the local node and every process it started killed at once, as a power
// loss; a cordoned witness node stays, as the rest of a cluster does). The
// user cancels one while its node does not answer: the answer comes within
// cancel's time and the build is recorded cancelled. The control plane
// finds the node unreachable and takes the other's pod away: that build
// ends failed with the node's reason in logs and builds, cleanjobs records
// it, nothing of either runs on, and once the node is back the same
// request builds, the user's limit free. Before, cancel answered 502 after
// its pod's minute and left no record of the build, and logs answered 502
// for a build whose node is lost.
func TestFaultNodeLost(t *testing.T) {
	ctx := context.Background()
	const user = "nodelost"
	stopWitness, err := stack.kube.StartWitness(ctx, localstack.DefaultTools())
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, stopWitness(context.Background())) })
	send, logs := action(t, "send"), action(t, "logs")
	// cancel limited to 20 s: its wait for a pod that never goes ends
	// before the action's deadline, whatever the limit.
	cancel := actionWithin(t, "logs", 20*time.Second, map[string]any{"operation": "cancel"})
	request := func(tag, file string) map[string]any {
		return map[string]any{"source": seedSource(), "target": user + ":" + tag, "kind": "python", "file": base64.StdEncoding.EncodeToString([]byte(file))}
	}
	// Two builds whose installs never end: both run when the node dies.
	var jobs []string
	var pods []corev1.Pod
	for _, tag := range []string{"v1", "v2"} {
		code, body := call(t, send, invoker.Web("send", user, "POST", request(tag, "slow\n")))
		require.Equal(t, 200, code, "%v", body)
		jobs = append(jobs, body["job_name"].(string))
	}
	for _, job := range jobs {
		require.Eventually(t, func() bool { return stepRuns(ctx, job, names.StepBuild) }, 2*time.Minute, 100*time.Millisecond, "the build step runs")
		list, err := stack.kube.Client.CoreV1().Pods(bns).List(ctx, metav1.ListOptions{LabelSelector: names.PodSelector(job)})
		require.NoError(t, err)
		require.Len(t, list.Items, 1)
		pods = append(pods, list.Items[0])
	}
	failed, cancelled := jobs[0], jobs[1]

	require.NoError(t, stack.kube.LoseNode())
	lost := time.Now()
	back := false
	t.Cleanup(func() {
		if !back {
			assert.NoError(t, stack.kube.StartNode(context.Background(), localstack.DefaultTools()))
		}
	})
	for i := range pods {
		assert.Empty(t, localstack.PodPIDs(&pods[i]), "no process of the build survives its node")
	}

	// Cancelled while its node does not answer: recorded, and said so.
	code, body := call(t, cancel, invoker.Web("cancel", user, "POST", map[string]any{"job_name": cancelled}))
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, types.Cancelled, body["status"])
	assert.Contains(t, body["message"], "its node does not answer")

	// The other ends with the node's reason, in logs and in builds.
	st := waitDone(t, logs, user, failed)
	if end, err := time.Parse(time.RFC3339, fmt.Sprint(st["finished"])); assert.NoError(t, err) {
		t.Logf("the build ended %s after its node was lost", end.Sub(lost).Round(time.Second))
	}
	assert.Equal(t, types.Failed, st["status"])
	assert.Contains(t, st["reason"], builds.ReasonNodeLost+": the node "+localstack.NodeName+" running the build stopped answering")
	assert.Contains(t, st["reason"], "send it again")
	byJob := func() map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, b := range buildsOf(t, user) {
			out[b.(map[string]any)["job_name"].(string)] = b.(map[string]any)
		}
		return out
	}
	list := byJob()
	require.Contains(t, list, failed)
	require.Contains(t, list, cancelled, "the cancelled build is recorded")
	assert.Contains(t, list[failed]["reason"], builds.ReasonNodeLost)
	assert.Equal(t, types.Cancelled, list[cancelled]["status"])
	assert.Contains(t, list[cancelled]["reason"], "its node "+localstack.NodeName+" does not answer")

	// cleanjobs records the ended build once and removes its Job.
	code, body = call(t, action(t, "cleanjobs"), invoker.Plain("cleanjobs", "nuvolaris", map[string]any{"max_age_hours": 0}))
	require.Equal(t, 200, code, "%v", body)
	_, err = stack.kube.Client.BatchV1().Jobs(bns).Get(ctx, failed, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "cleanjobs removed the ended build's Job: %v", err)
	list = byJob()
	assert.Contains(t, list[failed]["reason"], builds.ReasonNodeLost, "its record keeps the node's reason")
	assert.Equal(t, types.Cancelled, list[cancelled]["status"])

	// The node back, its lost pods go, and the same request builds: the
	// two builds no longer count against the user's limit.
	require.NoError(t, stack.kube.StartNode(ctx, localstack.DefaultTools()))
	back = true
	require.Eventually(t, func() bool {
		left, err := stack.kube.Client.CoreV1().Pods(bns).List(ctx, metav1.ListOptions{LabelSelector: names.UserSelector(user)})
		return err == nil && len(left.Items) == 0
	}, time.Minute, 500*time.Millisecond, "the node back, the lost builds' pods are gone")
	restarted := time.Now()
	_, st = buildAndWait(t, user, request("v1", "beautifulsoup4\n"))
	assert.Equal(t, types.Succeeded, st["status"], "%v", st["logs"])
	t.Logf("recovery: the next build succeeded %s after the node was back", time.Since(restarted).Round(time.Second))
}
