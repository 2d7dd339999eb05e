package web

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/params"
)

func TestFromParams(t *testing.T) {
	_, ok := FromParams(params.Params{"source": "x"})
	assert.False(t, ok, "no __ow_method is a plain invocation")

	r, ok := FromParams(params.Params{
		"__ow_method":  "delete",
		"__ow_user":    "devel",
		"__ow_path":    "/x",
		"__ow_headers": map[string]any{"Content-Type": "application/json", "n": 1.0},
	})
	require.True(t, ok)
	assert.Equal(t, "DELETE", r.Method)
	assert.Equal(t, "devel", r.User)
	assert.Equal(t, "/x", r.Path)
	assert.Equal(t, map[string]string{"content-type": "application/json"}, r.Headers)
}

func TestMethodAllowed(t *testing.T) {
	tests := []struct {
		method  string
		allowed []string
		want    bool
	}{
		{"DELETE", Delete(), true},
		{"POST", Delete(), true},
		{"GET", Delete(), false},
		{"GET", Read(), true},
		{"PUT", Write(), false},
		{"PATCH", nil, true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, MethodAllowed(tt.method, tt.allowed), "%s in %v", tt.method, tt.allowed)
	}
}
