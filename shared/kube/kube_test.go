package kube

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const kubeconfigYAML = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
users:
- name: u
  user:
    token: s3cr3t-token
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`

func TestRESTConfigOrder(t *testing.T) {
	dir := t.TempDir()
	saDir := filepath.Join(dir, "sa")
	require.NoError(t, os.MkdirAll(saDir, 0o755))
	kcPath := filepath.Join(dir, "kubeconfig")
	require.NoError(t, os.WriteFile(kcPath, []byte(kubeconfigYAML), 0o600))
	env := map[string]string{"KUBECONFIG": kcPath}
	l := Loader{ServiceAccountDir: saDir, Getenv: func(k string) string { return env[k] }}

	// 1. The parameter wins.
	cfg, err := l.RESTConfig(kubeconfigYAML)
	require.NoError(t, err)
	assert.Equal(t, "https://127.0.0.1:6443", cfg.Host)
	assert.Equal(t, "s3cr3t-token", cfg.BearerToken)
	assert.Equal(t, float32(qps), cfg.QPS, "not client-go's 5 per second")

	// 2. Without the parameter: KUBECONFIG, even where a service-account
	// token is mounted: it is never taken silently.
	require.NoError(t, os.WriteFile(filepath.Join(saDir, "token"), []byte("t"), 0o600))
	cfg, err = l.RESTConfig("")
	require.NoError(t, err)
	assert.Equal(t, "https://127.0.0.1:6443", cfg.Host)

	// 3. The container's service-account token only when asked for.
	cfg, err = l.RESTConfig(InCluster)
	require.NoError(t, err)
	assert.Equal(t, InClusterHost, cfg.Host)
	assert.Equal(t, filepath.Join(saDir, "token"), cfg.BearerTokenFile)

	noToken := Loader{ServiceAccountDir: t.TempDir(), Getenv: func(string) string { return "" }}
	_, err = noToken.RESTConfig(InCluster)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "holds no service-account token")
	_, err = noToken.RESTConfig("")
	assert.Contains(t, err.Error(), "no Kubernetes credentials")
}

// TestRESTConfigErrorsKeepSecretsOut: a kubeconfig the parser refuses is
// reported without its content, even where the parser's own error quotes
// it (proxy-url and current-context are quoted as given), from the
// parameter and from KUBECONFIG alike.
func TestRESTConfigErrorsKeepSecretsOut(t *testing.T) {
	const cluster = "clusters: [{name: c, cluster: {server: https://h%s}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
	for _, tt := range []struct{ name, doc string }{
		{"yaml error", "clusters: [token: s3cr3t-token\n"},
		{"proxy-url quoted by the parser", fmt.Sprintf(cluster, `, proxy-url: "ht tp://s3cr3t:x"`) + "current-context: c\n"},
		{"current-context quoted by the parser", fmt.Sprintf(cluster, "") + "current-context: s3cr3t-ctx\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kcPath := filepath.Join(t.TempDir(), "kubeconfig")
			require.NoError(t, os.WriteFile(kcPath, []byte(tt.doc), 0o600))
			fromParam := Loader{ServiceAccountDir: t.TempDir(), Getenv: func(string) string { return "" }}
			fromEnv := Loader{ServiceAccountDir: t.TempDir(), Getenv: func(string) string { return kcPath }}
			for _, try := range []func() error{
				func() error { _, err := fromParam.RESTConfig(tt.doc); return err },
				func() error { _, err := fromEnv.RESTConfig(""); return err },
			} {
				err := try()
				require.Error(t, err)
				assert.NotContains(t, err.Error(), "s3cr3t")
				assert.NotContains(t, apperr.Message(err), "s3cr3t")
				assert.Contains(t, err.Error(), "kubeconfig", "the message says what to fix")
				assert.Equal(t, http.StatusInternalServerError, apperr.Status(err))
			}
		})
	}

	l := Loader{ServiceAccountDir: t.TempDir(), Getenv: func(string) string { return "" }}
	_, err := l.RESTConfig("")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no Kubernetes credentials")
}

func TestNewClients(t *testing.T) {
	l := Loader{ServiceAccountDir: t.TempDir(), Getenv: func(string) string { return "" }}
	cfg, err := l.RESTConfig(kubeconfigYAML)
	require.NoError(t, err)
	c, err := NewClients(cfg)
	require.NoError(t, err)
	assert.NotNil(t, c.Core)
	assert.NotNil(t, c.Batch)
}
