// Package zips tests every action through its zip, run by the invoker
// harness exactly as the Go runtime runs it. `make build` makes the zips.
package zips

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/test/invoker"
)

// zipDir is where make build writes the zips.
func zipDir(t *testing.T) string {
	if d := os.Getenv("BUILDER_ZIPS"); d != "" {
		return d
	}
	d, err := filepath.Abs("../../build")
	require.NoError(t, err)
	return d
}

func start(t *testing.T, zipName string) *invoker.Process {
	t.Helper()
	path := filepath.Join(zipDir(t), zipName+".zip")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is missing: run `make build` first (or `make test`, which does)", path)
	}
	p, err := invoker.Start(path, invoker.Options{Dir: t.TempDir(), ExecutionEnv: invoker.DefaultExecutionEnv})
	require.NoError(t, err)
	t.Cleanup(p.Stop)
	return p
}

// registry is an in-process registry behind basic auth, with devel:v1 and
// other:v1; bound holds the package parameters that point at it.
func registry(t *testing.T) map[string]any {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "pusher" || p != "p4ss" {
			w.Header().Set("WWW-Authenticate", `Basic realm="t"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		regHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(128, 1)
	require.NoError(t, err)
	for _, r := range []string{"devel:v1", "devel:v2", "other:v1"} {
		ref, err := name.ParseReference(host+"/"+r, name.Insecure)
		require.NoError(t, err)
		require.NoError(t, remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "pusher", Password: "p4ss"})))
	}
	return map[string]any{"registry_host": host, "registry_user": "pusher", "registry_password": "p4ss", "registry_insecure": true}
}

var regHandler = ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))

func merge(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func web(user, method string, p map[string]any) invoker.Activation {
	v := merge(p, map[string]any{"__ow_method": method, "__ow_headers": map[string]any{"accept": "application/json"}, "__ow_path": ""})
	if user != "" {
		v["__ow_user"] = user
	}
	return invoker.Activation{Value: v, Namespace: "nuvolaris", ActivationID: "a1", APIKey: "uuid:s3cr3t-key"}
}

func plain(ns string, p map[string]any) invoker.Activation {
	return invoker.Activation{Value: p, Namespace: ns, ActivationID: "a2", APIKey: "uuid:s3cr3t-key"}
}

func status(t *testing.T, res map[string]any) (int, map[string]any) {
	t.Helper()
	code, ok := res["statusCode"].(float64)
	require.True(t, ok, "a web result is an HTTP response: %v", res)
	body, ok := res["body"].(map[string]any)
	require.True(t, ok, "the body is a JSON object: %v", res)
	return int(code), body
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
		{"send", "send", web("devel", "POST", map[string]any{"source": "busybox\nRUN id", "target": "devel:v1", "kind": "python"}), 400},
		{"logs", "logs", web("devel", "GET", map[string]any{"tail": "-5"}), 400},
		{"cleanjobs", "cleanjobs", web("devel", "POST", map[string]any{"max_age_hours": "yesterday"}), 400},
		{"updatetoml", "updatetoml", web("devel", "POST", map[string]any{"toml": "x = 1"}), 403},
		{"list-catalogs", "registry", web("devel", "GET", map[string]any{"registry_insecure": "perhaps"}), 400},
		{"list-images", "registry", web("devel", "GET", nil), 400},
		{"get-image", "registry", web("devel", "GET", map[string]any{"image": "devel"}), 400},
		{"delete-image", "registry", web("devel", "GET", map[string]any{"image": "devel:v1"}), 405},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			p := start(t, tt.zip)
			name := "/nuvolaris/builder/" + tt.action

			a := web("", "GET", bound)
			a.ActionName = name
			res, err := p.RunValue(a)
			require.NoError(t, err)
			code, body := status(t, res)
			assert.Equal(t, 401, code, "%v", body)

			a = plain("devel", bound)
			a.ActionName = name
			res, err = p.RunValue(a)
			require.NoError(t, err)
			assert.Contains(t, res["error"], "plain invocations are for admin namespaces")
			assert.NotContains(t, res, "statusCode")

			a = tt.bad
			a.Value = merge(bound, a.Value)
			a.ActionName = name
			res, err = p.RunValue(a)
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
	p := start(t, "registry")
	call := func(action, user, method string, params map[string]any) (int, map[string]any) {
		a := web(user, method, merge(bound, params))
		a.ActionName = "/nuvolaris/builder/" + action
		res, err := p.RunValue(a)
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
	a := plain("nuvolaris", merge(bound, map[string]any{"operation": "list-catalogs"}))
	a.ActionName = "/nuvolaris/builder/registry"
	res, err := p.RunValue(a)
	require.NoError(t, err)
	assert.Equal(t, []any{"devel", "other"}, res["repositories"])

	raw, err := json.Marshal(res)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "p4ss")
}

// TestConfigurationComesFromParameters: the exec has no KUBECONFIG, HOME or
// service account here, so a send that passes validation must say where
// credentials come from.
func TestConfigurationComesFromParameters(t *testing.T) {
	p := start(t, "send")
	file := base64.StdEncoding.EncodeToString([]byte("beautifulsoup4\nsetuptools\n"))
	a := plain("nuvolaris", map[string]any{
		"source": "apache/openserverless-runtime-python:v3.13-2506091954",
		"target": "devel:python3.13-custom", "kind": "python", "file": file,
	})
	a.ActionName = "/nuvolaris/builder/send"
	res, err := p.RunValue(a)
	require.NoError(t, err)
	assert.Contains(t, res["error"], "no Kubernetes credentials")
	assert.Contains(t, res["error"], "kubeconfig")

	a.Value["kubeconfig"] = "clusters: [token: s3cr3t\n"
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
