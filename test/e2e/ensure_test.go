//go:build e2e

package e2e

import (
	"encoding/base64"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/test/invoker"
	"github.com/apache/openserverless-builder/test/localstack"
)

// ensureZip is the send zip deployed as ensure, with the local python
// runtime as builder python:3.13 and config bound too.
func ensureZip(t *testing.T, python string, config ...map[string]any) *invoker.Process {
	t.Helper()
	bound := map[string]any{"operation": "ensure", "max_active_builds": 0,
		"builders": `{"python:3.13": {"kind": "python", "source": "` + python + `"}}`}
	return action(t, "send", append([]map[string]any{bound}, config...)...)
}

func ensureCall(t *testing.T, p *invoker.Process, user string, params map[string]any) (int, map[string]any) {
	t.Helper()
	return call(t, p, invoker.Web("ensure", user, "POST", params))
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestEnsureBuildsOnceThenAnswersAtOnce: the first ensure builds (202),
// the build succeeds, and the next answers 200 with the same image and
// creates nothing.
func TestEnsureBuildsOnceThenAnswersAtOnce(t *testing.T) {
	python, _ := bases(t)
	p := ensureZip(t, python)
	params := map[string]any{"builder": "python:3.13", "file": b64("beautifulsoup4\n")}
	code, first := ensureCall(t, p, "ensurer", params)
	require.Equal(t, 202, code, "%v", first)
	image := first["image"].(string)
	assert.True(t, strings.HasPrefix(image, stack.registry.Host+"/ensurer:python-"), image)
	st := waitBuild(t, "ensurer", first["job_name"].(string))
	require.Equal(t, types.Succeeded, st["status"], "%v", st["logs"])
	jobs := len(userJobs(t, "ensurer"))

	code, again := ensureCall(t, p, "ensurer", params)
	require.Equal(t, 200, code, "%v", again)
	assert.Equal(t, "ready", again["status"])
	assert.Equal(t, image, again["image"])
	assert.Equal(t, st["digest"], again["digest"], "the image the build pushed")
	assert.Equal(t, jobs, len(userJobs(t, "ensurer")), "an image that exists creates nothing")
}

// TestEnsureConcurrentCallsMakeOneJob: eight calls at once, each in a
// container of its own, start one build.
func TestEnsureConcurrentCallsMakeOneJob(t *testing.T) {
	python, _ := bases(t)
	procs := make([]*invoker.Process, 8)
	for i := range procs {
		procs[i] = ensureZip(t, python)
	}
	params := map[string]any{"builder": "python:3.13", "file": b64("setuptools\n")}
	results := make([]map[string]any, len(procs))
	codes := make([]int, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.RunValue(invoker.Web("ensure", "crowd", "POST", params))
			if assert.NoError(t, err) {
				codes[i], results[i], _ = invoker.Response(res)
			}
		}()
	}
	wg.Wait()
	for i := range results {
		assert.Equal(t, 202, codes[i], "%v", results[i])
		assert.Equal(t, results[0]["job_name"], results[i]["job_name"])
	}
	assert.Equal(t, 1, len(userJobs(t, "crowd")))
	waitBuild(t, "crowd", results[0]["job_name"].(string))
}

// TestEnsureMovedSourceIsANewImage: the same tag of the source, moved to
// another image, is another image, built anew.
func TestEnsureMovedSourceIsANewImage(t *testing.T) {
	bases(t)
	img, err := localstack.PythonRuntime()
	require.NoError(t, err)
	require.NoError(t, stack.registry.Push("mover/base:v1", img))
	p := ensureZip(t, stack.registry.Host+"/runtimes/python:v3.13")
	params := map[string]any{"source": stack.registry.Host + "/mover/base:v1", "kind": "python", "file": b64("setuptools\n")}
	code, before := ensureCall(t, p, "mover", params)
	require.Equal(t, 202, code, "%v", before)

	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.Config.Labels = map[string]string{"patched": "yes"}
	moved, err := mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	require.NoError(t, stack.registry.Push("mover/base:v1", moved))

	code, after := ensureCall(t, p, "mover", params)
	require.Equal(t, 202, code, "%v", after)
	assert.NotEqual(t, before["image"], after["image"])
	assert.NotEqual(t, before["source_digest"], after["source_digest"])
	assert.Equal(t, 2, len(userJobs(t, "mover")))
	waitBuild(t, "mover", before["job_name"].(string))
	waitBuild(t, "mover", after["job_name"].(string))
}

// TestEnsureFailedBuild: a build that failed is 409 with retry=false, and
// started again (202) by default.
func TestEnsureFailedBuild(t *testing.T) {
	python, _ := bases(t)
	p := ensureZip(t, python)
	params := map[string]any{"builder": "python:3.13", "file": b64("no-such-package\n")}
	code, first := ensureCall(t, p, "failer", params)
	require.Equal(t, 202, code, "%v", first)
	st := waitBuild(t, "failer", first["job_name"].(string))
	require.Equal(t, types.Failed, st["status"])
	failed := userJobs(t, "failer")
	require.Len(t, failed, 1)

	code, refused := ensureCall(t, p, "failer", map[string]any{"builder": "python:3.13", "file": b64("no-such-package\n"), "retry": false})
	assert.Equal(t, 409, code, "%v", refused)
	assert.Contains(t, refused["error"], "retry=true")

	code, again := ensureCall(t, p, "failer", params)
	require.Equal(t, 202, code, "%v", again)
	assert.Equal(t, first["job_name"], again["job_name"], "the same build, started again")
	rebuilt := userJobs(t, "failer")
	require.Len(t, rebuilt, 1)
	assert.NotEqual(t, failed[0].UID, rebuilt[0].UID, "a new Job, not the failed one")
	st = waitBuild(t, "failer", again["job_name"].(string))
	assert.Equal(t, types.Failed, st["status"])
}

// TestCapabilities: what the deployment's configuration says, through the
// zip.
func TestCapabilities(t *testing.T) {
	p := action(t, "send", map[string]any{"operation": "capabilities", "max_active_builds": 2})
	code, body := call(t, p, invoker.Web("capabilities", "looker", "GET", nil))
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, []any{"runtimes"}, body["shared_repositories"])
	assert.Equal(t, 2.0, body["limits"].(map[string]any)["max_active_builds"])
	assert.NotEmpty(t, body["builders"])
}

// TestPullHostInEveryResult: with registry_pull_host bound, every image a
// user is shown names the pull host; the build still pushes to the push
// host, where get-image finds it.
func TestPullHostInEveryResult(t *testing.T) {
	python, _ := bases(t)
	pull := map[string]any{"registry_pull_host": "pull.example:5000"}
	sent, st := buildAndWait(t, "puller", map[string]any{"source": python, "target": "puller:v1", "kind": "python", "file": b64("setuptools\n")}, pull)
	require.Equal(t, types.Succeeded, st["status"], "%v", st["logs"])
	want := "pull.example:5000/puller:v1"
	assert.Equal(t, want, sent["image"], "send")
	assert.Equal(t, want, st["image"], "logs")

	code, list := call(t, action(t, "logs", map[string]any{"operation": "builds"}, pull), invoker.Web("builds", "puller", "GET", nil))
	require.Equal(t, 200, code, "%v", list)
	require.NotEmpty(t, list["builds"])
	assert.Equal(t, want, list["builds"].([]any)[0].(map[string]any)["image"], "builds")

	code, img := call(t, action(t, "registry", map[string]any{"operation": "get-image"}, pull), invoker.Web("get-image", "puller", "GET", map[string]any{"image": "puller:v1"}))
	require.Equal(t, 200, code, "%v", img)
	assert.Equal(t, want, img["image"], "get-image")

	code, ens := ensureCall(t, ensureZip(t, python, pull), "puller", map[string]any{"builder": "python:3.13"})
	require.Equal(t, 202, code, "%v", ens)
	assert.True(t, strings.HasPrefix(ens["image"].(string), "pull.example:5000/puller:python-"), "ensure: %v", ens["image"])
	waitBuild(t, "puller", ens["job_name"].(string))
}

// TestEnsureKeepsCollidingUsersApart: users whose names fold or cut alike
// (a.b and a-b; two 70-character names sharing 60) ensure the same builder
// and file, through the zips on the real servers. Each gets a build of
// their own; the other's logs, builds and cancel touch only their own;
// and the first user's record, log and image are intact afterwards.
func TestEnsureKeepsCollidingUsersApart(t *testing.T) {
	python, _ := bases(t)
	p := ensureZip(t, python)
	lp := action(t, "logs")
	bp := action(t, "logs", map[string]any{"operation": "builds"})
	cp := action(t, "logs", map[string]any{"operation": "cancel"})
	params := map[string]any{"builder": "python:3.13", "file": b64("beautifulsoup4\n")}
	long := strings.Repeat("u", 60)
	for _, pair := range [][2]string{{"a.b", "a-b"}, {long + "vvvvvvvvvv", long + "wwwwwwwwww"}} {
		victim, other := pair[0], pair[1]
		code, first := ensureCall(t, p, victim, params)
		require.Equal(t, 202, code, "%v", first)
		st := waitBuild(t, victim, first["job_name"].(string))
		require.Equal(t, types.Succeeded, st["status"], "%v", st["logs"])

		code, theirs := ensureCall(t, p, other, params)
		require.Equal(t, 202, code, "%s gets a build of their own: %v", other, theirs)
		assert.NotEqual(t, first["job_name"], theirs["job_name"])
		ost := waitBuild(t, other, theirs["job_name"].(string))
		require.Equal(t, types.Succeeded, ost["status"], "%v", ost["logs"])

		code, body := call(t, lp, invoker.Web("logs", other, "GET", map[string]any{"job_name": first["job_name"]}))
		assert.Equal(t, 403, code, "%s reads no log of %s: %v", other, victim, body)
		code, body = call(t, cp, invoker.Web("cancel", other, "POST", map[string]any{"job_name": first["job_name"]}))
		assert.Contains(t, []int{403, 409}, code, "%s cancels nothing of %s: %v", other, victim, body)
		code, list := call(t, bp, invoker.Web("builds", other, "GET", nil))
		require.Equal(t, 200, code, "%v", list)
		for _, b := range list["builds"].([]any) {
			assert.Equal(t, other, b.(map[string]any)["user"], "%s lists their own builds only", other)
		}

		// The first user's build, its record and log, and its image.
		code, again := call(t, lp, invoker.Web("logs", victim, "GET", map[string]any{"job_name": first["job_name"]}))
		require.Equal(t, 200, code, "%v", again)
		assert.Equal(t, types.Succeeded, again["status"])
		assert.Equal(t, st["digest"], again["digest"])
		assert.Equal(t, st["logs"], again["logs"], "the log as it was")
		code, ready := ensureCall(t, p, victim, params)
		require.Equal(t, 200, code, "%v", ready)
		assert.Equal(t, first["image"], ready["image"])
		assert.Equal(t, st["digest"], ready["digest"], "%s's image is the one their build pushed", victim)
	}
}
