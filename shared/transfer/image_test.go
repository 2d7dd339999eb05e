package transfer

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImageHoldsTheBinaryAlone: one layer with the binary, executable, on
// the PATH the steps' command "transfer" needs; the same binary makes the
// same digest.
func TestImageHoldsTheBinaryAlone(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "transfer")
	require.NoError(t, os.WriteFile(bin, []byte("\x7fELF not really"), 0o755))
	img, err := Image(bin)
	require.NoError(t, err)
	mt, err := img.MediaType()
	require.NoError(t, err)
	assert.Equal(t, types.OCIManifestSchema1, mt)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "linux", cf.OS)
	assert.Equal(t, []string{"PATH=/usr/local/bin"}, cf.Config.Env)
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1)
	rc, err := layers[0].Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	files := map[string]int64{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		files[h.Name] = h.Mode
		if h.Name == "usr/local/bin/transfer" {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			assert.Equal(t, "\x7fELF not really", string(b))
		}
	}
	assert.Equal(t, map[string]int64{"usr/": 0o755, "usr/local/": 0o755, "usr/local/bin/": 0o755, "tmp/": 0o1777, "usr/local/bin/transfer": 0o755}, files)

	again, err := Image(bin)
	require.NoError(t, err)
	d1, err := img.Digest()
	require.NoError(t, err)
	d2, err := again.Digest()
	require.NoError(t, err)
	assert.Equal(t, d1, d2, "reproducible")

	_, err = Image(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorContains(t, err, "reading the transfer binary")
}
