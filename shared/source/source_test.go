package source

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/identity"
)

// authorize is what send does with a source: parse it, then ask the policy.
func authorize(p Policy, caller identity.Caller, src string) error {
	ref, err := buildspec.ParseSource(src)
	if err != nil {
		return err
	}
	return p.Authorize(caller, ref)
}

func TestAuthorize(t *testing.T) {
	p := NewPolicy(Cluster{
		RegistryHost:    "registry.local:5000",
		KubeNamespace:   "nuvolaris",
		Aliases:         []string{"registry.example.com"},
		CredentialHosts: []string{"mirror.corp:8443"},
		Shared:          []string{"runtimes", "base/python"},
		Allowed:         []string{"apache/openserverless-runtime-", "docker.io/library/busybox", "ghcr.io/alice/"},
	})
	devel := identity.Caller{Name: "devel"}
	admin := identity.Caller{Name: "nuvolaris", Admin: true}
	digest := "@sha256:" + strings.Repeat("a", 64)
	tests := []struct {
		source string
		caller identity.Caller
		status int // 0: allowed
	}{
		// Allowed sources elsewhere: anonymous, anyone.
		{"apache/openserverless-runtime-python:v3.13-2506091954", devel, 0},
		{"docker.io/library/busybox:1", devel, 0},
		{"ghcr.io/alice/secret:1", devel, 0},
		// Every spelling of the cluster registry holding alice's image.
		{"registry.local:5000/alice/secret:1", devel, 403},
		{"REGISTRY.LOCAL:5000/alice/secret:1", devel, 403},
		{"registry.local/alice/secret:1", devel, 403},
		{"registry.local:443/alice/secret:1", devel, 403},
		{"nuvolaris-registry-svc:5000/alice/secret:1", devel, 403},
		// No dot, no port: Docker Hub's nuvolaris-registry-svc/alice/secret,
		// for BuildKit as for go-containerregistry.
		{"nuvolaris-registry-svc/alice/secret:1", devel, 403},
		{"nuvolaris-registry-svc/alice/secret:1", admin, 0},
		{"Nuvolaris-Registry-Svc:5000/alice/secret:1", devel, 403},
		{"nuvolaris-registry-svc.nuvolaris:5000/alice/secret:1", devel, 403},
		{"nuvolaris-registry-svc.nuvolaris.svc:5000/alice/secret:1", devel, 403},
		{"nuvolaris-registry-svc.nuvolaris.svc.cluster.local:5000/alice/secret:1", devel, 403},
		{"nuvolaris-registry-svc.nuvolaris.svc.cluster.local.:5000/alice/secret:1", devel, 403},
		{"registry.example.com/alice/secret:1", devel, 403},
		{"mirror.corp:8443/alice/secret:1", devel, 403},
		{"mirror.corp/alice/secret:1", devel, 403},
		{"registry.local:5000/alice/secret" + digest, devel, 403},
		{"registry.local:5000/alice:1", devel, 403},
		{"registry.local:5000/develop/x:1", devel, 403},
		// Traversal and other names outside the strict grammar: 400 anywhere.
		{"registry.local:5000/devel/../alice/secret:1", devel, 400},
		{"registry.local:5000/devel/./x:1", devel, 400},
		{"ghcr.io/devel/../x:1", devel, 400},
		{"registry.local:5000/devel//x:1", devel, 400},
		// Allowed in the cluster registry: own, shared, admin.
		{"registry.local:5000/devel:base", devel, 0},
		{"registry.local:5000/devel/python:base" + "", devel, 0},
		{"nuvolaris-registry-svc:5000/devel/python" + digest, devel, 0},
		{"registry.local:5000/runtimes:python", devel, 0},
		{"registry.local:5000/runtimes/python:3.13", devel, 0},
		{"registry.local:5000/base/python:1", devel, 0},
		{"registry.local:5000/base/node:1", devel, 403},
		{"registry.local:5000/runtimesx:1", devel, 403},
		{"registry.local:5000/alice/secret:1", admin, 0},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			err := authorize(p, tt.caller, tt.source)
			if tt.status == 0 {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tt.status, apperr.Status(err), "%v", err)
		})
	}
}

func TestRefusalSaysWhatTheCallerMayUse(t *testing.T) {
	p := NewPolicy(Cluster{RegistryHost: "registry.local:5000", Shared: []string{"runtimes"}})
	err := authorize(p, identity.Caller{Name: "devel"}, "registry.local:5000/alice/secret:1")
	require.Error(t, err)
	assert.Equal(t, http.StatusForbidden, apperr.Status(err))
	for _, want := range []string{"devel, devel/...", "runtimes, runtimes/...", "allowed sources"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestDockerHubCredentialMakesDockerHubOurs(t *testing.T) {
	// A credential for Docker Hub in the push Secret is presented there:
	// Docker Hub is then treated as the cluster registry.
	for _, host := range []string{"docker.io", "index.docker.io", "INDEX.docker.io"} {
		p := NewPolicy(Cluster{RegistryHost: "registry.local:5000", CredentialHosts: []string{host}})
		err := authorize(p, identity.Caller{Name: "devel"}, "alice/secret:1")
		assert.Equal(t, http.StatusForbidden, apperr.Status(err), host)
		err = authorize(p, identity.Caller{Name: "devel"}, "devel/base:1")
		assert.NoError(t, err, host)
	}
}

// TestAllowedSources: outside the cluster registry, a user builds only
// from allowed_sources prefixes (spelt any way Docker Hub is) or a
// builder's source, decided before any network call; admins from any.
func TestAllowedSources(t *testing.T) {
	p := NewPolicy(Cluster{
		RegistryHost: "registry.local:5000",
		Allowed:      []string{"docker.io/apache/openserverless-runtime-", "Index.Docker.io/openwhisk/action-", "quay.io/org/", "registry.example.com", "ghcr.io/myorg"},
		Builders:     []string{"ghcr.io/nuvolaris/go-metaflow:bc86ab6"},
	})
	devel := identity.Caller{Name: "devel"}
	for _, tt := range []struct {
		source string
		caller identity.Caller
		status int
	}{
		{"apache/openserverless-runtime-python:v3.13-2506091954", devel, 0},
		{"docker.io/apache/openserverless-runtime-nodejs:v21", devel, 0},
		{"index.docker.io/apache/openserverless-runtime-go@sha256:" + strings.Repeat("a", 64), devel, 0},
		{"openwhisk/action-ruby-v2.5:nightly", devel, 0},
		{"quay.io/org/image:1", devel, 0},
		{"ghcr.io/nuvolaris/go-metaflow:other", devel, 0}, // the builder's repository
		{"apache/openserverless-admin:1", devel, 403},
		{"quay.io/organisation/image:1", devel, 403},
		{"quay.io.evil.test/org/image:1", devel, 403},
		{"10.0.0.1:8080/probe:1", devel, 403},
		{"metadata.google.internal/x:1", devel, 403},
		{"ghcr.io/nuvolaris/go-metaflow2:1", devel, 403},
		// The host exactly, the path on a "/" boundary.
		{"registry.example.com/team/x:1", devel, 0},
		{"registry.example.com.attacker.io/x:1", devel, 403},
		{"registry.example.com:5000/x:1", devel, 403},
		{"ghcr.io/myorg/x:1", devel, 0},
		{"ghcr.io/myorg:1", devel, 0},
		{"ghcr.io/myorgevil/x:1", devel, 403},
		// A name prefix ending in "-" admits names in that one place.
		{"apache/openserverless-runtime-python/nested:1", devel, 403},
		{"10.0.0.1:8080/probe:1", identity.Caller{Name: "nuvolaris", Admin: true}, 0},
	} {
		err := authorize(p, tt.caller, tt.source)
		if tt.status == 0 {
			assert.NoError(t, err, tt.source)
			continue
		}
		require.Error(t, err, tt.source)
		assert.Equal(t, tt.status, apperr.Status(err), tt.source)
		assert.Contains(t, err.Error(), "docker.io/apache/openserverless-runtime-, docker.io/openwhisk/action-, quay.io/org/, registry.example.com, ghcr.io/myorg", "the refusal names the allowed prefixes")
	}
	assert.True(t, NewPolicy(Cluster{Allowed: []string{"*"}}).Allowed(mustRef(t, "any.host/any:1")), "* allows any")
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s)
	require.NoError(t, err)
	return ref
}

// TestClusterEndpoint: a mirror is the cluster registry only at one of its
// names with its port, or at a host the Secret has a credential for; the
// same machine at another port is another server.
func TestClusterEndpoint(t *testing.T) {
	p := NewPolicy(Cluster{
		RegistryHost:    "registry.local:5000",
		KubeNamespace:   "nuvolaris",
		Aliases:         []string{"registry.example.com"},
		CredentialHosts: []string{"mirror.corp:8443"},
	})
	for host, want := range map[string]bool{
		"registry.local:5000":                                     true,
		"REGISTRY.local:5000":                                     true,
		"registry.example.com":                                    true,
		"nuvolaris-registry-svc:5000":                             true,
		"nuvolaris-registry-svc.nuvolaris.svc.cluster.local:5000": true,
		"mirror.corp:8443":                                        true,
		"registry.local:5001":                                     false,
		"mirror.corp":                                             false,
		"mirror.local:5000":                                       false,
	} {
		assert.Equal(t, want, p.ClusterEndpoint(host), host)
	}
	assert.True(t, p.InCluster("registry.local:5001"), "sources stay wider: any port")
}
