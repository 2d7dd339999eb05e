package handlers

import (
	"bytes"
	"encoding/json"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/action/actiontest"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/shared/registry/registrytest"
)

// devel is a user calling over the web.
var devel = identity.Caller{Name: "devel", Web: true}

// The sources the tests build from, served by one in-process registry that
// answers for every registry host (routeAll), so each repository may appear
// under one host only: docker.io's seed runtime runs as nobody; the others
// as root.
var sourceImages = map[string]string{
	seedSource:                              "nobody",
	"registry.local:5000/devel:base":        "",
	"registry.local:5000/runtimes/python:1": "",
	"registry.local:5000/alice/secret:1":    "",
}

var sources struct {
	once    sync.Once
	host    string
	digests map[string]string
}

// routeAll sends every request, whatever its host, to the test registry.
type routeAll struct{ host string }

func (r routeAll) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = "http", r.host
	return http.DefaultTransport.RoundTrip(req)
}

func sourceRegistry(t testing.TB) routeAll {
	sources.once.Do(func() {
		srv := httptest.NewServer(registrytest.Handler())
		sources.host = strings.TrimPrefix(srv.URL, "http://")
		sources.digests = map[string]string{}
		for ref, user := range sourceImages {
			img := registrytest.ImageAs(t, user)
			r, err := name.ParseReference(ref)
			require.NoError(t, err)
			require.NoError(t, remote.Write(r, img, remote.WithTransport(routeAll{sources.host})))
			d, err := img.Digest()
			require.NoError(t, err)
			sources.digests[ref] = d.String()
		}
		// The server lives as long as the test binary.
	})
	return routeAll{sources.host}
}

// pushSource writes img as ref into the test registry.
func pushSource(t testing.TB, ref string, img v1.Image) {
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	require.NoError(t, remote.Write(r, img, remote.WithTransport(sourceRegistry(t))))
}

// invocation is an invocation by caller over cs whose registry calls reach
// the test registry.
func invocation(t testing.TB, cs *fake.Clientset, caller identity.Caller, p params.Params) *action.Invocation {
	t.Helper()
	cfg, err := config.FromParams(p)
	require.NoError(t, err)
	env := actiontest.Env(cs)
	env.Transport = sourceRegistry(t)
	return action.NewInvocation(env, p, caller, cfg, log.New(&bytes.Buffer{}, "", 0))
}

// toJSON is v as the caller reads it.
func toJSON(t testing.TB, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return string(raw)
}

// buildNS is where the handlers keep builds by default; the cluster's
// configuration (ConfigMap config) stays in "nuvolaris".
const buildNS = config.DefaultBuildNamespace

// step is the container of job's pod named name, init containers included.
func step(t *testing.T, job *batchv1.Job, name string) corev1.Container {
	t.Helper()
	pod := job.Spec.Template.Spec
	for _, c := range append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("build pod of %s has no step %s", job.Name, name)
	return corev1.Container{}
}

// collectGarbage makes cs remove a build's context when its Job is
// deleted, as the garbage collector does in a cluster: the builder may not
// delete a context its Job owns (deploy/admission.yaml).
func collectGarbage(cs *fake.Clientset) {
	cs.PrependReactor("delete", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		d := a.(k8stesting.DeleteAction)
		_ = cs.Tracker().Delete(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, d.GetNamespace(), d.GetName())
		return false, nil, nil
	})
}
