//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/registry"
	"github.com/apache/openserverless-builder/test/invoker"
	"github.com/apache/openserverless-builder/test/localstack"
)

// TestMissingSourceCreatesNothing: a source that is not in the registry is
// 404, naming it, before anything is created.
func TestMissingSourceCreatesNothing(t *testing.T) {
	p := action(t, "send")
	for _, src := range []string{stack.registry.Host + "/runtimes/python:v0-missing", stack.registry.Host + "/devel/none:v1"} {
		jobs, cms := counts(t)
		code, body := call(t, p, invoker.Web("send", "devel", "POST", map[string]any{"source": src, "target": "devel:x", "kind": "python"}))
		assert.Equal(t, 404, code, "%v", body)
		assert.Contains(t, body["error"], src)
		j, c := counts(t)
		assert.Equal(t, jobs, j)
		assert.Equal(t, cms, c)
	}
}

// TestOversizedSourceCreatesNothing: a source in the real registry whose
// config is larger than registry.MaxSourceDocBytes is 400, naming it,
// before anything is created: send does not read it into the action.
func TestOversizedSourceCreatesNothing(t *testing.T) {
	img, err := mutate.Config(image(t), v1.Config{Labels: map[string]string{"pad": strings.Repeat("x", registry.MaxSourceDocBytes)}})
	require.NoError(t, err)
	push(t, stack.registry, img, "devel/huge:v1")
	src := stack.registry.Host + "/devel/huge:v1"
	jobs, cms := counts(t)
	code, body := call(t, action(t, "send"), invoker.Web("send", "devel", "POST", map[string]any{"source": src, "target": "devel:x", "kind": "python"}))
	assert.Equal(t, 400, code, "%v", body)
	assert.Contains(t, body["error"], "larger than")
	assert.Contains(t, body["error"], src)
	j, c := counts(t)
	assert.Equal(t, jobs, j)
	assert.Equal(t, cms, c)
}

// TestSourceIsPinnedAtSend: the build is FROM the digest the tag named when
// send answered, even when the tag moves before the build runs.
func TestSourceIsPinnedAtSend(t *testing.T) {
	bases(t)
	cordon(t) // the build waits while the tag moves
	py, err := localstack.PythonRuntime()
	require.NoError(t, err)
	push(t, stack.registry, py, "runtimes/moving:v1")
	before, err := py.Digest()
	require.NoError(t, err)

	p := action(t, "send")
	code, sent := call(t, p, invoker.Web("send", "pinner", "POST", map[string]any{
		"source": stack.registry.Host + "/runtimes/moving:v1", "target": "pinner:v1", "kind": "python",
	}))
	require.Equal(t, 200, code, "%v", sent)
	assert.Equal(t, before.String(), sent["source_digest"])

	other, err := random.Image(256, 1)
	require.NoError(t, err)
	push(t, stack.registry, other, "runtimes/moving:v1") // the tag moves
	uncordon(t)
	st := waitBuild(t, "pinner", sent["job_name"].(string))
	require.Equal(t, "succeeded", st["status"], "%v", st["logs"])
	assert.Equal(t, before.String(), st["source_digest"], "logs reports the digest built from")

	rp := action(t, "registry")
	code, built := call(t, rp, invoker.Web("get-image", "pinner", "GET", map[string]any{"image": "pinner:v1"}))
	require.Equal(t, 200, code, "%v", built)
	code, base := call(t, rp, invoker.Web("get-image", "nuvolaris", "GET", map[string]any{"image": "runtimes/moving@" + before.String()}))
	require.Equal(t, 200, code, "%v", base)
	assert.Equal(t, layers(t, base), layers(t, built), "the image is the pinned source, not what the tag names now")
}

// TestImageRunsAsItsSourceRuns: the install runs as root; the custom image
// then runs as its source did: nobody for nobody, root (no user) for root.
func TestImageRunsAsItsSourceRuns(t *testing.T) {
	bases(t)
	py, err := localstack.PythonRuntime()
	require.NoError(t, err)
	cf, err := py.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.Config.User = ""
	asRoot, err := mutate.ConfigFile(py, cf)
	require.NoError(t, err)
	push(t, stack.registry, asRoot, "runtimes/python-root:v1")

	req := base64.StdEncoding.EncodeToString([]byte("beautifulsoup4\n"))
	rp := action(t, "registry")
	for _, tt := range []struct{ source, target, user string }{
		{localstack.PythonRuntimeRef, "runner:nobody", "nobody"},
		{"runtimes/python-root:v1", "runner:root", ""},
	} {
		_, st := buildAndWait(t, "runner", map[string]any{"source": stack.registry.Host + "/" + tt.source, "target": tt.target, "kind": "python", "file": req})
		require.Equal(t, "succeeded", st["status"], "%v", st["logs"])
		code, got := call(t, rp, invoker.Web("get-image", "runner", "GET", map[string]any{"image": tt.target}))
		require.Equal(t, 200, code, "%v", got)
		user, _ := got["config"].(map[string]any)["user"].(string)
		assert.Equal(t, tt.user, user, "%s runs as its source %s", tt.target, tt.source)
	}
}

// TestSendRefusesAnIndexWithAnotherCandidate: on the real registry, an
// index whose first entry has no platform (BuildKit could build FROM it)
// beside a linux/amd64 image is refused before anything is created; the
// same image alone is pinned by its own digest.
func TestSendRefusesAnIndexWithAnotherCandidate(t *testing.T) {
	amd64, other := image(t), image(t)
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: other},
		mutate.IndexAddendum{Add: amd64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	ref, err := name.ParseReference(stack.registry.Host+"/pinner/base:idx", name.Insecure)
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(ref, idx, remote.WithAuth(&authn.Basic{Username: stack.registry.User, Password: stack.registry.Password})))
	push(t, stack.registry, amd64, "pinner/base:one")

	p := action(t, "send")
	jobs, cms := counts(t)
	code, body := call(t, p, invoker.Web("send", "pinner", "POST", map[string]any{"source": ref.String(), "target": "pinner:x", "kind": "python"}))
	assert.Equal(t, 400, code, "%v", body)
	assert.Contains(t, body["error"], "pinner/base:idx")
	j, c := counts(t)
	assert.Equal(t, jobs, j, "no Job")
	assert.Equal(t, cms, c, "no context")

	cordon(t)
	code, body = call(t, p, invoker.Web("send", "pinner", "POST", map[string]any{"source": stack.registry.Host + "/pinner/base:one", "target": "pinner:x", "kind": "python"}))
	require.Equal(t, 200, code, "%v", body)
	d, err := amd64.Digest()
	require.NoError(t, err)
	assert.Equal(t, d.String(), body["source_digest"])
	made := []string{body["job_name"].(string)}
	removeJobs(t, &made)
}

// TestMirrorIsNeverTheClusterRegistry: deployed with Docker Hub mirrored
// at the cluster registry, where users own repositories and BuildKit
// would pull with the builder's credential, send refuses the seed's
// source and creates nothing, and updatetoml leaves buildkitd.toml as it
// was; alice's images are intact.
func TestMirrorIsNeverTheClusterRegistry(t *testing.T) {
	ctx := context.Background()
	digest := victim(t)
	bad := map[string]any{"registry_mirrors": "docker.io=" + stack.registry.Host}
	p := action(t, "send", bad)
	jobs, cms := counts(t)
	code, body := call(t, p, invoker.Web("send", "apache", "POST", map[string]any{"source": localstack.SeedSource, "target": "apache:x", "kind": "python"}))
	assert.Equal(t, 500, code, "%v", body)
	assert.Contains(t, body["error"], "registry_mirrors")
	j, c := counts(t)
	assert.Equal(t, jobs, j, "no Job")
	assert.Equal(t, cms, c, "no context")

	stored := func() string {
		cm, err := stack.kube.Client.CoreV1().ConfigMaps(bns).Get(ctx, names.BuildkitdConfigMap, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return ""
		}
		require.NoError(t, err)
		return cm.Data["buildkitd.toml"]
	}
	before := stored()
	code, body = call(t, action(t, "updatetoml", bad), invoker.Plain("updatetoml", "nuvolaris", nil))
	assert.Equal(t, 0, code, "an application error")
	assert.Contains(t, body["error"], "registry_mirrors")
	assert.Equal(t, before, stored(), "buildkitd.toml untouched")
	intact(t, digest)
}
