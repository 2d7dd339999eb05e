package buildspec

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/params"
)

var devel = identity.Caller{Name: "devel", Web: true}

func TestParseSource(t *testing.T) {
	good := []string{
		"apache/openserverless-runtime-python:v3.13-2506091954",
		"registry:5000/devel/base:v1",
		"busybox",
		"busybox@sha256:" + strings.Repeat("a", 64),
	}
	for _, s := range good {
		_, err := ParseSource(s)
		assert.NoError(t, err, s)
	}
	bad := []string{
		"",
		"busybox\nRUN rm -rf /",
		"busybox RUN",
		"busybox\tx",
		"$(whoami)",
		"busybox:${TAG}",
		"--platform=linux/arm64 busybox",
		"Busybox:Bad Tag",
		"busybox:" + strings.Repeat("x", 200),
		"busybox@sha256:123",
		strings.Repeat("a/", 300) + "b",
	}
	for _, s := range bad {
		_, err := ParseSource(s)
		require.Error(t, err, "%q", s)
		assert.Equal(t, http.StatusBadRequest, apperr.Status(err), "%q", s)
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		target     string
		repo, tag  string
		wantStatus int
	}{
		{"devel:python3.13-custom", "devel", "python3.13-custom", 0},
		{"devel/python:v1", "devel/python", "v1", 0},
		{"", "", "", 400},
		{"devel", "", "", 400},
		{"devel:", "", "", 400},
		{"devel/python", "", "", 400},
		{"Devel:v1", "", "", 400},
		{"devel/buildcache:python", "", "", 400},
		{"devel/buildcache/x:v1", "devel/buildcache/x", "v1", 0},
		{"devel/../other:v1", "", "", 400},
		{"devel:.v1", "", "", 400},
		{"devel:v 1", "", "", 400},
		{"devel:" + strings.Repeat("v", 129), "", "", 400},
		{"other:v1", "", "", 403},
		{"develop:v1", "", "", 403},
		{"registry.io/devel:v1", "", "", 403},
	}
	for _, tt := range tests {
		repo, tag, err := ParseTarget(tt.target, devel)
		if tt.wantStatus != 0 {
			require.Error(t, err, tt.target)
			assert.Equal(t, tt.wantStatus, apperr.Status(err), "%q: %v", tt.target, err)
			continue
		}
		require.NoError(t, err, tt.target)
		assert.Equal(t, tt.repo, repo)
		assert.Equal(t, tt.tag, tag)
	}
	_, _, err := ParseTarget("other:v1", identity.Caller{Name: "nuvolaris", Admin: true})
	assert.NoError(t, err, "admins build anywhere")
}

func TestDecodeFile(t *testing.T) {
	const limit = 4096
	enc := base64.StdEncoding.EncodeToString
	got, err := DecodeFile(enc([]byte("beautifulsoup4\nsetuptools\n")), limit)
	require.NoError(t, err)
	assert.Equal(t, "beautifulsoup4\nsetuptools\n", string(got))

	wrapped := enc([]byte(strings.Repeat("requests\n", 20)))
	got, err = DecodeFile(wrapped[:40]+"\n"+wrapped[40:], limit)
	require.NoError(t, err, "line-wrapped base64 (base64 -i) is accepted")
	assert.Equal(t, strings.Repeat("requests\n", 20), string(got))

	got, err = DecodeFile("", limit)
	require.NoError(t, err)
	assert.Nil(t, got)

	tests := map[string]struct {
		in     string
		status int
	}{
		"not base64":     {"!!!not base64", 400},
		"binary":         {enc([]byte{0xff, 0xfe, 0x00, 0x01}), 400},
		"invalid UTF-8":  {enc([]byte("beautifulsoup4\n\xc3\x28\n")), 400},
		"nul byte":       {enc([]byte("a\x00b")), 400},
		"over the limit": {enc(make([]byte, limit+1)), 413},
	}
	for name, tt := range tests {
		_, err := DecodeFile(tt.in, limit)
		require.Error(t, err, name)
		assert.Equal(t, tt.status, apperr.Status(err), name)
	}
	_, err = DecodeFile(enc(make([]byte, limit+1)), limit)
	assert.Contains(t, err.Error(), "4096 bytes (max_context_bytes)")
	got, err = DecodeFile(enc([]byte(strings.Repeat("a", limit))), limit)
	require.NoError(t, err, "a file of exactly the limit decodes")
	assert.Len(t, got, limit)
}

func TestDockerfile(t *testing.T) {
	k, _ := kinds.Lookup("python")
	digest := "sha256:" + strings.Repeat("d", 64)
	df := Plan{Request: Request{Source: "apache/openserverless-runtime-python:v3.13-2506091954", Kind: k, File: []byte("x")}, Base: Base{Digest: digest, User: "nobody"}}.Dockerfile()
	lines := strings.Split(strings.TrimSpace(df), "\n")
	require.Len(t, lines, 5, "no COPY: the file never has a layer of its own")
	assert.Equal(t, "FROM apache/openserverless-runtime-python:v3.13-2506091954@"+digest, lines[1], "pinned to the resolved digest")
	assert.Equal(t, "USER root", lines[2])
	assert.True(t, strings.HasPrefix(lines[3], "RUN --mount=type=bind,target=/builder-context export PIP_NO_INPUT=1 && cp /builder-context/requirements.txt /tmp/requirements.txt && "), lines[3])
	assert.Contains(t, lines[3], "[ -x /bin/extend ]")
	assert.Equal(t, "USER nobody", lines[4], "back to the source's user")

	for _, user := range []string{"1000:1000", "www-data", "app"} {
		df = Plan{Request: Request{Source: "php:8", Kind: k, File: []byte("x")}, Base: Base{Digest: digest, User: user}}.Dockerfile()
		assert.True(t, strings.HasSuffix(df, "\nUSER "+user+"\n"), df)
	}
	root := Plan{Request: Request{Source: "php:8", Kind: k, File: []byte("x")}, Base: Base{Digest: digest}}.Dockerfile()
	assert.NotContains(t, root, "USER", "a source that runs as root stays root, its user unset")

	byDigest := Plan{Request: Request{Source: "reg:5000/a/b@" + digest, Kind: k}, Base: Base{Digest: digest}}.Dockerfile()
	assert.Equal(t, "# generated by the OpenServerless builder\nFROM reg:5000/a/b@"+digest+"\n", byDigest)
	noFile := Plan{Request: Request{Source: "busybox:1", Kind: k}}.Dockerfile()
	assert.Equal(t, "# generated by the OpenServerless builder\nFROM busybox:1\n", noFile)
}

// TestContextLimitIsInclusive: a context of exactly max_context_bytes is
// accepted, at parse (unpinned) and once pinned; one byte more is 413.
func TestContextLimitIsInclusive(t *testing.T) {
	python, _ := kinds.Lookup("python")
	file := []byte(strings.Repeat("a", 2000))
	unpinned := ContextSize(Plan{Request: Request{Source: "busybox:1", Kind: python, File: file}}.Context())
	for _, tt := range []struct {
		limit  int
		status int
	}{{unpinned, http.StatusOK}, {unpinned - 1, http.StatusRequestEntityTooLarge}} {
		cfg := config.Config{MaxContextBytes: tt.limit}
		_, err := ParseEnsure(params.Params{"source": "busybox:1", "kind": "python", "file": base64.StdEncoding.EncodeToString(file)}, cfg)
		if tt.status == http.StatusOK {
			assert.NoError(t, err, "parse: a context of exactly the limit")
		} else {
			assert.Equal(t, tt.status, apperr.Status(err), "parse: one byte over")
		}
	}

	plan := Plan{Request: Request{Source: "busybox:1", Kind: python, File: file}, Base: Base{Digest: "sha256:" + strings.Repeat("0", 64)}, User: "devel"}
	pinned := ContextSize(plan.Context())
	require.Greater(t, pinned, unpinned)
	files, err := plan.CheckSize(pinned)
	require.NoError(t, err, "pinned: a context of exactly the limit")
	assert.Equal(t, pinned, ContextSize(files))
	_, err = plan.CheckSize(pinned - 1)
	assert.Equal(t, http.StatusRequestEntityTooLarge, apperr.Status(err), "pinned: one byte over")
}
