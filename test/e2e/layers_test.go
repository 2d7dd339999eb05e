//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
)

// TestImageHoldsNoRequirementsFile (#36, part 2): the requirements file is
// read from the build context, mounted for the install step alone, and
// removed within it. The image the registry holds has exactly one layer
// over its source, and none of its layers, its config (history included)
// nor its manifest holds the file's bytes, here an index URL with a
// token. Before, a COPY layer of its own held the file, which anyone who
// could pull the image could read.
func TestImageHoldsNoRequirementsFile(t *testing.T) {
	id, err := names.NewID()
	require.NoError(t, err)
	token := "osb-token-" + id
	file := "beautifulsoup4\n# --index-url https://builder:" + token + "@index.example/simple\n"
	sent, st := buildAndWait(t, "nofile", map[string]any{"source": seedSource(), "target": "nofile:v1", "kind": "python",
		"file": base64.StdEncoding.EncodeToString([]byte(file))})
	require.Equal(t, types.Succeeded, st["status"], "%v", st["logs"])

	img, src := pulled(t, sent["image"].(string)), pulled(t, seedSource())
	layers, err := img.Layers()
	require.NoError(t, err)
	srcLayers, err := src.Layers()
	require.NoError(t, err)
	assert.Len(t, layers, len(srcLayers)+1, "one layer over the source")

	assertImageHoldsNot(t, img, token, sent["image"].(string))
	for i, l := range layers {
		for _, entry := range tarNames(t, uncompressed(t, l)) {
			assert.False(t, strings.HasSuffix(entry, "requirements.txt") || strings.HasPrefix(entry, "builder-context"),
				"layer %d has %s", i, entry)
		}
	}
}

// tarNames are the paths a layer's tar holds.
func tarNames(t *testing.T, layer []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(layer))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, strings.TrimPrefix(h.Name, "./"))
	}
}
