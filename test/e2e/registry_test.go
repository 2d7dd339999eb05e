//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/registry"
	"github.com/apache/openserverless-builder/test/invoker"
	"github.com/apache/openserverless-builder/test/localstack"
)

// push writes img under each of refs ("repo:tag") of r, eight at a time.
func push(t testing.TB, r *localstack.Registry, img v1.Image, refs ...string) {
	t.Helper()
	pusher, err := remote.NewPusher(remote.WithAuth(&authn.Basic{Username: r.User, Password: r.Password}))
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, len(refs))
	sem := make(chan struct{}, 8)
	for _, s := range refs {
		wg.Add(1)
		go func(s string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ref, err := name.ParseReference(r.Host+"/"+s, name.Insecure)
			if err == nil {
				err = pusher.Push(context.Background(), ref, img)
			}
			if err != nil {
				errs <- fmt.Errorf("pushing %s: %w", s, err)
			}
		}(s)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func image(t testing.TB) v1.Image {
	img, err := random.Image(256, 2)
	require.NoError(t, err)
	return img
}

// TestListCatalogsFollowsPagination: distribution returns at most 1000
// repositories a page; the action returns them all.
func TestListCatalogsFollowsPagination(t *testing.T) {
	img := image(t)
	var refs []string
	for i := 0; i < 1100; i++ {
		refs = append(refs, fmt.Sprintf("pages/r%04d:v1", i))
	}
	refs = append(refs, "pagesother:v1")
	push(t, stack.registry, img, refs...)

	p := action(t, "registry")
	code, body := call(t, p, invoker.Web("list-catalogs", "pages", "GET", nil))
	require.Equal(t, 200, code, "%v", body)
	repos := body["repositories"].([]any)
	assert.Len(t, repos, 1100, "every one of the user's repositories, none of another's")
	for _, r := range repos {
		assert.True(t, strings.HasPrefix(r.(string), "pages/"), "%v", r)
	}

	code, body = call(t, p, invoker.Plain("list-catalogs", "nuvolaris", nil))
	require.Equal(t, 200, code, "%v", body)
	assert.GreaterOrEqual(t, len(body["repositories"].([]any)), 1101, "an admin sees every repository")
	assert.Contains(t, body["repositories"], "pagesother")
}

// TestListCatalogsFromTheUsersName: on the distribution registry, which
// lists its storage as a walk (sorte, sorter, sorter/x, sorter/y/z,
// sorter-a, sorter.b, sorter0, sorterp), a user's listing has their
// repositories and no neighbour's, in one catalog page read from their
// name on, not the whole registry's.
func TestListCatalogsFromTheUsersName(t *testing.T) {
	img := image(t)
	push(t, stack.registry, img, "sorte:v1", "sorter:v1", "sorter-a:v1", "sorter.b:v1", "sorter/x:v1", "sorter/y/z:v1", "sorter0:v1", "sorterp:v1")
	p := action(t, "registry")
	code, body := call(t, p, invoker.Web("list-catalogs", "sorter", "GET", nil))
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, []any{"sorter", "sorter/x", "sorter/y/z"}, body["repositories"])

	counter := &countingTransport{next: http.DefaultTransport.(*http.Transport).Clone(), path: "/_catalog"}
	c, err := registry.New(stack.registry.Host, registry.Options{
		Insecure: true, Auth: &authn.Basic{Username: stack.registry.User, Password: stack.registry.Password}, Transport: counter,
	})
	require.NoError(t, err)
	repos, err := c.OwnedCatalog(context.Background(), "sorter")
	require.NoError(t, err)
	assert.Equal(t, []string{"sorter", "sorter/x", "sorter/y/z"}, repos)
	assert.Equal(t, int64(1), counter.calls.Load(), "one page from sorter on")
}

func TestImagesLifecycle(t *testing.T) {
	img := image(t)
	digest, err := img.Digest()
	require.NoError(t, err)
	push(t, stack.registry, img, "imgs:alpine", "imgs:keep", "imgs/python:v1", "other:v1")
	idx, err := random.Index(128, 1, 2)
	require.NoError(t, err)
	ref, err := name.ParseReference(stack.registry.Host+"/imgs/multi:v1", name.Insecure)
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(ref, idx, remote.WithAuth(&authn.Basic{Username: stack.registry.User, Password: stack.registry.Password})))

	p := action(t, "registry")
	web := func(op, method string, params map[string]any) (int, map[string]any) {
		return call(t, p, invoker.Web(op, "imgs", method, params))
	}

	code, body := web("list-images", "GET", map[string]any{"catalog": "imgs"})
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, []any{"alpine", "keep"}, body["tags"])

	code, body = web("list-images", "GET", map[string]any{"catalog": "other"})
	assert.Equal(t, 403, code, "%v", body)
	code, body = web("list-images", "GET", map[string]any{"catalog": "imgs/none"})
	assert.Equal(t, 404, code, "%v", body)

	code, got := web("get-image", "GET", map[string]any{"image": "imgs:alpine"})
	require.Equal(t, 200, code, "%v", got)
	assert.Equal(t, digest.String(), got["digest"])
	assert.Equal(t, "application/vnd.docker.distribution.manifest.v2+json", got["media_type"])
	cfg := got["config"].(map[string]any)
	assert.Equal(t, float64(2), cfg["layers"])

	code, byDigest := web("get-image", "GET", map[string]any{"image": "imgs@" + digest.String()})
	require.Equal(t, 200, code, "%v", byDigest)
	assert.Equal(t, got["manifest"], byDigest["manifest"])

	code, index := web("get-image", "GET", map[string]any{"image": "imgs/multi:v1"})
	require.Equal(t, 200, code, "%v", index)
	assert.Equal(t, "application/vnd.oci.image.index.v1+json", index["media_type"])
	assert.Nil(t, index["config"])

	code, body = web("get-image", "GET", map[string]any{"image": "imgs:nope"})
	assert.Equal(t, 404, code, "%v", body)

	code, body = web("delete-image", "GET", map[string]any{"image": "imgs:alpine"})
	assert.Equal(t, 405, code, "%v", body)
	code, body = web("delete-image", "DELETE", map[string]any{"image": "other:v1"})
	assert.Equal(t, 403, code, "%v", body)

	code, body = web("delete-image", "DELETE", map[string]any{"image": "imgs:alpine"})
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, digest.String(), body["digest"])
	assert.Contains(t, body["message"], "garbage-collect")

	// Distribution deletes the manifest, and every tag that named it.
	code, body = web("get-image", "GET", map[string]any{"image": "imgs:alpine"})
	assert.Equal(t, 404, code, "%v", body)
	code, body = web("list-images", "GET", map[string]any{"catalog": "imgs"})
	require.Equal(t, 200, code, "%v", body)
	assert.NotContains(t, body["tags"], "alpine")
	code, body = web("delete-image", "POST", map[string]any{"image": "imgs:alpine"})
	assert.Equal(t, 404, code, "%v", body)
}

func TestRegistryRefusals(t *testing.T) {
	push(t, stack.noDelete, image(t), "devel:v1")
	creds := map[string]any{"registry_host": stack.noDelete.Host, "registry_user": stack.noDelete.User, "registry_password": stack.noDelete.Password}
	// Each deployment binds its own registry configuration.
	admin := func(config map[string]any, op string, params map[string]any) (int, map[string]any) {
		return call(t, action(t, "registry", config), invoker.Plain(op, "nuvolaris", params))
	}

	_, body := admin(creds, "delete-image", map[string]any{"image": "devel:v1"})
	assert.Contains(t, body["error"], "deletion is disabled on the registry")

	_, body = admin(invoker.Merge(creds, map[string]any{"registry_password": "wrong-s3cret"}), "list-catalogs", nil)
	assert.Contains(t, body["error"], "rejected the builder's credentials")
	assert.NotContains(t, jsonText(body), "wrong-s3cret")
	assert.NotContains(t, jsonText(body), stack.noDelete.Password)

	unreachable := map[string]any{"registry_host": "127.0.0.1:1", "registry_user": "u", "registry_password": "p"}
	_, body = admin(unreachable, "list-catalogs", nil)
	assert.Contains(t, body["error"], "unreachable")

	// Over the web the same failure is a 503: the registry may come back.
	p := action(t, "registry", map[string]any{"registry_host": "127.0.0.1:1"})
	code, body := call(t, p, invoker.Web("list-catalogs", "devel", "GET", nil))
	assert.Equal(t, 503, code, "%v", body)
	assert.NotContains(t, p.Logs(), stack.registry.Password)

	// No request overrides the bound registry: OpenWhisk refuses it (final).
	code, body = call(t, action(t, "registry"), invoker.Web("list-catalogs", "devel", "GET", map[string]any{"registry_host": "127.0.0.1:1"}))
	assert.Equal(t, 400, code, "%v", body)
}

// TestGarbageCollectReclaimsSpace follows the README: after delete-image,
// the operator's `registry garbage-collect` removes the image's blobs.
func TestGarbageCollectReclaimsSpace(t *testing.T) {
	img, err := random.Image(4096, 1)
	require.NoError(t, err)
	layers, err := img.Layers()
	require.NoError(t, err)
	layer, err := layers[0].Digest()
	require.NoError(t, err)
	push(t, stack.registry, img, "gc/only:v1")
	blob := filepath.Join(stack.registry.Dir, "storage", "docker", "registry", "v2", "blobs", "sha256", layer.Hex[:2], layer.Hex)
	_, err = os.Stat(blob)
	require.NoError(t, err, "the layer is stored")

	p := action(t, "registry")
	code, body := call(t, p, invoker.Plain("delete-image", "nuvolaris", map[string]any{"image": "gc/only:v1"}))
	require.Equal(t, 200, code, "%v", body)
	_, err = os.Stat(blob)
	require.NoError(t, err, "deleting the reference leaves the blob")

	out, err := stack.registry.GarbageCollect(context.Background(), localstack.DefaultTools())
	require.NoError(t, err, out)
	_, err = os.Stat(blob)
	assert.True(t, os.IsNotExist(err), "garbage collection removed the blob: %s", out)
}
