package handlers

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apache/openserverless-builder/shared/action/actiontest"
	"github.com/apache/openserverless-builder/shared/actionloop"
	"github.com/apache/openserverless-builder/shared/registry/registrytest"
)

type env struct {
	host    string
	handler actionloop.Handler
}

// newEnv starts an in-memory registry behind basic auth holding devel:v1,
// devel/python:v1 and other:v1, and a handler whose kube clients are fake
// and hold the registry Secret.
func newEnv(t *testing.T, more ...string) *env {
	t.Helper()
	host := registrytest.Start(t, "pusher", "p4ss", append([]string{"devel:v1", "devel/python:v1", "other:v1", "other:v2"}, more...)...)
	cs := fake.NewClientset(
		registrytest.Secret("registry-pull-secret", "nuvolaris", registrytest.DockerConfig(host, "pusher", "p4ss")),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "config", Namespace: "nuvolaris", Annotations: map[string]string{"registry_host": host}}},
	)
	return &env{host: host, handler: actiontest.Env(cs).Handler(Registry()...)}
}

// call invokes op as user: over the web when webUser is set, else as a
// plain invocation from namespace ns. It returns the status and the body.
func (e *env) call(op, webUser, ns, method string, p map[string]any) (int, map[string]any) {
	value := map[string]any{}
	for k, v := range p {
		value[k] = v
	}
	if webUser != "" {
		value["__ow_method"] = method
		value["__ow_user"] = webUser
	}
	res := e.handler(context.Background(), actionloop.Activation{
		Value:  value,
		Fields: map[string]string{"namespace": ns, "action_name": "/nuvolaris/builder/" + op},
		Log:    log.New(&bytes.Buffer{}, "", 0),
	})
	return actiontest.Decode(res)
}

func TestListCatalogsIsFilteredForUsers(t *testing.T) {
	e := newEnv(t)
	status, body := e.call("list-catalogs", "devel", "nuvolaris", "GET", nil)
	require.Equal(t, 200, status, body)
	assert.Equal(t, []any{"devel", "devel/python"}, body["repositories"])

	status, body = e.call("list-catalogs", "", "nuvolaris", "", nil)
	require.Equal(t, 200, status, body)
	assert.Equal(t, []any{"devel", "devel/python", "other"}, body["repositories"])
}

func TestAuthorizationMatrix(t *testing.T) {
	type caller struct {
		name, webUser, ns string
	}
	callers := []caller{
		{"user over web", "devel", "nuvolaris"},
		{"admin over web", "nuvolaris", "nuvolaris"},
		{"admin plain", "", "nuvolaris"},
		{"user plain", "", "devel"},
	}
	ops := []struct {
		op, method string
		own, other map[string]any
	}{
		{"list-images", "GET", map[string]any{"catalog": "devel"}, map[string]any{"catalog": "other"}},
		{"get-image", "GET", map[string]any{"image": "devel:v1"}, map[string]any{"image": "other:v1"}},
		{"delete-image", "DELETE", map[string]any{"image": "devel/python:v1"}, map[string]any{"image": "other:v2"}},
	}
	for _, c := range callers {
		for _, o := range ops {
			for _, target := range []string{"own", "other"} {
				t.Run(c.name+"/"+o.op+"/"+target, func(t *testing.T) {
					e := newEnv(t)
					p := o.own
					if target == "other" {
						p = o.other
					}
					want := 200
					switch {
					case c.webUser == "" && c.ns == "devel":
						want = 0 // plain error result; checked below
					case c.webUser == "devel" && target == "other":
						want = http.StatusForbidden
					}
					status, body := e.call(o.op, c.webUser, c.ns, o.method, p)
					if want == 0 {
						assert.Contains(t, body["error"], "plain invocations are for admin namespaces")
						return
					}
					assert.Equal(t, want, status, "%v", body)
					if want == http.StatusForbidden {
						assert.Contains(t, body["error"], "is not yours")
					}
				})
			}
		}
	}
}

func TestGetAndDelete(t *testing.T) {
	e := newEnv(t)
	status, got := e.call("get-image", "devel", "nuvolaris", "GET", map[string]any{"image": "devel:v1"})
	require.Equal(t, 200, status, got)

	status, body := e.call("delete-image", "devel", "nuvolaris", "GET", map[string]any{"image": "devel:v1"})
	assert.Equal(t, http.StatusMethodNotAllowed, status, body)

	status, body = e.call("delete-image", "devel", "nuvolaris", "POST", map[string]any{"image": "devel:v1"})
	require.Equal(t, 200, status, body)
	assert.Equal(t, true, body["deleted"])
	assert.Contains(t, body["message"], "garbage")
	assert.Equal(t, got["digest"], body["digest"], "delete resolved the digest get-image showed")
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		op     string
		p      map[string]any
		status int
	}{
		{"list-images", nil, 400},
		{"list-images", map[string]any{"catalog": "Devel"}, 400},
		{"list-images", map[string]any{"catalog": "other/../devel"}, 400},
		{"list-images", map[string]any{"catalog": "devel/../other"}, 400},
		{"list-images", map[string]any{"catalog": "devel/./x"}, 400},
		{"list-images", map[string]any{"catalog": "devel//x"}, 400},
		{"list-images", map[string]any{"catalog": "devel/"}, 400},
		{"list-images", map[string]any{"catalog": "/devel"}, 400},
		{"list-images", map[string]any{"catalog": "other"}, 403},
		{"get-image", map[string]any{"image": "devel/../other:v1"}, 400},
		{"get-image", map[string]any{"image": "devel/../other@sha256:" + strings.Repeat("a", 64)}, 400},
		{"get-image", map[string]any{"image": "DEVEL:v1"}, 400},
		{"delete-image", map[string]any{"image": "devel/../other:v1"}, 400},
		{"delete-image", map[string]any{"image": "devel/..:v1"}, 400},
		{"list-images", map[string]any{"catalog": "devel/nope"}, 404},
		{"get-image", map[string]any{"image": "devel"}, 400},
		{"get-image", map[string]any{"image": "devel:nope"}, 404},
		{"delete-image", map[string]any{}, 400},
	}
	for _, tt := range tests {
		status, body := e.call(tt.op, "devel", "nuvolaris", "POST", tt.p)
		assert.Equal(t, tt.status, status, "%s %v: %v", tt.op, tt.p, body)
	}
}

func TestWrongCredentialsAre502WithoutThem(t *testing.T) {
	e := newEnv(t)
	creds := map[string]any{"registry_host": e.host, "registry_user": "pusher", "registry_password": "wrong-s3cret"}
	status, body := e.call("list-catalogs", "", "nuvolaris", "", creds)
	assert.Equal(t, 0, status, "a plain invocation's error")
	assert.Contains(t, body["error"], "rejected the builder's credentials")
	assert.NotContains(t, fmt.Sprint(body), "wrong-s3cret")

	status, body = e.call("list-catalogs", "devel", "nuvolaris", "GET", creds)
	assert.Equal(t, http.StatusBadGateway, status, "over the web, a registry that refuses is 502")
	assert.Contains(t, body["error"], "rejected the builder's credentials")
	assert.NotContains(t, fmt.Sprint(body), "wrong-s3cret")
}

// TestBuildCacheIsHiddenUnlessAll: the listings leave out <user>/buildcache
// unless all=true; delete-image deletes it like any image.
func TestBuildCacheIsHiddenUnlessAll(t *testing.T) {
	e := newEnv(t, "devel/buildcache:python", "devel/buildcache:go", "other/buildcache:python")
	status, body := e.call("list-catalogs", "devel", "nuvolaris", "GET", nil)
	require.Equal(t, 200, status, body)
	assert.Equal(t, []any{"devel", "devel/python"}, body["repositories"])
	status, body = e.call("list-catalogs", "devel", "nuvolaris", "GET", map[string]any{"all": "true"})
	require.Equal(t, 200, status, body)
	assert.Equal(t, []any{"devel", "devel/buildcache", "devel/python"}, body["repositories"], "never another user's cache")

	status, body = e.call("list-images", "devel", "nuvolaris", "GET", map[string]any{"catalog": "devel/buildcache"})
	assert.Equal(t, 404, status, body)
	assert.Contains(t, body["error"], "all=true")
	status, body = e.call("list-images", "devel", "nuvolaris", "GET", map[string]any{"catalog": "devel/buildcache", "all": true})
	require.Equal(t, 200, status, body)
	assert.Equal(t, []any{"go", "python"}, body["tags"])
	status, body = e.call("list-images", "devel", "nuvolaris", "GET", map[string]any{"catalog": "other/buildcache", "all": true})
	assert.Equal(t, 403, status, body)

	status, body = e.call("delete-image", "devel", "nuvolaris", "POST", map[string]any{"image": "devel/buildcache:python"})
	require.Equal(t, 200, status, body)
	assert.Equal(t, true, body["deleted"])
}

// TestDeleteUnderASharedPrefixIsForAdmins: user runtimes may list and
// read runtimes/..., not delete it; the image stays.
func TestDeleteUnderASharedPrefixIsForAdmins(t *testing.T) {
	e := newEnv(t, "runtimes/python:v1")
	shared := map[string]any{"image": "runtimes/python:v1", "shared_repositories": "runtimes"}
	code, body := e.call("delete-image", "runtimes", "nuvolaris", "DELETE", shared)
	assert.Equal(t, 403, code, "%v", body)
	assert.Contains(t, body["error"], "shared prefix runtimes")
	code, body = e.call("get-image", "runtimes", "nuvolaris", "GET", shared)
	assert.Equal(t, 200, code, "%v: still there, and readable", body)
	code, body = e.call("delete-image", "", "nuvolaris", "", shared)
	assert.Equal(t, 200, code, "%v: an admin may", body)
}
