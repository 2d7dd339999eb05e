package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/registry/registrytest"
	"github.com/apache/openserverless-builder/test/invoker"
	"github.com/apache/openserverless-builder/test/whiskfake"
)

const (
	develAuth = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:devel-key"
	adminAuth = "789c46b1-71f6-4ed5-8c54-816aa4f8c502:admin-key"
)

// api is a fake OpenWhisk whose builder package points at an in-process
// registry holding devel:v1, devel:v2 and other:v1.
func api(t *testing.T) *whiskfake.Server {
	host := registrytest.Start(t, "u", "p", "devel:v1", "devel:v2", "other:v1")
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	zips, err := invoker.ZipDir(root)
	if err != nil {
		t.Fatal(err)
	}
	s := whiskfake.New(zips, map[string]any{"registry_host": host, "registry_user": "u", "registry_password": "p"},
		map[string]string{develAuth: "devel", adminAuth: "nuvolaris"})
	t.Cleanup(s.Close)
	return s
}

// builder runs the CLI with a ~/.wskprops for auth and returns its exit
// code, stdout and stderr.
func builder(t *testing.T, s *whiskfake.Server, auth, namespace string, args ...string) (int, string, string) {
	home := t.TempDir()
	props := "APIHOST=" + s.URL + "\nAUTH=" + auth + "\nNAMESPACE=" + namespace + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(home, ".wskprops"), []byte(props), 0o600))
	env := map[string]string{"HOME": home}
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] }, false)
	return code, out.String(), errOut.String()
}

func TestUserCommandsOverTheWeb(t *testing.T) {
	s := api(t)
	code, out, errOut := builder(t, s, develAuth, "devel", "list-catalogs")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "REPOSITORY\ndevel\n", out, "a user sees only their repositories")

	code, out, errOut = builder(t, s, develAuth, "devel", "list-images", "--catalog", "devel")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "TAG\nv1\nv2\n", out)

	code, out, errOut = builder(t, s, develAuth, "devel", "list-images", "--catalog", "devel", "--json")
	require.Equal(t, 0, code, errOut)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Equal(t, []any{"v1", "v2"}, res["tags"])

	code, out, errOut = builder(t, s, develAuth, "devel", "get-image", "--image", "devel:v1")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "DIGEST")
	assert.Contains(t, out, "sha256:")

	code, out, errOut = builder(t, s, develAuth, "devel", "delete-image", "--image", "devel:v2")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "deleted devel:v2")

	code, out, errOut = builder(t, s, develAuth, "devel", "builders")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "python:3.13  python  requirements.txt  apache/openserverless-runtime-python:v3.13-2506091954")
	assert.Contains(t, out, "nodejs:21")
	assert.Contains(t, out, "python  requirements.txt  pip.conf, netrc", "each kind's build secrets")
	assert.Contains(t, out, "ruby    Gemfile           -")

	code, _, errOut = builder(t, s, develAuth, "devel", "list-images", "--catalog", "other")
	assert.Equal(t, exitError, code)
	assert.Contains(t, errOut, `repository "other" is not yours`, "the action's message, as is")
}

func TestAdminInvokesPlainly(t *testing.T) {
	s := api(t)
	code, out, errOut := builder(t, s, adminAuth, "nuvolaris", "list-catalogs")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "REPOSITORY\ndevel\nother\n", out)

	// No cluster here: the action's error comes back through the API.
	req := filepath.Join(t.TempDir(), "requirements.txt")
	require.NoError(t, os.WriteFile(req, []byte("beautifulsoup4\nsetuptools\n"), 0o600))
	code, _, errOut = builder(t, s, adminAuth, "nuvolaris", "send", "--source", "busybox:1", "--target", "devel:v9", "--requirements", req)
	assert.Equal(t, exitError, code)
	assert.Contains(t, errOut, "no Kubernetes credentials")
	calls := s.Calls()
	require.Len(t, calls, 2)
	for _, c := range calls {
		assert.False(t, c.Web, "an admin invokes %s plainly", c.Action)
	}

	// A user forcing a plain invocation is told to use the web action.
	code, _, errOut = builder(t, s, develAuth, "devel", "list-catalogs", "--plain")
	assert.Equal(t, exitError, code)
	assert.Contains(t, errOut, "plain invocations are for admin namespaces")

	// A user, by default, calls the web action.
	code, _, errOut = builder(t, s, develAuth, "devel", "list-catalogs")
	require.Equal(t, 0, code, errOut)
	calls = s.Calls()
	assert.True(t, calls[len(calls)-1].Web)
}

func TestArguments(t *testing.T) {
	s := api(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"--help"}, exitOK, "Commands:"},
		{"unknown command", []string{"build"}, exitUsage, `unknown command "build"`},
		{"send without source", []string{"send", "--target", "devel:v1", "--kind", "python"}, exitUsage, "--source and --target are required"},
		{"send kind not inferred", []string{"send", "--source", "busybox", "--target", "devel:v1", "--requirements", "go.sum"}, exitUsage, "go.sum"},
		{"list-images without catalog", []string{"list-images"}, exitUsage, "--catalog is required"},
		{"get-image without image", []string{"get-image"}, exitUsage, "--image is required"},
		{"stray argument", []string{"list-catalogs", "extra"}, exitUsage, `unexpected argument "extra"`},
		{"web and plain", []string{"list-catalogs", "--web", "--plain"}, exitUsage, "exclude each other"},
		{"subcommand help has an example", []string{"delete-image", "--help"}, exitOK, "builder delete-image --image devel:alpine"},
		{"bad flag", []string{"logs", "--tail", "many"}, exitUsage, "invalid argument"},
		{"unknown flag", []string{"builds", "--bogus"}, exitUsage, "unknown flag: --bogus"},
		{"cancel without a build", []string{"cancel"}, exitUsage, "id, or --job-name, is required"},
		{"logs with two ids", []string{"logs", "a", "b"}, exitUsage, `unexpected argument "b"`},
		{"help lists builds and cancel", []string{"--help"}, exitOK, "builds"},
		{"a secret without its file", []string{"send", "--source", "busybox", "--target", "devel:v1", "--kind", "python", "--secret", "netrc"}, exitUsage, "write NAME=FILE"},
		{"a secret twice", []string{"ensure", "--builder", "python:3.13", "--secret", "netrc=/dev/null", "--secret", "netrc=/dev/null"}, exitUsage, "--secret netrc is given twice"},
		{"a secret's file missing", []string{"send", "--source", "busybox", "--target", "devel:v1", "--kind", "python", "--secret", "netrc=/nonexistent/netrc"}, exitUsage, "--secret netrc: open /nonexistent/netrc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := builder(t, s, develAuth, "devel", tt.args...)
			assert.Equal(t, tt.code, code, "%s%s", out, errOut)
			assert.Contains(t, out+errOut, tt.want)
		})
	}
}

func TestSendInfersTheKind(t *testing.T) {
	s := api(t)
	dir := t.TempDir()
	for file, kind := range map[string]string{"go.mod": "go", "requirements.txt": "python", "package.json": "nodejs", "composer.json": "php"} {
		path := filepath.Join(dir, file)
		require.NoError(t, os.WriteFile(path, []byte("x\n"), 0o600))
		// The fake has no cluster: send fails after the kind is accepted.
		code, _, errOut := builder(t, s, adminAuth, "nuvolaris", "send", "--source", "busybox:1", "--target", "devel:v9", "--requirements", path)
		assert.Equal(t, exitError, code)
		assert.Contains(t, errOut, "no Kubernetes credentials")
		calls := s.Calls()
		last := calls[len(calls)-1]
		assert.Equal(t, "send", last.Action)
		assert.Equal(t, kind, last.Params["kind"], "the kind of %s", file)
	}
}

// TestSendCarriesSecrets: --secret NAME=FILE reaches send as the secrets
// parameter, base64; the action's refusal of a name the kind does not
// read comes back, and the file's content is printed nowhere.
func TestSendCarriesSecrets(t *testing.T) {
	s := api(t)
	dir := t.TempDir()
	req, netrc := filepath.Join(dir, "requirements.txt"), filepath.Join(dir, "netrc")
	require.NoError(t, os.WriteFile(req, []byte("osbprobe==1.0\n"), 0o600))
	require.NoError(t, os.WriteFile(netrc, []byte("machine 127.0.0.1 login u password s3cr3t\n"), 0o600))
	code, out, errOut := builder(t, s, adminAuth, "nuvolaris", "send", "--source", "busybox:1", "--target", "devel:v9", "--requirements", req, "--secret", "netrc="+netrc)
	assert.Equal(t, exitError, code, "the fake has no cluster: send fails after the secrets are accepted")
	assert.Contains(t, errOut, "no Kubernetes credentials")
	calls := s.Calls()
	assert.Equal(t, map[string]any{"netrc": "bWFjaGluZSAxMjcuMC4wLjEgbG9naW4gdSBwYXNzd29yZCBzM2NyM3QK"}, calls[len(calls)-1].Params["secrets"])
	assert.NotContains(t, out+errOut, "s3cr3t")

	code, out, errOut = builder(t, s, adminAuth, "nuvolaris", "send", "--source", "busybox:1", "--target", "devel:v9", "--requirements", req, "--secret", "npmrc="+netrc)
	assert.Equal(t, exitError, code)
	assert.Contains(t, errOut, `build secret "npmrc" is not one of kind python: use pip.conf, netrc`)
	assert.NotContains(t, out+errOut, "s3cr3t")
}

func TestCredentials(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"list-catalogs"}, &out, &errOut, func(string) string { return "" }, false)
	assert.Equal(t, exitError, code)
	assert.Contains(t, errOut.String(), "no OpenWhisk credentials")

	s := api(t)
	code, _, errOut2 := builder(t, s, "nobody:wrong", "devel", "list-catalogs")
	assert.Equal(t, exitError, code)
	assert.NotContains(t, errOut2, "wrong", "credentials never printed")
	assert.NotContains(t, errOut2, develAuth)

	// Flags override ~/.wskprops.
	code, out3, _ := builder(t, s, "nobody:wrong", "devel", "list-catalogs", "--auth", develAuth)
	assert.Equal(t, 0, code)
	assert.Contains(t, out3, "devel")
}

// TestBuildsCancelAndLogsByID: the new subcommands call their actions with
// their parameters, over the web for a user and plainly for an admin.
func TestBuildsCancelAndLogsByID(t *testing.T) {
	s := api(t)
	for _, tt := range []struct {
		args   []string
		action string
		params map[string]any
	}{
		{[]string{"builds", "--limit", "5", "--next", "eyJjIjoiMjAyNi0wMS0wMVQwMDowMDowMFoiLCJqIjoiYnVpbGQteCJ9"}, "builds", map[string]any{"limit": float64(5), "next": "eyJjIjoiMjAyNi0wMS0wMVQwMDowMDowMFoiLCJqIjoiYnVpbGQteCJ9"}},
		{[]string{"builds", "--user", "other"}, "builds", map[string]any{"limit": float64(20), "user": "other"}},
		{[]string{"cancel", "0123456789"}, "cancel", map[string]any{"id": "0123456789"}},
		{[]string{"cancel", "--job-name", "build-devel-0123456789"}, "cancel", map[string]any{"job_name": "build-devel-0123456789"}},
		{[]string{"logs", "0123456789", "--tail", "3"}, "logs", map[string]any{"id": "0123456789", "tail": float64(3)}},
	} {
		before := len(s.Calls())
		code, _, errOut := builder(t, s, adminAuth, "nuvolaris", tt.args...)
		assert.Equal(t, exitError, code, "no cluster behind the fake: %s", errOut)
		assert.Contains(t, errOut, "no Kubernetes credentials", "the action ran")
		calls := s.Calls()
		require.Len(t, calls, before+1, "%v", tt.args)
		c := calls[len(calls)-1]
		assert.Equal(t, tt.action, c.Action, "%v", tt.args)
		assert.False(t, c.Web, "an admin invokes plainly")
		assert.Equal(t, tt.params, c.Params, "%v", tt.args)
	}
	code, _, _ := builder(t, s, develAuth, "devel", "cancel", "0123456789")
	assert.Equal(t, exitError, code)
	calls := s.Calls()
	assert.True(t, calls[len(calls)-1].Web, "a user calls the web action")
}

// TestCompletion: shell completion scripts, with no credentials needed.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"completion", shell}, &out, &errOut, func(string) string { return "" }, false)
		assert.Equal(t, exitOK, code, "%s: %s", shell, errOut.String())
		assert.Contains(t, out.String(), "builder", shell)
		assert.Greater(t, out.Len(), 500, shell)
	}
}
