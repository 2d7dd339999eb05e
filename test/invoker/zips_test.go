package invoker

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestZipDirRefusesStaleZips: a source newer than a zip, or a missing zip,
// fails the tests that would run it.
func TestZipDirRefusesStaleZips(t *testing.T) {
	root := t.TempDir()
	write := func(path string, at time.Time) {
		p := filepath.Join(root, path)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
		require.NoError(t, os.Chtimes(p, at, at))
	}
	t.Setenv("BUILDER_ZIPS", "")
	old, now := time.Now().Add(-time.Hour), time.Now()
	write("go.mod", old)
	write("go.sum", old)
	write("actions/send/main.go", old)
	write("shared/handlers/send.go", old)
	write("shared/handlers/send_test.go", now)           // tests are not in the zips
	write("shared/action/actiontest/actiontest.go", now) // nor test helpers
	for _, z := range ZipNames() {
		write("build/"+z+".zip", now.Add(-time.Minute))
	}
	dir, err := ZipDir(root)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(root, "build"), dir)

	write("shared/handlers/send.go", now)
	_, err = ZipDir(root)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "older than")
	assert.Contains(t, err.Error(), "make build")

	write("shared/handlers/send.go", old)
	require.NoError(t, os.Remove(filepath.Join(root, "build", "logs.zip")))
	_, err = ZipDir(root)
	assert.ErrorContains(t, err, "logs.zip is missing")
}

func TestRunRefusesOverridesOfBoundParameters(t *testing.T) {
	p := &Process{bound: map[string]any{"registry_host": "", "kubeconfig": "k"}}
	for _, a := range []Activation{
		Web("list-catalogs", "devel", "GET", map[string]any{"registry_host": "evil:5000"}),
		Plain("send", "nuvolaris", map[string]any{"kubeconfig": "other"}),
	} {
		_, err := p.Run(a)
		assert.ErrorIs(t, err, ErrFinal, "%v", a.Value)
	}
}
