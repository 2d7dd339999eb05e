package kube

import (
	"os"
	"path/filepath"
	"testing"

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

	// 3. Without parameter nor token file: KUBECONFIG.
	cfg, err = l.RESTConfig("")
	require.NoError(t, err)
	assert.Equal(t, "https://127.0.0.1:6443", cfg.Host)

	// 2. The service-account token comes before KUBECONFIG.
	require.NoError(t, os.WriteFile(filepath.Join(saDir, "token"), []byte("t"), 0o600))
	cfg, err = l.RESTConfig("")
	require.NoError(t, err)
	assert.Equal(t, InClusterHost, cfg.Host)
	assert.Equal(t, filepath.Join(saDir, "token"), cfg.BearerTokenFile)
	assert.Equal(t, filepath.Join(saDir, "ca.crt"), cfg.CAFile)
}

func TestRESTConfigErrorsKeepSecretsOut(t *testing.T) {
	l := Loader{ServiceAccountDir: t.TempDir(), Getenv: func(string) string { return "" }}
	_, err := l.RESTConfig("clusters: [token: s3cr3t-token\n")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr3t")

	_, err = l.RESTConfig("")
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
