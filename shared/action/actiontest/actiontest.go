// Package actiontest runs an action's Func in tests over client-go's fake
// clientset, without the ActionLoop around it.
package actiontest

import (
	"bytes"
	"context"
	"encoding/json"
	"log"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/actionloop"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/shared/web"
)

// Env is an action.Env whose Kubernetes clients are cs's.
func Env(cs *fake.Clientset) *action.Env {
	return &action.Env{NewKube: func(config.Config) (*kube.Clients, error) {
		return &kube.Clients{Core: fakeCore{cs}, Batch: fakeBatch{cs}}, nil
	}}
}

// fakeCore and fakeBatch serve the builder's clients from the fake
// clientset's typed clients, which have the same verbs.
type fakeCore struct{ cs *fake.Clientset }

func (f fakeCore) ConfigMaps(ns string) kube.ConfigMaps {
	return f.cs.CoreV1().ConfigMaps(ns)
}
func (f fakeCore) Secrets(ns string) kube.Secrets { return f.cs.CoreV1().Secrets(ns) }
func (f fakeCore) Pods(ns string) kube.Pods       { return f.cs.CoreV1().Pods(ns) }

type fakeBatch struct{ cs *fake.Clientset }

func (f fakeBatch) Jobs(ns string) kube.Jobs { return f.cs.BatchV1().Jobs(ns) }

// Invocation is an invocation by caller with parameters p over cs.
func Invocation(t testing.TB, cs *fake.Clientset, caller identity.Caller, p params.Params) *action.Invocation {
	t.Helper()
	cfg, err := config.FromParams(p)
	require.NoError(t, err)
	return action.NewInvocation(Env(cs), p, caller, cfg, log.New(&bytes.Buffer{}, "", 0))
}

// WebCall runs a web activation of action by user with method through h
// (an Env's Handler), as OpenWhisk delivers it, and returns the HTTP status
// and the body.
func WebCall(t testing.TB, h actionloop.Handler, action, user, method string, p params.Params) (int, map[string]any) {
	t.Helper()
	value := map[string]any{"__ow_method": method, "__ow_user": user}
	for k, v := range p {
		value[k] = v
	}
	res := h(context.Background(), actionloop.Activation{
		Value:  value,
		Fields: map[string]string{"namespace": "nuvolaris", "action_name": "/nuvolaris/builder/" + action},
		Log:    log.New(&bytes.Buffer{}, "", 0),
	})
	status, body := Decode(res)
	require.NotZero(t, status, "a web activation gets an HTTP response: %v", res)
	return status, body
}

// Decode is a handler's result as its caller sees it: for a web
// activation, the HTTP status and the JSON body; for a plain one, 200 and
// the result, or 0 and the result when it is an error.
func Decode(res any) (int, map[string]any) {
	if r, ok := res.(web.Response); ok {
		return r.StatusCode, jsonObject(r.Body)
	}
	m := jsonObject(res)
	if _, failed := m["error"]; failed {
		return 0, m
	}
	return http.StatusOK, m
}

// jsonObject is v as it travels: its JSON object.
func jsonObject(v any) map[string]any {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err) // results are JSON by construction
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(err)
	}
	return m
}

// PlainCall runs a plain activation of action from the admin namespace
// nuvolaris through h, and returns its status (0 for an error) and result.
func PlainCall(t testing.TB, h actionloop.Handler, action string, p params.Params) (int, map[string]any) {
	t.Helper()
	res := h(context.Background(), actionloop.Activation{
		Value:  map[string]any(p),
		Fields: map[string]string{"namespace": "nuvolaris", "action_name": "/nuvolaris/builder/" + action},
		Log:    log.New(&bytes.Buffer{}, "", 0),
	})
	return Decode(res)
}
