//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/test/policycases"
)

// TestRedirectToAnotherUsersImageCopiesNothing: mallory builds from a
// registry she controls. At send it serves carol's manifest and config
// (which send checks and pins, anonymously, as it should); at build time
// it answers every layer with a redirect into carol's repository on the
// cluster registry. A build that fetched with the registry credential
// (BuildKit asking its client, which held the docker config) would follow
// the redirect with it and push carol's layers as mallory:stolen. The
// fetch step is anonymous: it fails, saying so, and mallory's repository
// holds no tag and none of carol's blobs, while carol's image is intact.
func TestRedirectToAnotherUsersImageCopiesNothing(t *testing.T) {
	carol := linuxImage(t)
	push(t, stack.registry, carol, "carol/private:1")
	digest, err := carol.Digest()
	require.NoError(t, err)
	manifest, err := carol.RawManifest()
	require.NoError(t, err)
	mediaType, err := carol.MediaType()
	require.NoError(t, err)
	configName, err := carol.ConfigName()
	require.NoError(t, err)
	config, err := carol.RawConfigFile()
	require.NoError(t, err)
	layers, err := carol.Layers()
	require.NoError(t, err)
	require.NotEmpty(t, layers)

	var redirects atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		switch {
		case path == "/v2/":
			w.WriteHeader(http.StatusOK)
		case strings.HasPrefix(path, "/v2/evil/base/manifests/"):
			w.Header().Set("Content-Type", string(mediaType))
			w.Header().Set("Docker-Content-Digest", digest.String())
			w.WriteHeader(http.StatusOK)
			if r.Method == http.MethodGet {
				_, _ = w.Write(manifest)
			}
		case path == "/v2/evil/base/blobs/"+configName.String():
			_, _ = w.Write(config)
		case strings.HasPrefix(path, "/v2/evil/base/blobs/"):
			redirects.Add(1)
			blob := strings.TrimPrefix(path, "/v2/evil/base/blobs/")
			http.Redirect(w, r, "http://"+stack.registry.Host+"/v2/carol/private/blobs/"+blob, http.StatusTemporaryRedirect)
		default:
			http.NotFound(w, r)
		}
	}))
	defer evil.Close()
	// localhost, not 127.0.0.1: the source rules take 127.0.0.1 for the
	// cluster registry, whatever the port.
	host := "localhost:" + evil.URL[strings.LastIndex(evil.URL, ":")+1:]

	sent, st := buildAndWait(t, "mallory", map[string]any{"source": host + "/evil/base:1", "target": "mallory:stolen", "kind": "python"},
		map[string]any{"allowed_sources": host + "/evil/"})
	assert.Equal(t, digest.String(), sent["source_digest"], "send checked and pinned what the registry served")
	assert.NotZero(t, redirects.Load(), "the build asked for the layers and was redirected")
	require.Equal(t, "failed", st["status"], "%v", st)
	logs := st["logs"].(string)
	assert.Contains(t, logs, "==> fetch\n")
	// go-containerregistry (transfer) refuses a redirect to a private
	// address outright; past that, the cluster registry would refuse the
	// anonymous request.
	assert.Regexp(t, `SSRF protection: redirect .* denied|UNAUTHORIZED`, logs, "the redirect gets nothing")
	job, err := stack.kube.Client.BatchV1().Jobs(bns).Get(context.Background(), sent["job_name"].(string), metav1.GetOptions{})
	require.NoError(t, err)
	fetch := policycases.Step(&job.Spec.Template.Spec, names.StepFetch)
	assert.Empty(t, fetch.Env, "the fetch step of a source elsewhere has no docker config")
	for _, m := range fetch.VolumeMounts {
		assert.NotEqual(t, "docker-config", m.Name, "nor the registry Secret")
	}
	assert.NotContains(t, logs, "==> push", "nothing ran after the fetch")
	assert.Contains(t, st["message"], "step fetch failed")

	admin := remote.WithAuth(&authn.Basic{Username: stack.registry.User, Password: stack.registry.Password})
	stolen, err := name.ParseReference(stack.registry.Host+"/mallory:stolen", name.Insecure)
	require.NoError(t, err)
	_, err = remote.Head(stolen, admin)
	assert.Error(t, err, "mallory:stolen was never pushed")
	for _, l := range layers {
		d, err := l.Digest()
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, blobStatus(t, "carol/private", d.String()), "carol's layer %s is there", d)
		assert.Equal(t, http.StatusNotFound, blobStatus(t, "mallory", d.String()), "no layer of carol's is in mallory's repository: %s", d)
	}
	ref, err := name.ParseReference(stack.registry.Host+"/carol/private:1", name.Insecure)
	require.NoError(t, err)
	desc, err := remote.Head(ref, admin)
	require.NoError(t, err)
	assert.Equal(t, digest, desc.Digest, "carol's image is intact")
}

// blobStatus is the cluster registry's answer to the registry admin's HEAD
// of blob digest in repository repo.
func blobStatus(t *testing.T, repo, digest string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodHead, "http://"+stack.registry.Host+"/v2/"+repo+"/blobs/"+digest, nil)
	require.NoError(t, err)
	req.SetBasicAuth(stack.registry.User, stack.registry.Password)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// linuxImage is a random image whose config says linux/amd64, as BuildKit
// needs of an image it exports.
func linuxImage(t *testing.T) v1.Image {
	t.Helper()
	img := image(t)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	return img
}
