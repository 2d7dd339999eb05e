package transfer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFetchFailsOnARedirectedLayer: a layer that cannot be read where
// the registry redirects it fails the fetch, and the layout lists nothing.
func TestFetchFailsOnARedirectedLayer(t *testing.T) {
	img, err := random.Image(1000, 1)
	require.NoError(t, err)
	d, _ := img.Digest()
	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()
	cn, _ := img.ConfigName()
	cfg, _ := img.RawConfigFile()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
		case strings.HasPrefix(r.URL.Path, "/v2/evil/manifests/"):
			w.Header().Set("Content-Type", string(mt))
			w.Header().Set("Docker-Content-Digest", d.String())
			_, _ = w.Write(raw)
		case r.URL.Path == "/v2/evil/blobs/"+cn.String():
			_, _ = w.Write(cfg)
		default:
			http.Redirect(w, r, "http://127.0.0.1:1/v2/x/blobs/y", http.StatusTemporaryRedirect)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	_, err = Fetch(context.Background(), host+"/evil@"+d.String(), Options{Layout: dir, Insecure: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "error writing layer")
	p, err := layout.FromPath(dir)
	require.NoError(t, err)
	ii, err := p.ImageIndex()
	require.NoError(t, err)
	im, err := ii.IndexManifest()
	require.NoError(t, err)
	assert.Empty(t, im.Manifests, "the layout lists nothing the build could use")
}
