package action

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/actionloop"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/web"
)

func echo(name string, methods []string) Action {
	return Action{Name: name, Methods: methods, Run: func(ctx context.Context, inv *Invocation) (any, error) {
		if inv.Params["fail"] == "internal" {
			return nil, errors.New("token=abc leaked into a low-level error")
		}
		if inv.Params["fail"] == "notfound" {
			return nil, apperr.NotFound("no such thing")
		}
		return map[string]any{"action": name, "caller": inv.Caller.Name, "admin": inv.Caller.Admin}, nil
	}}
}

func TestHandler(t *testing.T) {
	actions := []Action{echo("list-images", web.Read()), echo("delete-image", web.Delete())}
	tests := []struct {
		name   string
		value  map[string]any
		fields map[string]string
		want   any
	}{
		{
			"web user, picked by action name",
			map[string]any{"__ow_method": "get", "__ow_user": "devel"},
			map[string]string{"namespace": "nuvolaris", "action_name": "/nuvolaris/builder/list-images"},
			web.JSON(200, map[string]any{"action": "list-images", "caller": "devel", "admin": false}),
		},
		{
			"operation parameter wins over the name",
			map[string]any{"__ow_method": "delete", "__ow_user": "devel", "operation": "delete-image"},
			map[string]string{"namespace": "nuvolaris", "action_name": "/nuvolaris/builder/registry"},
			web.JSON(200, map[string]any{"action": "delete-image", "caller": "devel", "admin": false}),
		},
		{
			"web without user is 401",
			map[string]any{"__ow_method": "get"},
			map[string]string{"namespace": "nuvolaris", "action_name": "/nuvolaris/builder/list-images"},
			web.JSON(401, map[string]any{"error": "no authenticated user: call the web action with your OpenWhisk credentials (basic auth of your namespace key)"}),
		},
		{
			"wrong method is 405",
			map[string]any{"__ow_method": "get", "__ow_user": "devel"},
			map[string]string{"namespace": "nuvolaris", "action_name": "/nuvolaris/builder/delete-image"},
			web.JSON(405, map[string]any{"error": "delete-image does not accept GET; use DELETE or POST"}),
		},
		{
			"plain from admin",
			map[string]any{},
			map[string]string{"namespace": "nuvolaris", "action_name": "/nuvolaris/builder/list-images"},
			map[string]any{"action": "list-images", "caller": "nuvolaris", "admin": true},
		},
		{
			"plain from a user is 403",
			map[string]any{},
			map[string]string{"namespace": "devel", "action_name": "/nuvolaris/builder/list-images"},
			map[string]any{"error": "plain invocations are for admin namespaces; call the web action instead: POST <apihost>/api/v1/web/nuvolaris/builder/<action> with your credentials"},
		},
		{
			"bad configuration is the operator's, naming the parameter",
			map[string]any{"build_timeout_seconds": "x"},
			map[string]string{"namespace": "nuvolaris", "action_name": "/nuvolaris/builder/list-images"},
			map[string]any{"error": `the builder's configuration is wrong; an operator must mend it: parameter "build_timeout_seconds" must be a number, got "x"`},
		},
		{
			"unknown operation",
			map[string]any{},
			map[string]string{"namespace": "nuvolaris", "action_name": "/nuvolaris/builder/nope"},
			map[string]any{"error": `unknown operation "nope": expected one of list-images, delete-image`},
		},
		{
			"handler error keeps its status",
			map[string]any{"__ow_method": "get", "__ow_user": "devel", "fail": "notfound"},
			map[string]string{"namespace": "nuvolaris", "action_name": "/nuvolaris/builder/list-images"},
			web.JSON(404, map[string]any{"error": "no such thing"}),
		},
		{
			"internal error is hidden from the caller",
			map[string]any{"fail": "internal"},
			map[string]string{"namespace": "nuvolaris", "action_name": "/nuvolaris/builder/list-images"},
			map[string]any{"error": "internal error; the action log has the details"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := (&Env{}).Handler(actions...)
			got := h(context.Background(), actionloop.Activation{Value: tt.value, Fields: tt.fields, Log: log.New(&logs, "", 0)})
			assert.Equal(t, tt.want, got)
			assert.NotEmpty(t, logs.String(), "every activation logs a line")
		})
	}
}

func TestSingleActionIgnoresName(t *testing.T) {
	h := (&Env{}).Handler(echo("send", web.Write()))
	got := h(context.Background(), actionloop.Activation{
		Value:  map[string]any{},
		Fields: map[string]string{"namespace": "nuvolaris", "action_name": "/nuvolaris/builder/renamed"},
		Log:    log.New(&bytes.Buffer{}, "", 0),
	})
	require.Equal(t, map[string]any{"action": "send", "caller": "nuvolaris", "admin": true}, got)
}

// TestConfigurationErrorIs500: every input is bound, so a parameter that
// does not hold is the operator's to mend: 500 over the web, not 400.
func TestConfigurationErrorIs500(t *testing.T) {
	h := (&Env{}).Handler(echo("send", web.Write()))
	got := h(context.Background(), actionloop.Activation{
		Value:  map[string]any{"__ow_method": "post", "__ow_user": "devel", "max_context_bytes": 10},
		Fields: map[string]string{"namespace": "nuvolaris", "action_name": "/nuvolaris/builder/send"},
		Log:    log.New(&bytes.Buffer{}, "", 0),
	})
	res, ok := got.(web.Response)
	require.True(t, ok, "%v", got)
	assert.Equal(t, 500, res.StatusCode)
	assert.Contains(t, string(mustJSON(t, res.Body)), "max_context_bytes")
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return raw
}
