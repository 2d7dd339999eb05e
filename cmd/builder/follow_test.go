package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scripted answers send with a build, and logs with the statuses given, in
// order, the last one for ever after.
type scripted struct {
	statuses []string
	polls    int
}

func (s *scripted) call(_ context.Context, action, _ string, _ map[string]any) (map[string]any, error) {
	if action == "send" {
		return map[string]any{"id": "0123456789", "job_name": "build-devel-0123456789", "image": "reg/devel:v1"}, nil
	}
	st := s.statuses[min(s.polls, len(s.statuses)-1)]
	s.polls++
	res := map[string]any{"job_name": "build-devel-0123456789", "status": st, "logs": "#1 step\n"}
	if st == "cancelled" {
		res["reason"] = "cancelled by devel"
	}
	return res, nil
}

// TestFollowEndsOnEveryFinalStatus: --follow stops polling once the build
// has a final status, cancelled included, and exits non-zero unless it
// succeeded.
func TestFollowEndsOnEveryFinalStatus(t *testing.T) {
	for _, tt := range []struct {
		final string
		err   string
	}{
		{"succeeded", ""},
		{"failed", "the build failed"},
		{"cancelled", "the build was cancelled: cancelled by devel"},
	} {
		t.Run(tt.final, func(t *testing.T) {
			api := &scripted{statuses: []string{"pending", "running", tt.final}}
			var out bytes.Buffer
			c := &cli{out: &out, errOut: &out, caller: api, poll: time.Millisecond}
			// A follow that does not see the end would poll until this
			// deadline: the test then fails on the context's error.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := c.send(ctx, "busybox:1", "devel:v1", "python", "", nil, false, true)
			require.NoError(t, ctx.Err(), "follow never saw the build end")
			if tt.err == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
			}
			assert.Equal(t, 4, api.polls, "three polls to the end, then the full log")
			assert.Contains(t, out.String(), tt.final)
		})
	}
}

// ensureAPI answers ensure with a build under way until logs has seen it
// succeed, then with the image.
type ensureAPI struct {
	built  bool
	params []map[string]any
}

func (e *ensureAPI) call(_ context.Context, action, _ string, p map[string]any) (map[string]any, error) {
	switch action {
	case "ensure":
		e.params = append(e.params, p)
		if e.built {
			return map[string]any{"status": "ready", "image": "reg/devel:python-0123", "digest": "sha256:abc"}, nil
		}
		return map[string]any{"status": "pending", "image": "reg/devel:python-0123", "job_name": "build-devel-0123"}, nil
	default:
		e.built = true
		return map[string]any{"job_name": "build-devel-0123", "status": "succeeded"}, nil
	}
}

func TestEnsureFollowsUntilTheImageIsReady(t *testing.T) {
	dir := t.TempDir()
	req := filepath.Join(dir, "requirements.txt")
	require.NoError(t, os.WriteFile(req, []byte("requests\n"), 0o600))
	api := &ensureAPI{}
	var out bytes.Buffer
	c := &cli{out: &out, errOut: &out, caller: api, poll: time.Millisecond}
	require.NoError(t, c.ensure(context.Background(), "python:3.13", "", "", req, nil, true))
	assert.Contains(t, out.String(), "reg/devel:python-0123")
	assert.Contains(t, out.String(), "sha256:abc")
	require.Len(t, api.params, 2, "asked, followed, asked again")
	assert.Equal(t, "python:3.13", api.params[0]["builder"])
	assert.Equal(t, "cmVxdWVzdHMK", api.params[0]["file"])

	for _, bad := range [][]string{{"python:3.13", "busybox:1", ""}, {"", "", ""}, {"", "busybox:1", ""}} {
		err := c.ensure(context.Background(), bad[0], bad[1], bad[2], "", nil, false)
		var ue usageError
		assert.ErrorAs(t, err, &ue, "%v", bad)
	}
}

// TestSafeText: a build log's escape sequences reach no terminal: an OSC 52
// clipboard write, a screen clear, a carriage return that rewrites a
// line, C1 controls and bidirectional overrides are shown escaped; text,
// newlines and tabs stay as they are.
func TestSafeText(t *testing.T) {
	for in, want := range map[string]string{
		"plain\ttext\nnext":          "plain\ttext\nnext",
		"\x1b]52;c;cm0gLXJmIH4=\x07": `\x1b]52;c;cm0gLXJmIH4=\x07`,
		"\x1b[2J\x1b[H":              `\x1b[2J\x1b[H`,
		"ok\rFAKE SUCCESS":           `ok\x0dFAKE SUCCESS`,
		"\u009b31m":                  `\x9b31m`,
		"abc\u202edcba":              `abc\u202edcba`,
		"naïve ✓":                    "naïve ✓",
		"bad \xff byte":              `bad \ufffd byte`,
	} {
		assert.Equal(t, want, safeText(in), "%q", in)
	}
}

// pendingEnsure answers ensure with a build under way, and logs with the
// statuses of scripted.
type pendingEnsure struct {
	scripted
	ensures int
}

func (e *pendingEnsure) call(ctx context.Context, action, method string, p map[string]any) (map[string]any, error) {
	if action == "ensure" {
		e.ensures++
		return map[string]any{"status": "running", "image": "reg/devel:python-0123", "job_name": "build-devel-0123456789"}, nil
	}
	return e.scripted.call(ctx, action, method, p)
}

// TestEnsureFollowWaitsForTheEnd: ensure --follow polls a running build
// until it ends, and a build that fails or is cancelled exits non-zero
// without asking ensure again.
func TestEnsureFollowWaitsForTheEnd(t *testing.T) {
	for _, final := range []string{"failed", "cancelled"} {
		t.Run(final, func(t *testing.T) {
			api := &pendingEnsure{scripted: scripted{statuses: []string{"running", "running", "running", final}}}
			var out bytes.Buffer
			c := &cli{out: &out, errOut: &out, caller: api, poll: time.Millisecond}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := c.ensure(ctx, "python:3.13", "", "", "", nil, true)
			require.NoError(t, ctx.Err(), "follow never saw the build end")
			require.Error(t, err)
			assert.Contains(t, err.Error(), final)
			assert.Equal(t, 5, api.polls, "four polls to the end, then the full log")
			assert.Equal(t, 1, api.ensures, "a failed build is not asked for again")
		})
	}
}
