package reference

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGrammar(t *testing.T) {
	tests := []struct {
		s               string
		component, repo bool
	}{
		{"devel", true, true},
		{"devel/python", false, true},
		{"a.b_c__d-e--f", true, true},
		{"Devel", false, false},
		{"devel/", false, false},
		{"/devel", false, false},
		{"devel//x", false, false},
		{"-devel", false, false},
		{"devel_", false, false},
		{"dev el", false, false},
		{"devel:tag", false, false},
		{strings.Repeat("a", 256), true, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.component, ValidComponent(tt.s), "component %q", tt.s)
		assert.Equal(t, tt.repo, ValidRepository(tt.s), "repository %q", tt.s)
	}
	for tag, ok := range map[string]bool{
		"v1": true, "python3.13-custom": true, "_x": true, strings.Repeat("a", 128): true,
		"": false, ".x": false, "-x": false, "a/b": false, "a b": false, strings.Repeat("a", 129): false,
	} {
		assert.Equal(t, ok, ValidTag(tag), "tag %q", tag)
	}
}
