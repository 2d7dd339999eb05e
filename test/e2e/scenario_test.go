//go:build e2e

package e2e

import (
	"archive/tar"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/test/invoker"
	"github.com/apache/openserverless-builder/test/localstack"
)

var tomlOnce sync.Once

// bases returns the base runtime images (TestMain pushed them), and
// writes the default buildkitd.toml (the registry is plain HTTP) once, for
// real builds.
func bases(t *testing.T) (python, golang string) {
	tomlOnce.Do(func() {
		p := action(t, "updatetoml")
		code, body := call(t, p, invoker.Plain("updatetoml", "nuvolaris", nil))
		require.Equal(t, 200, code, "%v", body)
	})
	return stack.registry.Host + "/" + localstack.PythonRuntimeRef, stack.registry.Host + "/" + localstack.GoRuntimeRef
}

// waitBuild follows job's build as user through a logs zip of its own
// until it ends, and returns its last status.
func waitBuild(t *testing.T, user, job string) map[string]any {
	t.Helper()
	return waitDone(t, action(t, "logs"), user, job)
}

// waitDone polls logs (a logs zip) as user until job's build has a final
// status (succeeded, failed or cancelled: types.Done), for at most five
// minutes, and returns that status.
func waitDone(tb testing.TB, logs *invoker.Process, user, job string) map[string]any {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		res, err := logs.RunValue(invoker.Web("logs", user, "GET", map[string]any{"job_name": job}))
		require.NoError(tb, err)
		code, st, err := invoker.Response(res)
		require.NoError(tb, err)
		require.Equal(tb, 200, code, "%v", st)
		if s, _ := st["status"].(string); types.Done(s) {
			return st
		}
		if time.Now().After(deadline) {
			tb.Fatalf("build %s still %v after 5 minutes: %v", job, st["status"], st["logs"])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// buildAndWait sends a build with params through the send zip — over the web as
// user, or as the admin namespace when user is "" — checks that send
// accepted it, and waits for it to end. It returns send's result and the
// build's last status.
func buildAndWait(t *testing.T, user string, params map[string]any, config ...map[string]any) (sent, status map[string]any) {
	t.Helper()
	a := invoker.Plain("send", ns, params)
	caller := ns
	if user != "" {
		a, caller = invoker.Web("send", user, "POST", params), user
	}
	code, sent := call(t, action(t, "send", config...), a)
	require.Equal(t, 200, code, "%v", sent)
	return sent, waitBuild(t, caller, sent["job_name"].(string))
}

// files lists the paths in an image's flattened filesystem.
func files(t *testing.T, ref string) map[string]bool {
	rc := mutate.Extract(pulled(t, ref))
	defer rc.Close()
	out := map[string]bool{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out[strings.TrimPrefix(h.Name, "/")] = true
	}
}

// pulled is the image ref names in the cluster registry, read with its
// credential.
func pulled(t *testing.T, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	require.NoError(t, err)
	img, err := remote.Image(r, remote.WithAuth(&authn.Basic{Username: stack.registry.User, Password: stack.registry.Password}))
	require.NoError(t, err)
	return img
}

// TestSeedScenario is the seed's story for real, as a user of its own (so
// that no other test's build has filled its cache): send → Job → Pod → BuildKit
// build → push with the Secret's credentials → logs shows it succeeded with
// the digest → list-images shows the tag → get-image agrees → delete-image.
func TestSeedScenario(t *testing.T) {
	python, _ := bases(t)
	req := base64.StdEncoding.EncodeToString([]byte("beautifulsoup4\nsetuptools\n"))
	sent, st := buildAndWait(t, "seed", map[string]any{
		"source": python, "target": "seed:python3.13-custom", "kind": "python", "file": req,
	})
	image := sent["image"].(string)
	assert.Equal(t, stack.registry.Host+"/seed:python3.13-custom", image)

	require.Equal(t, "succeeded", st["status"], "%v", st["logs"])
	logs := st["logs"].(string)
	assert.Contains(t, logs, "Successfully installed beautifulsoup4")
	assert.Contains(t, logs, "Successfully installed setuptools")
	digest, _ := st["digest"].(string)
	require.True(t, strings.HasPrefix(digest, "sha256:"), "the log names the pushed digest: %v", st)

	fs := files(t, image)
	assert.True(t, fs["usr/lib/python3/site-packages/bs4/__init__.py"], "the package is in the image")
	assert.False(t, fs["tmp/requirements.txt"], "the requirements file is not left behind")

	rp := action(t, "registry")
	web := func(op, method string, params map[string]any) (int, map[string]any) {
		return call(t, rp, invoker.Web(op, "seed", method, params))
	}
	code, body := web("list-images", "GET", map[string]any{"catalog": "seed"})
	require.Equal(t, 200, code, "%v", body)
	assert.Contains(t, body["tags"], "python3.13-custom")

	code, got := web("get-image", "GET", map[string]any{"image": "seed:python3.13-custom"})
	require.Equal(t, 200, code, "%v", got)
	assert.Equal(t, digest, got["digest"], "get-image's digest is the one the build pushed")
	assert.Equal(t, "nobody", got["config"].(map[string]any)["user"], "back to the runtime's unprivileged user")

	code, body = web("delete-image", "DELETE", map[string]any{"image": "seed:python3.13-custom"})
	require.Equal(t, 200, code, "%v", body)
	code, body = web("get-image", "GET", map[string]any{"image": "seed:python3.13-custom"})
	assert.Equal(t, 404, code, "%v", body)
}

func TestFailingBuild(t *testing.T) {
	python, _ := bases(t)
	req := base64.StdEncoding.EncodeToString([]byte("beautifulsoup4\nno-such-package\n"))
	_, st := buildAndWait(t, "devel", map[string]any{
		"source": python, "target": "devel:broken", "kind": "python", "file": req,
	})
	assert.Equal(t, "failed", st["status"])
	assert.Contains(t, st["logs"], "No matching distribution found for no-such-package")
	assert.Empty(t, st["digest"])
}

func TestBuildPastItsDeadline(t *testing.T) {
	python, _ := bases(t)
	req := base64.StdEncoding.EncodeToString([]byte("slow\n"))
	_, st := buildAndWait(t, "devel", map[string]any{
		"source": python, "target": "devel:slow", "kind": "python", "file": req,
	}, map[string]any{"build_timeout_seconds": 15})
	assert.Equal(t, "failed", st["status"])
	assert.Contains(t, st["reason"], "DeadlineExceeded")
}

// TestKindGoModules: the go.mod's modules go to the module cache the Go
// runtime's compile step uses (GOPATH /home/go, not the image's /go), from
// the Go module proxy: by the kind's own step on an image without
// /bin/extend (v1.22), and after the /bin/extend of go 1.25, which only
// removes go.mod. A probe build FROM the custom image then compiles and
// runs an action importing the module as the compile step does: as the
// runtime's user (nobody), with its environment, and with the module proxy
// cut (GOPROXY=off). On the former fallback, which downloaded into the
// image's GOPATH, and on go 1.25's /bin/extend alone, the probe finds no
// module and fails.
func TestKindGoModules(t *testing.T) {
	_, golang := bases(t)
	goroot, err := localstack.GoRoot()
	require.NoError(t, err)
	v125, err := localstack.GoRuntimeV125(goroot)
	require.NoError(t, err)
	push(t, stack.registry, v125, localstack.GoRuntimeV125Ref)
	// A module of few imports: the probe compiles the standard library's
	// part it needs from source. It is pinned below its latest (v0.9.1): a
	// go.mod names exact versions (minimums, for the modules that require
	// it), which the download and the probe's offline build must keep.
	gomod := "module action\n\ngo 1.22\n\nrequire github.com/pkg/errors v0.8.1\n"
	main := "package main\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/pkg/errors\"\n)\n\nfunc main() { fmt.Println(\"probe:\", errors.Wrap(errors.New(\"loaded\"), \"the module\")) }\n"
	toolchain, err := localstack.GoToolchain(goroot) // the real image ships it
	require.NoError(t, err)
	sum := goSum(t, gomod, main)
	for _, tc := range []struct{ name, source, user string }{
		{"v1.22 without /bin/extend", golang, "devel"},
		{"v1.25 with /bin/extend", stack.registry.Host + "/" + localstack.GoRuntimeV125Ref, "gopher"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sent, st := buildAndWait(t, tc.user, map[string]any{
				"source": tc.source, "target": tc.user + "/go:custom", "kind": "go", "file": b64(gomod),
			})
			require.Equal(t, "succeeded", st["status"], "%v", st["logs"])
			fs := files(t, sent["image"].(string))
			assert.True(t, fs["home/go/pkg/mod/github.com/pkg/errors@v0.8.1/errors.go"], "the module is in the compile step's module cache")
			assert.False(t, fs["home/go/pkg/mod/github.com/pkg/errors@v0.9.1/errors.go"], "at the version go.mod pins, not the latest")

			probe := map[string]string{"/bin/extend": goCompileProbe, "/opt/probe/go.mod": gomod, "/opt/probe/go.sum": sum, "/opt/probe/main.go": main}
			for p, data := range toolchain {
				probe[p] = data
			}
			_, st = buildAndWait(t, tc.user, map[string]any{"source": probeImage(t, sent["image"].(string), probe), "target": tc.user + "/go:probe", "kind": "go", "file": b64(gomod)})
			require.Equal(t, "succeeded", st["status"], "the probe compiles offline: %v", st["logs"])
			assert.Contains(t, st["logs"], "probe: the module: loaded", "and its action runs")

			// A version the module never had fails the build, with the go
			// command's message naming it.
			unmet := strings.Replace(gomod, "v0.8.1", "v0.99.0", 1)
			_, st = buildAndWait(t, tc.user, map[string]any{"source": tc.source, "target": tc.user + "/go:unmet", "kind": "go", "file": b64(unmet)})
			assert.Equal(t, "failed", st["status"])
			assert.Contains(t, st["logs"], "github.com/pkg/errors@v0.99.0", "the go command's message names the module and version")
		})
	}
}

// goCompileProbe is the /bin/extend of a go probe: it compiles and runs the
// action in /opt/probe as the Go runtime's compile step would (its
// environment, docs/kinds.md), as nobody, with the module proxy cut.
const goCompileProbe = `#!/bin/sh
set -eu
rm -rf /tmp/probe && cp -r /opt/probe /tmp/probe && chmod -R a+rwX /tmp/probe
su -s /bin/sh nobody -c 'cd /tmp/probe && env -i GOROOT=/usr/local/go GOPATH=/home/go PATH=/usr/local/go/bin:/usr/bin:/bin GOCACHE=/tmp GO111MODULE=on GOPROXY=off sh -c "go mod download && go build -o exec . && ./exec"'
`

// probeImage pushes, under the shared runtimes/ prefix, the image ref
// with files added, and returns its reference: a build FROM it runs the
// /bin/extend among them as its step.
func probeImage(t *testing.T, ref string, files map[string]string) string {
	t.Helper()
	img, err := localstack.WithFiles(pulled(t, ref), files)
	require.NoError(t, err)
	id, err := names.NewID()
	require.NoError(t, err)
	target := "runtimes/probe:" + id
	push(t, stack.registry, img, target)
	return stack.registry.Host + "/" + target
}

// goSum is the go.sum of a module with gomod and main.go, as a user's
// `go mod tidy` makes it (from the Go module proxy).
func goSum(t *testing.T, gomod, main string) string {
	t.Helper()
	dir, cache := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(main), 0o644))
	cmd := exec.Command("go", "mod", "tidy")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPATH="+cache, "GOFLAGS=-modcacherw", "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	require.NoError(t, err)
	return string(sum)
}

// TestCleanJobsAfterBuilds: finished build Jobs go, with their pods and
// ConfigMaps (garbage collector).
func TestCleanJobsAfterBuilds(t *testing.T) {
	python, _ := bases(t)
	ctx := context.Background()
	sent, st := buildAndWait(t, "finisher", map[string]any{
		"source": python, "target": "finisher:v1", "kind": "python",
	})
	job := sent["job_name"].(string)
	require.Equal(t, "succeeded", st["status"], "%v", st["logs"])

	cp := action(t, "cleanjobs")
	code, body := call(t, cp, invoker.Web("cleanjobs", "finisher", "POST", map[string]any{"max_age_hours": 0}))
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, []any{job}, body["jobs"])
	require.Eventually(t, func() bool {
		_, errJob := stack.kube.Client.BatchV1().Jobs(bns).Get(ctx, job, metav1.GetOptions{})
		_, errCM := stack.kube.Client.CoreV1().ConfigMaps(bns).Get(ctx, job, metav1.GetOptions{})
		pods, err := stack.kube.Client.CoreV1().Pods(bns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job})
		return apierrors.IsNotFound(errJob) && apierrors.IsNotFound(errCM) && err == nil && len(pods.Items) == 0
	}, 60*time.Second, 250*time.Millisecond, "the Job, its pod and its ConfigMap are gone")
}
