package actionloop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func results(t *testing.T, out string) []map[string]any {
	t.Helper()
	var got []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "line %q", sc.Text())
		got = append(got, m)
	}
	return got
}

func TestLoopOneResultPerActivation(t *testing.T) {
	env := map[string]string{}
	var out, logs bytes.Buffer
	in := strings.Join([]string{
		`{"value":{"name":"a"},"namespace":"nuvolaris","action_name":"/nuvolaris/builder/send","activation_id":"1"}`,
		``,
		`not json`,
		`{"value":{"name":"b\nc"},"namespace":"devel","activation_id":"2"}`,
		`{"value":{"panic":true},"activation_id":"3"}`,
		`{"value":"not an object"}`,
	}, "\n") + "\n"
	loop := &Loop{
		In: strings.NewReader(in), Out: &out, Log: &logs,
		SetEnv: func(k, v string) error { env[k] = v; return nil },
		Handler: func(ctx context.Context, act Activation) any {
			if act.Value["panic"] == true {
				panic("boom")
			}
			act.Log.Printf("serving %s", act.Field("activation_id"))
			return map[string]any{"name": act.Value["name"], "ns": act.Field("namespace")}
		},
	}
	require.NoError(t, loop.Run(context.Background()))

	got := results(t, out.String())
	require.Len(t, got, 5, "the empty line is skipped; every other line gets exactly one result")
	assert.Equal(t, map[string]any{"name": "a", "ns": "nuvolaris"}, got[0])
	assert.Contains(t, got[1]["error"], "not a JSON object")
	assert.Equal(t, "b\nc", got[2]["name"], "a newline inside a value stays inside one result line")
	assert.Contains(t, got[3]["error"], "internal error")
	assert.Equal(t, map[string]any{"name": nil, "ns": ""}, got[4])

	assert.Equal(t, "/nuvolaris/builder/send", env["__OW_ACTION_NAME"])
	assert.Equal(t, "devel", env["__OW_NAMESPACE"], "later activations overwrite the fields")
	assert.Contains(t, logs.String(), "serving 1\n")
	assert.Contains(t, logs.String(), "panic in activation 3: boom\n")
}

// TestLoopDeadlineBecomesContextDeadline: the handler's context ends
// AnswerMargin before the activation's deadline, so that it answers.
func TestLoopDeadlineBecomesContextDeadline(t *testing.T) {
	deadline := time.Now().Add(time.Hour).UnixMilli()
	var got time.Time
	var out bytes.Buffer
	loop := &Loop{
		In:  strings.NewReader(`{"value":{},"deadline":"` + jsonInt(deadline) + `"}` + "\n"),
		Out: &out, Log: &bytes.Buffer{},
		Handler: func(ctx context.Context, act Activation) any {
			got, _ = ctx.Deadline()
			return map[string]any{}
		},
	}
	require.NoError(t, loop.Run(context.Background()))
	assert.Equal(t, deadline-AnswerMargin.Milliseconds(), got.UnixMilli())
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestLoopLastLineWithoutNewline(t *testing.T) {
	var out bytes.Buffer
	loop := &Loop{
		In: strings.NewReader(`{"value":{"x":1}}`), Out: &out, Log: &bytes.Buffer{},
		Handler: func(ctx context.Context, act Activation) any { return act.Value },
	}
	require.NoError(t, loop.Run(context.Background()))
	assert.Equal(t, "{\"x\":1}\n", out.String())
}
