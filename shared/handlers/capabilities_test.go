package handlers

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apache/openserverless-builder/shared/action/actiontest"
	"github.com/apache/openserverless-builder/shared/params"
)

// TestCapabilitiesSayWhatTheConfigurationSays: builders, kinds, shared
// repositories, limits and switches, as configured, for the caller.
func TestCapabilitiesSayWhatTheConfigurationSays(t *testing.T) {
	p := params.Params{
		"builders":            `{"py": {"kind": "python", "source": "registry:5000/runtimes/python:v3"}, "node": {"kind": "nodejs", "source": "node:21"}}`,
		"shared_repositories": "runtimes",
		"max_active_builds":   "2",
		"max_context_bytes":   "4096",
		"provenance":          "false",
	}
	h := actiontest.Env(fake.NewClientset()).Handler(Capabilities)
	code, body := actiontest.WebCall(t, h, "capabilities", "devel", "GET", p)
	require.Equal(t, http.StatusOK, code, "%v", body)
	assert.Equal(t, "devel", body["user"])
	assert.Equal(t, []any{
		map[string]any{"id": "node", "kind": "nodejs", "source": "node:21", "file": "package.json"},
		map[string]any{"id": "py", "kind": "python", "source": "registry:5000/runtimes/python:v3", "file": "requirements.txt"},
	}, body["builders"])
	assert.Contains(t, body["kinds"], map[string]any{"name": "go", "file": "go.mod", "secrets": []any{"goenv", "netrc"}})
	assert.Contains(t, body["kinds"], map[string]any{"name": "python", "file": "requirements.txt", "secrets": []any{"pip.conf", "netrc"}})
	assert.Contains(t, body["kinds"], map[string]any{"name": "ruby", "file": "Gemfile", "secrets": []any{}})
	assert.Len(t, body["kinds"], 7)
	assert.Equal(t, []any{"runtimes"}, body["shared_repositories"])
	assert.Contains(t, body["allowed_sources"], "docker.io/apache/openserverless-runtime-")
	assert.Equal(t, map[string]any{"max_active_builds": 2.0, "max_retained_builds": 20.0, "max_context_bytes": 4096.0, "max_secret_bytes": 16384.0, "build_timeout_seconds": 1800.0}, body["limits"])
	assert.Equal(t, true, body["build_cache"])
	assert.Equal(t, false, body["provenance"])
	assert.NotEmpty(t, body["version"])

	// An admin (plain invocation from the admin namespace) is exempt.
	code, admin := actiontest.PlainCall(t, h, "capabilities", p)
	require.Equal(t, http.StatusOK, code, "%v", admin)
	assert.Equal(t, true, admin["admin"])
	assert.Equal(t, 0.0, admin["limits"].(map[string]any)["max_active_builds"])
}

// TestEnsureAnswers202OverTheWeb: a build under way is 202 Accepted.
func TestEnsureAnswers202OverTheWeb(t *testing.T) {
	env := actiontest.Env(fake.NewClientset())
	env.Transport = sourceRegistry(t)
	code, body := actiontest.WebCall(t, env.Handler(Ensure), "ensure", "devel", "POST", ensureParams("web\n"))
	assert.Equal(t, http.StatusAccepted, code, "%v", body)
	assert.Equal(t, "pending", body["status"])
	code, body = actiontest.WebCall(t, env.Handler(Ensure), "ensure", "devel", "GET", ensureParams("web\n"))
	assert.Equal(t, http.StatusMethodNotAllowed, code, "%v", body)
}
