package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunRefusesBadArguments: a wrong command or argument count says how
// to call it, and does nothing.
func TestRunRefusesBadArguments(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "usage: transfer fetch|push|publish"},
		{[]string{"delete", "--layout", "/l", "r/a@sha256:x"}, "usage: transfer fetch"},
		{[]string{"fetch", "r/a@sha256:" + strings.Repeat("0", 64)}, "--layout is needed"},
		{[]string{"fetch", "--layout", t.TempDir()}, "usage: transfer fetch"},
		{[]string{"fetch", "--layout", t.TempDir(), "r/a:1"}, "pinned by digest"},
		{[]string{"push", "--layout", t.TempDir(), "only-one"}, "usage: transfer fetch"},
		{[]string{"fetch", "--mount", "r/a@sha256:x", "--layout", "/l", "r/a"}, "flag provided but not defined: -mount"},
		{[]string{"publish"}, "usage: transfer fetch"},
	} {
		var out, errs bytes.Buffer
		err := run(context.Background(), tt.args, &out, &errs)
		require.Error(t, err, "%q", tt.args)
		assert.Contains(t, err.Error(), tt.want, "%q", tt.args)
		assert.Empty(t, out.String(), "%q", tt.args)
	}
}

// TestPublishPushesThisBinary: publish pushes an image of the running
// binary and prints its repository@digest, which resolves.
func TestPublishPushesThisBinary(t *testing.T) {
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"publish", "--insecure", host + "/openserverless-builder/transfer:v0.1.0"}, &out, io.Discard))
	printed := strings.TrimSpace(out.String())
	d, err := name.NewDigest(printed, name.Insecure)
	require.NoError(t, err, printed)
	assert.Equal(t, host+"/openserverless-builder/transfer", d.Context().String())
	img, err := remote.Image(d)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, []string{"/usr/local/bin/transfer"}, cf.Config.Entrypoint)
	tag, err := name.ParseReference(host+"/openserverless-builder/transfer:v0.1.0", name.Insecure)
	require.NoError(t, err)
	desc, err := remote.Head(tag)
	require.NoError(t, err)
	assert.Equal(t, d.DigestStr(), desc.Digest.String(), "the tag names what was printed")
}
