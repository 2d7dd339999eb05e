// Package registrytest serves go-containerregistry's in-process registry
// for unit tests: plain, or behind basic auth as the cluster's registry
// is, with images pushed under given references.
package registrytest

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Handler is a fresh, empty registry that logs nothing.
func Handler() http.Handler {
	return ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
}

// Serve serves h for the test's life and returns its host:port.
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Start serves a registry for the test's life, accepting only user and
// pass, with one random image pushed as each of refs ("repo:tag"). It
// returns the registry's host:port.
func Start(t testing.TB, user, pass string, refs ...string) string {
	t.Helper()
	reg := Handler()
	host := Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="registrytest"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	img, err := random.Image(256, 1)
	require.NoError(t, err)
	for _, s := range refs {
		ref, err := name.ParseReference(host+"/"+s, name.Insecure)
		require.NoError(t, err)
		require.NoError(t, remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: user, Password: pass})))
	}
	return host
}

// DockerConfig is a .dockerconfigjson document holding user and pass for
// host, as kubectl create secret docker-registry writes it.
func DockerConfig(host, user, pass string) string {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	doc, err := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"auth": auth}}})
	if err != nil {
		panic(err) // a map of strings always encodes
	}
	return string(doc)
}

// Secret is a Secret of type dockerconfigjson in namespace holding doc.
func Secret(name, namespace, doc string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(doc)},
	}
}

// ImageAs is a random one-layer image whose config runs as user ("" is
// root).
func ImageAs(t testing.TB, user string) v1.Image {
	t.Helper()
	img, err := random.Image(128, 1)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.Config.User = user
	img, err = mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	return img
}
