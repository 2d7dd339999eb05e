package config

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"errors"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/params"
)

func TestDefaults(t *testing.T) {
	c, err := FromParams(params.Params{})
	require.NoError(t, err)
	assert.Equal(t, Config{
		KubeNamespace:     "nuvolaris",
		BuildNamespace:    "nuvolaris-builds",
		RegistrySecret:    "registry-pull-secret",
		RegistryInsecure:  true,
		BuildkitImage:     DefaultBuildkitImage,
		TransferImage:     DefaultTransferImage,
		BuildTimeout:      1800 * time.Second,
		MaxActiveBuilds:   3,
		MaxRetainedBuilds: 20,
		MaxContextBytes:   256 << 10,
		BuildCache:        true,
		Provenance:        true,
		RecordRetention:   30 * 24 * time.Hour,
		Builders:          DefaultBuilders(),
		AllowedSources:    DefaultAllowedSources(),
		BuildDisk:         resource.MustParse(DefaultBuildDisk),
	}, c)
	for _, bad := range []string{"lots", "512Mi", "2Ti", "-1"} {
		_, err := FromParams(params.Params{"build_disk": bad})
		assert.Equal(t, http.StatusBadRequest, apperr.Status(err), bad)
	}
}

func TestBuilders(t *testing.T) {
	c, err := FromParams(params.Params{})
	require.NoError(t, err)
	for _, id := range []string{"python:3.13", "nodejs:21", "php:8.3", "java:21", "go:1.22"} {
		b, ok := c.Builders[id]
		require.True(t, ok, id)
		assert.Equal(t, strings.Split(id, ":")[0], b.Kind, id)
	}
	assert.Equal(t, "apache/openserverless-runtime-python:v3.13-2506091954", c.Builders["python:3.13"].Source, "the seed's runtime")
	for id, b := range c.Builders {
		assert.NotContains(t, []string{"ruby", "dotnet"}, b.Kind, "%s: a kind that refuses every file is no builder", id)
		assert.NotRegexp(t, `:(nightly|latest)$`, b.Source, "%s: a moving tag", id)
	}

	c, err = FromParams(params.Params{
		"builders":           `{"py": {"kind": "python", "source": "registry:5000/runtimes/python:v3"}}`,
		"registry_pull_host": "registry.example.com",
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]Builder{"py": {ID: "py", Kind: "python", Source: "registry:5000/runtimes/python:v3"}}, c.Builders, "an operator's catalog replaces the default")
	assert.Equal(t, []string{"py"}, c.BuilderIDs())
	assert.Equal(t, "registry.example.com", c.PullHost("nuvolaris-registry-svc:5000"))
	c, _ = FromParams(params.Params{})
	assert.Equal(t, "nuvolaris-registry-svc:5000", c.PullHost("nuvolaris-registry-svc:5000"), "the push host by default")

	for _, bad := range []string{
		`[1]`,
		`{"py": {"kind": "cobol", "source": "x:1"}}`,
		`{"py": {"kind": "python", "source": "Not A Ref"}}`,
		`{"py": {"kind": "python", "source": "python"}}`,
		`{"a b": {"kind": "python", "source": "x:1"}}`,
		`{"py": "s3cr3t`,
	} {
		_, err := FromParams(params.Params{"builders": bad})
		require.Error(t, err, bad)
		assert.Equal(t, http.StatusBadRequest, apperr.Status(err), bad)
		assert.NotContains(t, err.Error(), "s3cr3t")
	}
	_, err = FromParams(params.Params{"registry_pull_host": "not a host"})
	assert.Equal(t, http.StatusBadRequest, apperr.Status(err))
}

func TestTenancyParams(t *testing.T) {
	c, err := FromParams(params.Params{
		"registry_aliases":    " registry.example.com, nuvolaris-registry-svc.nuvolaris.svc:5000 ,",
		"shared_repositories": "runtimes, base/python/",
		"max_active_builds":   "0",
		"max_retained_builds": 5,
		"max_context_bytes":   "1048576",
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"registry.example.com", "nuvolaris-registry-svc.nuvolaris.svc:5000"}, c.RegistryAliases)
	assert.Equal(t, []string{"runtimes", "base/python"}, c.SharedRepositories)
	assert.Equal(t, 0, c.MaxActiveBuilds)
	assert.Equal(t, 5, c.MaxRetainedBuilds)
	assert.Equal(t, 1<<20, c.MaxContextBytes)
}

func TestFromParams(t *testing.T) {
	c, err := FromParams(params.Params{
		"kube_namespace":        "system",
		"build_namespace":       "builds",
		"registry_host":         "registry.local:5000",
		"registry_insecure":     "false",
		"admin_namespaces":      " nuvolaris, ops ,",
		"build_timeout_seconds": "600",
		"buildkit_privileged":   true,
	})
	require.NoError(t, err)
	assert.Equal(t, "system", c.KubeNamespace)
	assert.Equal(t, "builds", c.BuildNamespace)
	assert.Equal(t, "registry.local:5000", c.RegistryHost)
	assert.False(t, c.RegistryInsecure)
	assert.Equal(t, 10*time.Minute, c.BuildTimeout)
	assert.True(t, c.AllowPrivileged)
}

// TestBuildTimeoutBounds: 10 s to 24 h, both ends included (the admission
// policy admits a deadline of at most 86400 s).
func TestBuildTimeoutBounds(t *testing.T) {
	for secs, want := range map[int]time.Duration{10: 10 * time.Second, 86400: 24 * time.Hour} {
		c, err := FromParams(params.Params{"build_timeout_seconds": secs})
		require.NoError(t, err, secs)
		assert.Equal(t, want, c.BuildTimeout)
	}
}

// TestRegistryMirrors: mirrors are keyed by the registry as references
// name it, so docker.io and its aliases are one.
func TestRegistryMirrors(t *testing.T) {
	c, err := FromParams(params.Params{"registry_mirrors": " docker.io=mirror.local:5000, ghcr.io=10.0.0.7:5001 "})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"index.docker.io": "mirror.local:5000", "ghcr.io": "10.0.0.7:5001"}, c.RegistryMirrors)
	m, ok := c.Mirror(name.DefaultRegistry)
	assert.True(t, ok)
	assert.Equal(t, "mirror.local:5000", m)
	_, ok = c.Mirror("quay.io")
	assert.False(t, ok)
}

func TestFromParamsRejects(t *testing.T) {
	tests := map[string]params.Params{
		"namespace not a label":   {"kube_namespace": "Not_A_Namespace"},
		"build namespace bad":     {"build_namespace": "builds/x"},
		"timeout too short":       {"build_timeout_seconds": 5},
		"timeout past 24 hours":   {"build_timeout_seconds": 86401},
		"timeout not a number":    {"build_timeout_seconds": "soon"},
		"insecure not a bool":     {"registry_insecure": "perhaps"},
		"registry host with path": {"registry_host": "host:5000/path"},
		"moving buildkit tag":     {"buildkit_image": "moby/buildkit:latest"},
		"context over 1 MiB":      {"max_context_bytes": 1<<20 + 1},
		"context too small":       {"max_context_bytes": 10},
		"negative active":         {"max_active_builds": -1},
		"no record retention":     {"record_retention_days": 0},
		"negative retained":       {"max_retained_builds": -1},
		"alias not a host":        {"registry_aliases": "a/b"},
		"shared with traversal":   {"shared_repositories": "runtimes/../alice"},
		"shared in upper case":    {"shared_repositories": "Runtimes"},
		"buildkit not a ref":      {"buildkit_image": "Moby/BuildKit::x"},
		"buildkit without tag":    {"buildkit_image": "moby/buildkit"},
		"moving transfer tag":     {"transfer_image": "ghcr.io/apache/openserverless-builder/transfer:latest"},
		"transfer without tag":    {"transfer_image": "ghcr.io/apache/openserverless-builder/transfer"},
		"secret name invalid":     {"registry_secret": "Bad Secret"},
		"mirror without target":   {"registry_mirrors": "docker.io"},
		"mirror with a path":      {"registry_mirrors": "docker.io=mirror:5000/x"},
		"mirror of a path":        {"registry_mirrors": "docker.io/library=mirror:5000"},
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := FromParams(p)
			require.Error(t, err)
			assert.Equal(t, http.StatusBadRequest, apperr.Status(err))
		})
	}
}

func TestResolveRegistryHost(t *testing.T) {
	ctx := context.Background()
	withAnnotation := func(v string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Name: "config", Namespace: "nuvolaris", Annotations: map[string]string{"registry_host": v},
		}}
	}
	tests := []struct {
		name    string
		param   string
		objects []runtime.Object
		want    string
		status  int
	}{
		{"parameter wins", "param.host:5000", []runtime.Object{withAnnotation("annot:5000")}, "param.host:5000", 0},
		{"annotation", "", []runtime.Object{withAnnotation("annot:5000")}, "annot:5000", 0},
		{"no configmap", "", nil, DefaultRegistryHost, 0},
		{"empty annotation", "", []runtime.Object{withAnnotation("")}, DefaultRegistryHost, 0},
		{"bad annotation", "", []runtime.Object{withAnnotation("not a host")}, "", 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset(tt.objects...)
			c := Config{KubeNamespace: "nuvolaris", RegistryHost: tt.param}
			got, err := c.ResolveRegistryHost(ctx, cs.CoreV1().ConfigMaps("nuvolaris"))
			if tt.status != 0 {
				require.Error(t, err)
				assert.Equal(t, tt.status, apperr.Status(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestResolveRegistryHostAPIFailureIs502(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	_, err := Config{KubeNamespace: "nuvolaris"}.ResolveRegistryHost(context.Background(), cs.CoreV1().ConfigMaps("nuvolaris"))
	require.Error(t, err)
	assert.Equal(t, http.StatusBadGateway, apperr.Status(err))
}

// TestParamNamesAreRead: every name the manifest binds is read (an object
// where a value belongs is refused), so ParamNames cannot drift from
// FromParams.
func TestParamNamesAreRead(t *testing.T) {
	for _, name := range ParamNames() {
		_, err := FromParams(params.Params{name: map[string]any{"x": 1}})
		require.Error(t, err, name)
		assert.Equal(t, http.StatusBadRequest, apperr.Status(err), name)
		assert.Contains(t, err.Error(), name)
	}
}
