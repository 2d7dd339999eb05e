package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/shared/types"
)

// strictly decodes a result as its caller reads it into out, refusing any
// field out does not have.
func strictly(t *testing.T, what string, res any, out any) {
	t.Helper()
	raw, err := json.Marshal(res)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(out), "%s answered a field that package types, which the builder command reads, does not have: %s", what, raw)
}

// TestResultsAreTheSharedTypes: every action answers one of package
// types' results, the ones the builder command reads (cmd/builder), with
// no field of its own: a field added to a result outside package types
// fails here before it reaches a user.
func TestResultsAreTheSharedTypes(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	sent, err := send(ctx, invocation(t, cs, devel, seedParams()))
	require.NoError(t, err)
	strictly(t, "send", sent, &types.Sent{})
	job := sent.(types.Sent).JobName

	run := func(f action.Func, p params.Params) any {
		t.Helper()
		res, err := f(ctx, invocation(t, cs, devel, p))
		require.NoError(t, err)
		if r, ok := res.(action.Response); ok {
			return r.Body
		}
		return res
	}
	for _, tt := range []struct {
		action string
		res    any
		out    any
	}{
		{"builds", run(listBuilds, params.Params{}), &types.BuildPage{}},
		{"logs", run(logs, params.Params{"job_name": job}), &types.Status{}},
		{"capabilities", run(capabilities, params.Params{}), &types.Offer{}},
		{"ensure", run(ensure, ensureParams("requests\n")), &types.Ensured{}},
		{"cancel", run(cancel, params.Params{"job_name": job}), &types.Stopped{}},
		{"cleanjobs", run(cleanJobs, params.Params{"max_age_hours": 0}), &types.Cleaned{}},
	} {
		strictly(t, tt.action, tt.res, tt.out)
		assert.NotEqual(t, reflect.Zero(reflect.TypeOf(tt.out).Elem()).Interface(), reflect.ValueOf(tt.out).Elem().Interface(), "%s answered something", tt.action)
	}
	toml, err := updateTOML(ctx, invocation(t, cs, admin, params.Params{"registry_host": "reg.local:5000"}))
	require.NoError(t, err)
	strictly(t, "updatetoml", toml, &types.TOMLWritten{})

	e := newEnv(t)
	for _, tt := range []struct {
		action string
		p      map[string]any
		out    any
	}{
		{"list-catalogs", nil, &types.Repositories{}},
		{"list-images", map[string]any{"catalog": "devel"}, &types.Tags{}},
		{"get-image", map[string]any{"image": "devel:v1"}, &types.Image{}},
		{"delete-image", map[string]any{"image": "devel:v1"}, &types.Deleted{}},
	} {
		method := "POST"
		if tt.action == "delete-image" {
			method = "DELETE"
		}
		status, body := e.call(tt.action, "devel", "nuvolaris", method, tt.p)
		require.Equal(t, 200, status, "%s: %v", tt.action, body)
		strictly(t, tt.action, body, tt.out)
	}
}
