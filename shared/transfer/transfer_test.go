package transfer

import (
	"context"
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const layerSize = 1 << 20

// stage is a registry holding a source image in runtimes/python, and a
// build cache in devel/buildcache that carries the source's layers and
// one of its own, as BuildKit exports one (mode=max).
type stage struct {
	reg           *repoRegistry
	source, cache v1.Image
	sourceRef     string // runtimes/python@digest
	cacheRef      string // devel/buildcache@digest
	opts          Options
}

func newStage(t *testing.T) stage {
	t.Helper()
	s := stage{reg: newRepoRegistry(t)}
	s.opts = Options{Layout: t.TempDir(), Insecure: true}
	var err error
	s.source, err = random.Image(layerSize, 2)
	require.NoError(t, err)
	s.sourceRef = s.push(t, "runtimes/python:3.13", s.source)
	s.cache = withLayer(t, s.source)
	s.cacheRef = s.push(t, "devel/buildcache:python", s.cache)
	return s
}

func (s stage) push(t *testing.T, ref string, img v1.Image) string {
	t.Helper()
	r, err := name.ParseReference(s.reg.host()+"/"+ref, name.Insecure)
	require.NoError(t, err)
	require.NoError(t, remote.Write(r, img))
	d, err := img.Digest()
	require.NoError(t, err)
	return r.Context().Digest(d.String()).String()
}

// withLayer is img with one random layer more: what a build makes of it.
func withLayer(t *testing.T, img v1.Image) v1.Image {
	t.Helper()
	l, err := random.Layer(layerSize, types.OCILayer)
	require.NoError(t, err)
	out, err := mutate.AppendLayers(img, l)
	require.NoError(t, err)
	return out
}

func digests(t *testing.T, img v1.Image) []string {
	t.Helper()
	ls, err := img.Layers()
	require.NoError(t, err)
	var out []string
	for _, l := range ls {
		d, err := l.Digest()
		require.NoError(t, err)
		out = append(out, d.String())
	}
	return out
}

// TestFetchSkipsWhatTheLayoutHolds: the cache fetched after the source
// asks the registry for its own layer alone, and the layout lists both.
func TestFetchSkipsWhatTheLayoutHolds(t *testing.T) {
	s := newStage(t)
	ctx := context.Background()
	c, err := Fetch(ctx, s.sourceRef, s.opts)
	require.NoError(t, err)
	assert.Greater(t, c.Received(), int64(2*layerSize), "the source's two layers came")
	c, err = Fetch(ctx, s.cacheRef, s.opts)
	require.NoError(t, err)
	assert.Less(t, c.Received(), int64(layerSize+layerSize/2), "only the cache's own layer came")

	for _, d := range digests(t, s.source) {
		assert.Equal(t, 1, s.reg.gets[d], "source layer %s fetched once", d)
	}
	p, err := layout.FromPath(s.opts.Layout)
	require.NoError(t, err)
	ii, err := p.ImageIndex()
	require.NoError(t, err)
	im, err := ii.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 2)
	for _, img := range []v1.Image{s.source, s.cache} {
		d, err := img.Digest()
		require.NoError(t, err)
		got, err := p.Image(d)
		require.NoError(t, err)
		for _, l := range digests(t, img) {
			h, _ := v1.NewHash(l)
			want, err := img.LayerByDigest(h)
			require.NoError(t, err)
			size, err := want.Size()
			require.NoError(t, err)
			b, err := p.Blob(h)
			require.NoError(t, err, "layer %s is in the layout", l)
			n, err := io.Copy(io.Discard, b)
			require.NoError(t, err)
			assert.Equal(t, size, n, "layer %s whole", l)
		}
		gd, err := got.Digest()
		require.NoError(t, err)
		assert.Equal(t, d, gd)
	}
}

func TestFetchRefusesAnUnpinnedReference(t *testing.T) {
	s := newStage(t)
	_, err := Fetch(context.Background(), s.reg.host()+"/runtimes/python:3.13", s.opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pinned by digest")
	_, statErr := layout.FromPath(s.opts.Layout)
	assert.Error(t, statErr, "no layout was made")
}

// TestPushMountsWhatTheOriginsHold: a rebuild's image (the source's
// layers and the one the cache holds) mounts the source's layers from the
// source's repository and the cached one from the cache's; only what no
// origin holds is uploaded. Without origins, everything is.
func TestPushMountsWhatTheOriginsHold(t *testing.T) {
	tests := []struct {
		name    string
		origins func(s stage) []string
		// uploaded is how many of the image's layers are uploaded;
		// mounted how many are mounted.
		uploaded, mounted int
	}{
		{"source and cache", func(s stage) []string { return []string{s.sourceRef, s.cacheRef} }, 0, 3},
		{"the source alone", func(s stage) []string { return []string{s.sourceRef} }, 1, 2},
		{"no origin", func(stage) []string { return nil }, 3, 0},
		{"an origin on another registry", func(s stage) []string {
			d, err := name.NewDigest(s.sourceRef, name.Insecure)
			require.NoError(t, err)
			return []string{"other.example/runtimes/python@" + d.DigestStr()}
		}, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStage(t)
			ctx := context.Background()
			for _, ref := range []string{s.sourceRef, s.cacheRef} {
				_, err := Fetch(ctx, ref, s.opts)
				require.NoError(t, err)
			}
			built := s.cache
			p, err := layout.FromPath(s.opts.Layout)
			require.NoError(t, err)
			target := s.reg.host() + "/devel/python:1"
			require.NoError(t, p.AppendImage(built, layout.WithAnnotations(map[string]string{annotationImageName: target})))

			before := s.reg.sent.Load()
			got, _, err := Push(ctx, target, target, tt.origins(s), s.opts)
			require.NoError(t, err)
			want, err := built.Digest()
			require.NoError(t, err)
			assert.Equal(t, want.String(), got.DigestStr())
			sent := s.reg.sent.Load() - before
			assert.GreaterOrEqual(t, sent, int64(tt.uploaded*layerSize))
			assert.Less(t, sent, int64(tt.uploaded*layerSize+layerSize/2), "only %d layers uploaded", tt.uploaded)
			assert.Len(t, s.reg.mounted, tt.mounted)

			r, err := name.ParseReference(target, name.Insecure)
			require.NoError(t, err)
			pulled, err := remote.Image(r)
			require.NoError(t, err)
			for _, d := range digests(t, built) {
				assert.True(t, s.reg.has("devel/python", d), "devel/python holds %s", d)
			}
			pd, err := pulled.Digest()
			require.NoError(t, err)
			assert.Equal(t, want, pd)
		})
	}
}

// TestPushAnIndexMountsItsImages: an image with its attestation (an
// index, as BuildKit writes one with provenance) mounts its source layers
// too; the cache is found by its tag.
func TestPushAnIndexMountsItsImages(t *testing.T) {
	s := newStage(t)
	ctx := context.Background()
	_, err := Fetch(ctx, s.sourceRef, s.opts)
	require.NoError(t, err)
	built := withLayer(t, s.source)
	attestation, err := random.Image(100, 1)
	require.NoError(t, err)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: built, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: attestation})
	p, err := layout.FromPath(s.opts.Layout)
	require.NoError(t, err)
	require.NoError(t, p.AppendIndex(idx, layout.WithAnnotations(map[string]string{annotationRefName: "cache"})))

	before := s.reg.sent.Load()
	got, _, err := Push(ctx, "cache", s.reg.host()+"/devel/python:1", []string{s.sourceRef}, s.opts)
	require.NoError(t, err)
	want, err := idx.Digest()
	require.NoError(t, err)
	assert.Equal(t, want.String(), got.DigestStr())
	assert.Len(t, s.reg.mounted, 2, "the source's two layers")
	sent := s.reg.sent.Load() - before
	assert.Greater(t, sent, int64(layerSize), "the build's own layer")
	assert.Less(t, sent, int64(layerSize+layerSize/2), "and nothing more")
}

func TestPushRefusesWhatTheLayoutDoesNotName(t *testing.T) {
	s := newStage(t)
	_, err := Fetch(context.Background(), s.sourceRef, s.opts)
	require.NoError(t, err)
	before := s.reg.sent.Load()
	_, _, err = Push(context.Background(), "cache", s.reg.host()+"/devel/buildcache:python", nil, s.opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `holds nothing named "cache"`)
	assert.Equal(t, before, s.reg.sent.Load(), "nothing was sent")
}

// TestPushTellsTheCacheFromAnImageTaggedCache: a target tagged "cache"
// gives the image BuildKit's ref.name "cache" beside its full name; the
// push of the cache takes the cache's entry, the push of the image the
// image's, whichever BuildKit listed last.
func TestPushTellsTheCacheFromAnImageTaggedCache(t *testing.T) {
	s := newStage(t)
	ctx := context.Background()
	_, err := Fetch(ctx, s.sourceRef, s.opts)
	require.NoError(t, err)
	p, err := layout.FromPath(s.opts.Layout)
	require.NoError(t, err)
	cache, image := withLayer(t, s.source), withLayer(t, s.source)
	target := s.reg.host() + "/devel/python:cache"
	require.NoError(t, p.AppendImage(cache, layout.WithAnnotations(map[string]string{annotationRefName: "cache"})))
	require.NoError(t, p.AppendImage(image, layout.WithAnnotations(map[string]string{annotationImageName: target, annotationRefName: "cache"})))
	for _, tt := range []struct {
		entry, to string
		want      v1.Image
	}{
		{"cache", s.reg.host() + "/devel/buildcache:python", cache},
		{target, target, image},
	} {
		got, _, err := Push(ctx, tt.entry, tt.to, nil, s.opts)
		require.NoError(t, err)
		want, err := tt.want.Digest()
		require.NoError(t, err)
		assert.Equal(t, want.String(), got.DigestStr(), tt.entry)
	}
}
