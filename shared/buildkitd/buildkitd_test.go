package buildkitd

import (
	"testing"

	"github.com/pelletier/go-toml/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// doc is what BuildKit reads of buildkitd.toml's registries.
type doc struct {
	Registry map[string]struct {
		Mirrors  []string `toml:"mirrors"`
		HTTP     bool     `toml:"http"`
		Insecure bool     `toml:"insecure"`
	} `toml:"registry"`
}

func TestDefaultIsValidTOMLMarkingTheRegistryHTTP(t *testing.T) {
	var d doc
	require.NoError(t, toml.Unmarshal([]byte(Default("nuvolaris-registry-svc:5000", true, nil)), &d))
	assert.True(t, d.Registry["nuvolaris-registry-svc:5000"].HTTP)
	assert.True(t, d.Registry["nuvolaris-registry-svc:5000"].Insecure)
	require.NoError(t, Check(Default("h:1", false, nil)))
	assert.NotContains(t, Default("h:1", false, nil), "http = true")
}

// TestDefaultMirrors: Docker Hub under BuildKit's name, each mirror plain
// HTTP when insecure, a mirror that is the cluster registry written once,
// and the same text for the same configuration.
func TestDefaultMirrors(t *testing.T) {
	mirrors := map[string]string{"index.docker.io": "mirror:5000", "ghcr.io": "reg:5000", "quay.io": "mirror:5000"}
	text := Default("reg:5000", true, mirrors)
	require.NoError(t, Check(text))
	var d doc
	require.NoError(t, toml.Unmarshal([]byte(text), &d))
	assert.Equal(t, []string{"mirror:5000"}, d.Registry["docker.io"].Mirrors)
	assert.Equal(t, []string{"reg:5000"}, d.Registry["ghcr.io"].Mirrors)
	assert.Equal(t, []string{"mirror:5000"}, d.Registry["quay.io"].Mirrors)
	assert.True(t, d.Registry["mirror:5000"].HTTP)
	assert.True(t, d.Registry["reg:5000"].HTTP)
	assert.NotContains(t, d.Registry, "index.docker.io")
	for i := 0; i < 10; i++ {
		assert.Equal(t, text, Default("reg:5000", true, mirrors), "stable text")
	}
	secure := Default("reg:5000", false, mirrors)
	require.NoError(t, toml.Unmarshal([]byte(secure), &d))
	assert.NotContains(t, secure, "http")
	assert.Equal(t, []string{"mirror:5000"}, d.Registry["docker.io"].Mirrors)
}
