package registry

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/registry/registrytest"
	btypes "github.com/apache/openserverless-builder/shared/types"
)

// fixture is an in-memory registry with devel/python:v1 (an image),
// devel/multi:v1 (an index) and other:v1.
type fixture struct {
	host   string
	image  v1.Image
	index  v1.ImageIndex
	client *Client
}

func newFixture(t *testing.T, wrap func(http.Handler) http.Handler) *fixture {
	t.Helper()
	h := registrytest.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	host := registrytest.Serve(t, h)
	img, err := random.Image(512, 3)
	require.NoError(t, err)
	idx, err := random.Index(256, 1, 2)
	require.NoError(t, err)
	push := func(ref string, w func(name.Reference) error) {
		r, err := name.ParseReference(host+"/"+ref, name.Insecure)
		require.NoError(t, err)
		require.NoError(t, w(r))
	}
	push("devel/python:v1", func(r name.Reference) error { return remote.Write(r, img) })
	push("devel/python:v2", func(r name.Reference) error { return remote.Write(r, img) })
	push("devel/multi:v1", func(r name.Reference) error { return remote.WriteIndex(r, idx) })
	push("other:v1", func(r name.Reference) error { return remote.Write(r, img) })
	c, err := New(host, Options{Insecure: true})
	require.NoError(t, err)
	return &fixture{host: host, image: img, index: idx, client: c}
}

func TestCatalogAndTags(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	repos, err := f.client.Catalog(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"devel/multi", "devel/python", "other"}, repos)

	tags, err := f.client.Tags(ctx, "devel/python")
	require.NoError(t, err)
	assert.Equal(t, []string{"v1", "v2"}, tags)

	_, err = f.client.Tags(ctx, "devel/missing")
	require.Error(t, err)
	assert.Equal(t, http.StatusNotFound, apperr.Status(err))
	assert.Contains(t, err.Error(), "devel/missing does not exist")
}

func TestGetImage(t *testing.T) {
	f := newFixture(t, nil)
	m, err := f.client.Get(context.Background(), "devel/python:v1")
	require.NoError(t, err)
	d, _ := f.image.Digest()
	mf, _ := f.image.Manifest()
	cf, _ := f.image.ConfigFile()
	assert.Equal(t, "devel/python", m.Name)
	assert.Equal(t, "devel/python:v1", m.Reference)
	assert.Equal(t, d.String(), m.Digest)
	assert.Equal(t, string(mf.MediaType), m.MediaType)
	require.NotNil(t, m.Config)
	assert.Equal(t, 3, m.Config.Layers)
	want := mf.Config.Size
	for _, l := range mf.Layers {
		want += l.Size
	}
	assert.Equal(t, want, m.Config.TotalSize)
	assert.Equal(t, cf.Architecture, m.Config.Architecture)
	assert.Len(t, m.Manifest["layers"], 3)

	// The same image by digest.
	byDigest, err := f.client.Get(context.Background(), "devel/python@"+d.String())
	require.NoError(t, err)
	assert.Equal(t, m.Digest, byDigest.Digest)
}

func TestGetIndex(t *testing.T) {
	f := newFixture(t, nil)
	m, err := f.client.Get(context.Background(), "devel/multi:v1")
	require.NoError(t, err)
	d, _ := f.index.Digest()
	assert.Equal(t, d.String(), m.Digest)
	assert.Nil(t, m.Config, "an index has no image config")
	assert.Len(t, m.Manifest["manifests"], 2)
}

// attested is an index as BuildKit pushes an image with provenance: the
// linux/amd64 image and an attestation manifest about it.
func attested(t *testing.T) (v1.ImageIndex, v1.Image, v1.Image) {
	img, err := random.Image(256, 2)
	require.NoError(t, err)
	imgDigest, err := img.Digest()
	require.NoError(t, err)
	statement, err := random.Layer(64, types.MediaType("application/vnd.in-toto+json"))
	require.NoError(t, err)
	att, err := mutate.Append(empty.Image, mutate.Addendum{Layer: statement, Annotations: map[string]string{annotationPredicate: "https://slsa.dev/provenance/v0.2"}})
	require.NoError(t, err)
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{annotationRefType: refTypeAttestation, annotationRefDigest: imgDigest.String()},
		}})
	return idx, img, att
}

func TestGetReportsTheImageOfAnAttestedIndex(t *testing.T) {
	f := newFixture(t, nil)
	idx, img, att := attested(t)
	r, err := name.ParseReference(f.host+"/devel/built:v1", name.Insecure)
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(r, idx))
	m, err := f.client.Get(context.Background(), "devel/built:v1")
	require.NoError(t, err)
	idxDigest, _ := idx.Digest()
	imgDigest, _ := img.Digest()
	attDigest, _ := att.Digest()
	assert.Equal(t, idxDigest.String(), m.Digest, "the digest the tag names")
	assert.Equal(t, string(types.OCIImageIndex), m.MediaType)
	assert.Equal(t, imgDigest.String(), m.PlatformDigest)
	require.NotNil(t, m.Config, "the image's config, as for an image")
	assert.Equal(t, 2, m.Config.Layers)
	assert.Len(t, m.Index["manifests"], 2)
	assert.NotNil(t, m.Manifest["layers"], "manifest is the image's")
	assert.Equal(t, []btypes.Attestation{{Digest: attDigest.String(), PredicateTypes: []string{"https://slsa.dev/provenance/v0.2"}, SubjectDigest: imgDigest.String()}}, m.Attestations)

	del, err := f.client.Delete(context.Background(), "devel/built:v1")
	require.NoError(t, err)
	assert.Equal(t, idxDigest.String(), del.Digest)
	assert.Equal(t, []string{attDigest.String()}, del.Attestations)
	_, err = f.client.Get(context.Background(), "devel/built@"+attDigest.String())
	assert.Equal(t, http.StatusNotFound, apperr.Status(err), "the attestation went with the image")
}

func TestReferenceErrors(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	tests := map[string]int{
		"devel/python":          http.StatusBadRequest, // no tag
		"devel/python:":         http.StatusBadRequest,
		"Devel/python:v1":       http.StatusBadRequest,
		"devel/python@sha256:1": http.StatusBadRequest,
		"devel/python:v9":       http.StatusNotFound,
		"devel/none:v1":         http.StatusNotFound,
		"devel python:v1":       http.StatusBadRequest,
	}
	for image, status := range tests {
		_, err := f.client.Get(ctx, image)
		require.Error(t, err, image)
		assert.Equal(t, status, apperr.Status(err), "%s: %v", image, err)
	}
}

func TestDelete(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	d, _ := f.image.Digest()
	got, err := f.client.Delete(ctx, "other:v1")
	require.NoError(t, err)
	assert.Equal(t, d.String(), got.Digest)
	assert.Empty(t, got.Attestations)
	// The in-memory registry keeps tags of a deleted digest (distribution
	// drops them): check the digest only; the integration suite checks tags.
	_, err = f.client.Get(ctx, "other@"+d.String())
	assert.Equal(t, http.StatusNotFound, apperr.Status(err))

	_, err = f.client.Delete(ctx, "other@"+d.String())
	assert.Equal(t, http.StatusNotFound, apperr.Status(err), "deleting twice is 404")
}

func TestRegistryFailures(t *testing.T) {
	ctx := context.Background()
	refuse := func(status int, method string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == method && r.Header.Get("X-Fixture") == "" && r.URL.Path != "/v2/" {
					w.WriteHeader(status)
					return
				}
				next.ServeHTTP(w, r)
			})
		}
	}
	t.Run("deletion disabled", func(t *testing.T) {
		f := newFixture(t, refuse(http.StatusMethodNotAllowed, http.MethodDelete))
		_, err := f.client.Delete(ctx, "other:v1")
		require.Error(t, err)
		assert.Equal(t, http.StatusBadGateway, apperr.Status(err))
		assert.Contains(t, err.Error(), "deletion is disabled on the registry")
	})
	t.Run("server error", func(t *testing.T) {
		f := newFixture(t, refuse(http.StatusInternalServerError, http.MethodGet))
		_, err := f.client.Tags(ctx, "other")
		assert.Equal(t, http.StatusBadGateway, apperr.Status(err))
	})
	t.Run("credentials refused", func(t *testing.T) {
		f := newFixture(t, refuse(http.StatusUnauthorized, http.MethodGet))
		_, err := f.client.Catalog(ctx)
		require.Error(t, err)
		assert.Equal(t, http.StatusBadGateway, apperr.Status(err))
		assert.Contains(t, err.Error(), "rejected the builder's credentials")
	})
	t.Run("unreachable", func(t *testing.T) {
		c, err := New("127.0.0.1:1", Options{Insecure: true})
		require.NoError(t, err)
		_, err = c.Catalog(ctx)
		require.Error(t, err)
		assert.Equal(t, http.StatusServiceUnavailable, apperr.Status(err))
		assert.Contains(t, err.Error(), "unreachable; try again shortly")
		assert.NotContains(t, err.Error(), "127.0.0.1:1", "no network error's text")
	})
}

func TestHead(t *testing.T) {
	f := newFixture(t, nil)
	d, ok, err := f.client.Head(context.Background(), "devel/python:v1")
	require.NoError(t, err)
	assert.True(t, ok)
	want, _ := f.image.Digest()
	assert.Equal(t, want.String(), d)
	_, ok, err = f.client.Head(context.Background(), "devel/python:nope")
	require.NoError(t, err)
	assert.False(t, ok, "a missing tag is no error")
	_, _, err = f.client.Head(context.Background(), "devel/../x:v1")
	assert.Equal(t, http.StatusBadRequest, apperr.Status(err))
}
