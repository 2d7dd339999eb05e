package params

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/apperr"
)

func TestInt(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		want    int
		wantErr bool
	}{
		{"json number", float64(12), 12, false},
		{"go int", 5, 5, false},
		{"zero", 0, 0, false},
		{"numeric string from ops -p", "48", 48, false},
		{"string with spaces", " 7 ", 7, false},
		{"absent gives default", nil, 24, false},
		{"empty string gives default", "", 24, false},
		{"fraction", 1.5, 0, true},
		{"words", "twelve", 0, true},
		{"object", map[string]any{}, 0, true},
		{"nan", "NaN", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Params{}
			if tt.in != nil {
				p["n"] = tt.in
			}
			got, err := p.Int("n", 24)
			if tt.wantErr {
				require.Error(t, err)
				assert.Equal(t, http.StatusBadRequest, apperr.Status(err))
				assert.Contains(t, err.Error(), `"n"`)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestBool(t *testing.T) {
	tests := []struct {
		in      any
		want    bool
		wantErr bool
	}{
		{true, true, false}, {false, false, false}, {"true", true, false}, {"FALSE", false, false},
		{"1", true, false}, {"0", false, false}, {"yes", true, false}, {"off", false, false},
		{float64(1), true, false}, {"maybe", false, true}, {float64(2), false, true},
	}
	for _, tt := range tests {
		got, err := Params{"b": tt.in}.Bool("b", false)
		if tt.wantErr {
			assert.Error(t, err, "%v", tt.in)
			continue
		}
		require.NoError(t, err, "%v", tt.in)
		assert.Equal(t, tt.want, got, "%v", tt.in)
	}
	got, err := Params{}.Bool("b", true)
	require.NoError(t, err)
	assert.True(t, got, "absent takes the default")
}

func TestString(t *testing.T) {
	p := Params{"s": "x", "n": float64(3), "b": true, "o": map[string]any{"a": 1}, "e": ""}
	got, err := p.String("s", "d")
	require.NoError(t, err)
	assert.Equal(t, "x", got)
	got, _ = p.String("n", "")
	assert.Equal(t, "3", got)
	got, _ = p.String("b", "")
	assert.Equal(t, "true", got)
	got, _ = p.String("e", "def")
	assert.Equal(t, "def", got, "empty string counts as absent")
	_, err = p.String("o", "")
	assert.Error(t, err)
}

func TestBadValueIsNotEchoedWhenLong(t *testing.T) {
	_, err := Params{"n": "secret-looking-value-that-is-rather-long-indeed"}.Int("n", 0)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "secret-looking")
}

func TestStrings(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		want    map[string]string
		wantErr string
	}{
		{"absent", nil, nil, ""},
		{"object", map[string]any{"netrc": "bWFjaGluZQ=="}, map[string]string{"netrc": "bWFjaGluZQ=="}, ""},
		{"json text from a query string", `{"netrc":"eA=="}`, map[string]string{"netrc": "eA=="}, ""},
		{"empty object", map[string]any{}, map[string]string{}, ""},
		{"array", []any{"x"}, nil, "got an array"},
		{"text that is no object", "s3cr3t-token", nil, "must be an object"},
		{"json null", "null", nil, "must be an object"},
		{"value not a string", map[string]any{"netrc": 5.0}, nil, `the value of "netrc" must be a string`},
		{"a value pasted as the name", map[string]any{"machine host login u password s3cr3t": 5.0}, nil, "a name that is not one"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Params{}
			if tc.in != nil {
				p["secrets"] = tc.in
			}
			got, err := p.Strings("secrets")
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.NotContains(t, err.Error(), "s3cr3t", "a value is never echoed")
				assert.Equal(t, http.StatusBadRequest, apperr.Status(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
