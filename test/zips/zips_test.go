// Package zips tests every action through its zip, run by the invoker
// harness exactly as the Go runtime runs it. `make build` makes the zips.
package zips

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/registry/registrytest"
	"github.com/apache/openserverless-builder/test/invoker"
)

// zipDir is where make build wrote the zips, checked to be newer than
// their sources.
func zipDir(t testing.TB) string {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	d, err := invoker.ZipDir(root)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// start runs a zip deployed as the manifest deploys it, with config bound.
func start(t *testing.T, zipName string, config map[string]any) *invoker.Process {
	t.Helper()
	path := filepath.Join(zipDir(t), zipName+".zip")
	p, err := invoker.Start(path, invoker.Options{Dir: t.TempDir(), ExecutionEnv: invoker.DefaultExecutionEnv, Bound: invoker.Deployment(config)})
	require.NoError(t, err)
	t.Cleanup(p.Stop)
	return p
}

// registry is an in-process registry behind basic auth, with devel:v1,
// devel:v2 and other:v1; it returns the package parameters that point at it.
func registry(t *testing.T) map[string]any {
	host := registrytest.Start(t, "pusher", "p4ss", "devel:v1", "devel:v2", "other:v1")
	return map[string]any{"registry_host": host, "registry_user": "pusher", "registry_password": "p4ss", "registry_insecure": true}
}

func status(t *testing.T, res map[string]any) (int, map[string]any) {
	t.Helper()
	code, body, err := invoker.Response(res)
	require.NoError(t, err)
	return code, body
}

// TestEveryAction runs, on one process per action: a web call without
// identity (401), a plain call from a user's namespace (403), bad input
// (400 or 405), and checks the process serves them all and stays up.
func TestEveryAction(t *testing.T) {
	bound := registry(t)
	tests := []struct {
		action, zip string
		bad         invoker.Activation
		badStatus   int
	}{
		{"send", "send", invoker.Web("send", "devel", "POST", map[string]any{"source": "busybox\nRUN id", "target": "devel:v1", "kind": "python"}), 400},
		{"ensure", "send", invoker.Web("ensure", "devel", "POST", map[string]any{"builder": "cobol:1"}), 400},
		{"capabilities", "send", invoker.Web("capabilities", "devel", "DELETE", nil), 405},
		{"logs", "logs", invoker.Web("logs", "devel", "GET", map[string]any{"tail": "-5"}), 400},
		{"cleanjobs", "cleanjobs", invoker.Web("cleanjobs", "devel", "POST", map[string]any{"max_age_hours": "yesterday"}), 400},
		{"updatetoml", "updatetoml", invoker.Web("updatetoml", "devel", "POST", map[string]any{"toml": "x = 1"}), 403},
		{"list-catalogs", "registry", invoker.Web("list-catalogs", "devel", "PUT", nil), 405},
		{"list-images", "registry", invoker.Web("list-images", "devel", "GET", nil), 400},
		{"get-image", "registry", invoker.Web("get-image", "devel", "GET", map[string]any{"image": "devel"}), 400},
		{"delete-image", "registry", invoker.Web("delete-image", "devel", "GET", map[string]any{"image": "devel:v1"}), 405},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			p := start(t, tt.zip, bound)
			res, err := p.RunValue(invoker.Web(tt.action, "", "GET", nil))
			require.NoError(t, err)
			code, body := status(t, res)
			assert.Equal(t, 401, code, "%v", body)

			res, err = p.RunValue(invoker.Plain(tt.action, "devel", nil))
			require.NoError(t, err)
			assert.Contains(t, res["error"], "plain invocations are for admin namespaces")
			assert.NotContains(t, res, "statusCode")

			res, err = p.RunValue(tt.bad)
			require.NoError(t, err)
			code, body = status(t, res)
			assert.Equal(t, tt.badStatus, code, "%v", body)
			assert.NotEmpty(t, body["error"])

			assert.False(t, p.Exited(), "the exec serves activation after activation")
			// Three activations log three lines; stderr arrives on its own pipe.
			require.Eventually(t, func() bool { return strings.Count(p.Logs(), "\n") >= 3 }, 5*time.Second, 10*time.Millisecond)
			logs := p.Logs()
			assert.True(t, strings.HasSuffix(logs, "\n"), "every log line ends in a newline: %q", logs)
			assert.NotContains(t, logs, "s3cr3t", "the api key never reaches the log")
			assert.NotContains(t, logs, "p4ss")
		})
	}
}

func TestRegistryZipAgainstARegistry(t *testing.T) {
	bound := registry(t)
	p := start(t, "registry", bound)
	call := func(action, user, method string, params map[string]any) (int, map[string]any) {
		res, err := p.RunValue(invoker.Web(action, user, method, params))
		require.NoError(t, err)
		return status(t, res)
	}
	code, body := call("list-catalogs", "devel", "GET", nil)
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, []any{"devel"}, body["repositories"], "a user sees only their repositories")

	code, body = call("list-images", "devel", "GET", map[string]any{"catalog": "devel"})
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, []any{"v1", "v2"}, body["tags"])

	code, body = call("list-images", "devel", "GET", map[string]any{"catalog": "other"})
	assert.Equal(t, 403, code, "%v", body)

	code, got := call("get-image", "devel", "GET", map[string]any{"image": "devel:v1"})
	require.Equal(t, 200, code, "%v", got)
	assert.Contains(t, got["digest"], "sha256:")

	code, body = call("delete-image", "devel", "DELETE", map[string]any{"image": "devel:v2"})
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, got["digest"], body["digest"], "v1 and v2 are one image")

	// The operation parameter (bound in the manifest) picks the operation
	// whatever the action is called.
	op := start(t, "registry", invoker.Merge(bound, map[string]any{"operation": "list-catalogs"}))
	res, err := op.RunValue(invoker.Plain("registry", "nuvolaris", nil))
	require.NoError(t, err)
	assert.Equal(t, []any{"devel", "other"}, res["repositories"])

	raw, err := json.Marshal(res)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "p4ss")

	// No request overrides what the deployment bound (final actions).
	_, err = p.RunValue(invoker.Web("list-catalogs", "devel", "GET", map[string]any{"registry_host": "evil.example:5000"}))
	assert.ErrorIs(t, err, invoker.ErrFinal)
	_, err = op.RunValue(invoker.Plain("registry", "nuvolaris", map[string]any{"operation": "delete-image"}))
	assert.ErrorIs(t, err, invoker.ErrFinal)
}

// TestConfigurationComesFromParameters: the exec has no KUBECONFIG, HOME or
// service account here, so a send that passes validation must say where
// credentials come from.
func TestConfigurationComesFromParameters(t *testing.T) {
	file := base64.StdEncoding.EncodeToString([]byte("beautifulsoup4\nsetuptools\n"))
	a := invoker.Plain("send", "nuvolaris", map[string]any{
		"source": "apache/openserverless-runtime-python:v3.13-2506091954",
		"target": "devel:python3.13-custom", "kind": "python", "file": file,
	})
	res, err := start(t, "send", nil).RunValue(a)
	require.NoError(t, err)
	assert.Contains(t, res["error"], "no Kubernetes credentials")
	assert.Contains(t, res["error"], "kubeconfig")

	p := start(t, "send", map[string]any{"kubeconfig": "clusters: [token: s3cr3t\n"})
	res, err = p.RunValue(a)
	require.NoError(t, err)
	assert.Contains(t, res["error"], "not a usable kubeconfig")
	assert.NotContains(t, res["error"], "s3cr3t")
}

func TestExecutionEnvMismatchIsRefused(t *testing.T) {
	_, err := invoker.Start(filepath.Join(zipDir(t), "logs.zip"), invoker.Options{Dir: t.TempDir(), ExecutionEnv: "apacheopenserverless/runtime-golang-v1.25"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "execution environment mismatch")
}
