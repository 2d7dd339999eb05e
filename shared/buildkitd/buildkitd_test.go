package buildkitd

import (
	"testing"

	"github.com/pelletier/go-toml/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultIsValidTOMLMarkingTheRegistryHTTP(t *testing.T) {
	var doc struct {
		Registry map[string]struct {
			HTTP     bool `toml:"http"`
			Insecure bool `toml:"insecure"`
		} `toml:"registry"`
	}
	require.NoError(t, toml.Unmarshal([]byte(Default("nuvolaris-registry-svc:5000", true)), &doc))
	assert.True(t, doc.Registry["nuvolaris-registry-svc:5000"].HTTP)
	require.NoError(t, Check(Default("h:1", false)))
	assert.NotContains(t, Default("h:1", false), "http = true")
}
