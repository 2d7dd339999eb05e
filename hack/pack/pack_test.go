package main

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPackIsReproducible(t *testing.T) {
	dir := t.TempDir()
	exe, env := filepath.Join(dir, "exec"), filepath.Join(dir, "exec.env")
	require.NoError(t, os.WriteFile(exe, []byte("binary"), 0o755))
	require.NoError(t, os.WriteFile(env, []byte("apacheopenserverless/runtime-golang-v1.22\n"), 0o644))

	a, b := filepath.Join(dir, "a.zip"), filepath.Join(dir, "b.zip")
	require.NoError(t, pack(a, []string{exe, env}))
	// Newer timestamps change nothing.
	later := time.Now().Add(time.Hour)
	require.NoError(t, os.Chtimes(exe, later, later))
	require.NoError(t, pack(b, []string{exe, env}))
	da, err := os.ReadFile(a)
	require.NoError(t, err)
	db, err := os.ReadFile(b)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(da, db), "same inputs, same bytes")

	r, err := zip.OpenReader(a)
	require.NoError(t, err)
	defer r.Close()
	require.Len(t, r.File, 2)
	assert.Equal(t, "exec", r.File[0].Name)
	assert.Equal(t, os.FileMode(0o755), r.File[0].Mode().Perm(), "exec stays executable")
	assert.Equal(t, "exec.env", r.File[1].Name)
	assert.Equal(t, os.FileMode(0o644), r.File[1].Mode().Perm())
}
