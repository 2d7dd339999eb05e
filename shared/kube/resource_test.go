package kube

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// seen is one request the fake API server received.
type seen struct {
	method, path, query string
	body                map[string]any
}

// apiServer answers every request with answer, recording it.
func apiServer(t *testing.T, answer func(r *http.Request) (int, any)) (*Clients, *[]seen) {
	var mu sync.Mutex
	var reqs []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		mu.Lock()
		reqs = append(reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, body})
		mu.Unlock()
		code, out := answer(r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	c, err := NewClients(&rest.Config{Host: srv.URL})
	require.NoError(t, err)
	return c, &reqs
}

// TestRequestsOnTheWire: each verb is the request client-go's typed
// clients send, in JSON.
func TestRequestsOnTheWire(t *testing.T) {
	ctx := context.Background()
	c, reqs := apiServer(t, func(r *http.Request) (int, any) {
		if r.URL.Path == "/api/v1/namespaces/ns/pods/p1/log" {
			return 200, "a log line"
		}
		return 200, map[string]any{"kind": "ConfigMap", "apiVersion": "v1", "metadata": map[string]any{"name": "x"}}
	})
	_, err := c.Core.ConfigMaps("ns").Get(ctx, "config", metav1.GetOptions{})
	require.NoError(t, err)
	_, err = c.Batch.Jobs("ns").List(ctx, metav1.ListOptions{LabelSelector: "a=b", Limit: 500, Continue: "tok"})
	require.NoError(t, err)
	_, err = c.Batch.Jobs("ns").Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = c.Core.ConfigMaps("ns").Update(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}}, metav1.UpdateOptions{})
	require.NoError(t, err)
	bg := metav1.DeletePropagationBackground
	uid := k8stypes.UID("u-1")
	require.NoError(t, c.Batch.Jobs("ns").Delete(ctx, "j", metav1.DeleteOptions{PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &uid}}))
	_, err = c.Core.Secrets("ns").Get(ctx, "registry-pull-secret", metav1.GetOptions{})
	require.NoError(t, err)
	tail := int64(5)
	_, err = c.Core.Pods("ns").GetLogs("p1", &corev1.PodLogOptions{Container: "build", TailLines: &tail}).DoRaw(ctx)
	require.NoError(t, err)

	got := *reqs
	require.Len(t, got, 7)
	assert.Equal(t, seen{method: "GET", path: "/api/v1/namespaces/ns/configmaps/config"}, got[0])
	assert.Equal(t, "GET /apis/batch/v1/namespaces/ns/jobs", got[1].method+" "+got[1].path)
	assert.Equal(t, "continue=tok&labelSelector=a%3Db&limit=500", got[1].query)
	assert.Equal(t, "POST /apis/batch/v1/namespaces/ns/jobs", got[2].method+" "+got[2].path)
	assert.Equal(t, "j", got[2].body["metadata"].(map[string]any)["name"])
	assert.Equal(t, "PUT /api/v1/namespaces/ns/configmaps/cm", got[3].method+" "+got[3].path)
	assert.Equal(t, "DELETE /apis/batch/v1/namespaces/ns/jobs/j", got[4].method+" "+got[4].path)
	assert.Equal(t, "Background", got[4].body["propagationPolicy"])
	assert.Equal(t, "u-1", got[4].body["preconditions"].(map[string]any)["uid"])
	assert.Equal(t, "GET /api/v1/namespaces/ns/secrets/registry-pull-secret", got[5].method+" "+got[5].path)
	assert.Equal(t, "GET /api/v1/namespaces/ns/pods/p1/log", got[6].method+" "+got[6].path)
	assert.Equal(t, "container=build&tailLines=5", got[6].query)
}

// TestErrorsAreAPIErrors: the API server's Status comes back as the error
// apierrors recognises, as with the typed clients.
func TestErrorsAreAPIErrors(t *testing.T) {
	c, _ := apiServer(t, func(*http.Request) (int, any) {
		return 404, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure", Reason: metav1.StatusReasonNotFound, Code: 404, Message: `configmaps "config" not found`}
	})
	_, err := c.Core.ConfigMaps("ns").Get(context.Background(), "config", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "%v", err)
}
