// Package regtest starts go-containerregistry's in-process registry for
// unit tests, behind basic auth as the cluster's registry is, holding one
// image under the given references.
package regtest

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// Start serves a registry for the test's life, accepting only user and
// pass, with one random image pushed as each of refs ("repo:tag"). It
// returns the registry's host:port.
func Start(t testing.TB, user, pass string, refs ...string) string {
	t.Helper()
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="regtest"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(256, 1)
	require.NoError(t, err)
	for _, s := range refs {
		ref, err := name.ParseReference(host+"/"+s, name.Insecure)
		require.NoError(t, err)
		require.NoError(t, remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: user, Password: pass})))
	}
	return host
}
