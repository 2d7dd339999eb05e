package registry

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/registry/registrytest"
)

// TestResolvePinsThePlatformImage: the digest the build is FROM is the
// image whose config send read. For an index, its one linux/amd64 image
// (attestations aside); an index where a build could take another entry
// (one without a platform, or two for linux/amd64) is refused, and so is
// one with no image for the platform.
func TestResolvePinsThePlatformImage(t *testing.T) {
	host := registrytest.Serve(t, registrytest.Handler())
	c, err := New(host, Options{Insecure: true})
	require.NoError(t, err)
	entry := func(img v1.Image, p *v1.Platform) mutate.IndexAddendum {
		return mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}}
	}
	amd64 := &v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 := &v1.Platform{OS: "linux", Architecture: "arm64"}
	index := func(entries ...mutate.IndexAddendum) v1.ImageIndex {
		return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), entries...)
	}
	digest := func(img v1.Image) string {
		d, err := img.Digest()
		require.NoError(t, err)
		return d.String()
	}
	attested, amdImage, _ := attested(t)
	image := func(user string) v1.Image { return registrytest.ImageAs(t, user) }
	armImage, runtimeImage, noPlatform, twin := image("arm"), image("nobody"), image("root"), image("twin")

	for _, tt := range []struct {
		name   string
		push   remote.Taggable
		want   string // digest; "" means refused
		user   string
		status int
	}{
		{"an image", runtimeImage, digest(runtimeImage), "nobody", 0},
		{"an attested index", attested, digest(amdImage), "", 0},
		{"an index of two platforms", index(entry(armImage, arm64), entry(runtimeImage, amd64)), digest(runtimeImage), "nobody", 0},
		{"an entry without a platform first", index(entry(noPlatform, nil), entry(runtimeImage, amd64)), "", "", http.StatusBadRequest},
		{"two entries for the platform", index(entry(runtimeImage, amd64), entry(twin, amd64)), "", "", http.StatusBadRequest},
		{"no entry for the platform", index(entry(armImage, arm64)), "", "", http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ref, err := name.ParseReference(host+"/src:"+name.DefaultTag, name.Insecure)
			require.NoError(t, err)
			require.NoError(t, remote.Push(ref, tt.push))
			p, err := c.Resolve(context.Background(), ref)
			if tt.want == "" {
				require.Error(t, err)
				assert.Equal(t, tt.status, apperr.Status(err))
				assert.Contains(t, err.Error(), "src:latest")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.Digest)
			assert.Equal(t, tt.user, p.User)
		})
	}
}

// TestResolveReadsBoundedAnswers: a source whose manifest or config is
// larger than MaxSourceDocBytes is 400, whatever its registry says of its
// length; one just under the bound resolves.
func TestResolveReadsBoundedAnswers(t *testing.T) {
	host := registrytest.Serve(t, registrytest.Handler())
	c, err := New(host, Options{Insecure: true})
	require.NoError(t, err)
	big := func(n int) string { return strings.Repeat("x", n) }
	withConfig := func(n int) v1.Image {
		img, err := mutate.Config(registrytest.ImageAs(t, "nobody"), v1.Config{User: "nobody", Labels: map[string]string{"pad": big(n)}})
		require.NoError(t, err)
		return img
	}
	withManifest := func(n int) v1.Image {
		return mutate.Annotations(registrytest.ImageAs(t, "nobody"), map[string]string{"pad": big(n)}).(v1.Image)
	}
	for _, tt := range []struct {
		name string
		img  v1.Image
		ok   bool
	}{
		{"a config under the bound", withConfig(MaxSourceDocBytes - 4096), true},
		{"a config over it", withConfig(MaxSourceDocBytes + 1), false},
		{"a manifest over it", withManifest(MaxSourceDocBytes + 1), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ref, err := name.ParseReference(host+"/big:"+strings.ReplaceAll(tt.name, " ", "-"), name.Insecure)
			require.NoError(t, err)
			require.NoError(t, remote.Write(ref, tt.img))
			_, err = c.Resolve(context.Background(), ref)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, http.StatusBadRequest, apperr.Status(err))
			assert.Contains(t, err.Error(), "larger than")
		})
	}
}

// TestBoundedBodyWithoutLength: an answer that does not say its length
// fails once reading passes the bound, and one of exactly the bound reads
// whole.
func TestBoundedBodyWithoutLength(t *testing.T) {
	for _, tt := range []struct {
		size int
		ok   bool
	}{{10, true}, {11, false}} {
		body := &limitedBody{ReadCloser: io.NopCloser(strings.NewReader(strings.Repeat("y", tt.size))), left: 10}
		got, err := io.ReadAll(body)
		if tt.ok {
			require.NoError(t, err)
			assert.Len(t, got, tt.size)
		} else {
			assert.ErrorIs(t, err, errTooLarge)
		}
	}
}
