//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/test/invoker"
)

// TestIdenticalRequestReusesTheImage (#37): a send whose content (source
// digest, kind, install step, file) the user has built already answers
// with that image and builds nothing: no Job, no pod. Into the same
// target it leaves the image as it is; into another target it copies it
// there, the same digest. logs and builds show the reuse succeeded, from
// which build. ensure of the same content answers at once with the image.
// rebuild=true builds again, and another file builds.
func TestIdenticalRequestReusesTheImage(t *testing.T) {
	ctx := context.Background()
	user := "reuser"
	file := b64("beautifulsoup4\n")
	req := func(target string, more ...any) map[string]any {
		p := map[string]any{"source": seedSource(), "target": target, "kind": "python", "file": file}
		for i := 0; i+1 < len(more); i += 2 {
			p[more[i].(string)] = more[i+1]
		}
		return p
	}
	first, st := buildAndWait(t, user, req(user+"/app:v1"))
	require.Equal(t, types.Succeeded, st["status"], "%v", st["logs"])
	digest := st["digest"].(string)
	require.NotEmpty(t, digest)

	send := action(t, "send")
	logs := action(t, "logs")
	reusedFrom := func(target string) map[string]any {
		t.Helper()
		code, sent := call(t, send, invoker.Web("send", user, "POST", req(target)))
		require.Equal(t, http.StatusOK, code, "%v", sent)
		assert.Equal(t, first["id"], sent["reused_from"], "%v", sent)
		assert.Equal(t, types.Succeeded, sent["status"])
		assert.Equal(t, digest, sent["digest"], "the same image")
		assert.Contains(t, sent["message"], "nothing was built")
		job := sent["job_name"].(string)
		_, err := stack.kube.Client.BatchV1().Jobs(bns).Get(ctx, job, metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "no Job: %v", err)
		pods, err := stack.kube.Client.CoreV1().Pods(bns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job})
		require.NoError(t, err)
		assert.Empty(t, pods.Items, "no pod")
		st := waitDone(t, logs, user, job)
		assert.Equal(t, types.Succeeded, st["status"])
		assert.Equal(t, digest, st["digest"])
		assert.Equal(t, first["id"], st["reused_from"])
		assert.Contains(t, st["logs"], "nothing was built: the image of build "+first["id"].(string))
		return sent
	}
	// The same request, into the same target, then into another.
	same := reusedFrom(user + "/app:v1")
	copied := reusedFrom(user + "/copy:v1")
	ref, err := name.ParseReference(stack.registry.Host+"/"+user+"/copy:v1", name.Insecure)
	require.NoError(t, err)
	desc, err := remote.Head(ref, remote.WithAuth(&authn.Basic{Username: stack.registry.User, Password: stack.registry.Password}))
	require.NoError(t, err, "the other target names the image")
	assert.Equal(t, digest, desc.Digest.String())

	code, list := call(t, action(t, "logs", map[string]any{"operation": "builds"}), invoker.Web("builds", user, "GET", nil))
	require.Equal(t, http.StatusOK, code, "%v", list)
	listed := map[string]map[string]any{}
	for _, b := range list["builds"].([]any) {
		b := b.(map[string]any)
		listed[b["id"].(string)] = b
	}
	for _, sent := range []map[string]any{same, copied} {
		b := listed[sent["id"].(string)]
		require.NotNil(t, b, "builds lists the reuse %s", sent["id"])
		assert.Equal(t, first["id"], b["reused_from"])
		assert.Equal(t, types.Succeeded, b["status"])
	}

	// ensure of the same content answers with the image, copied to its
	// own name, and builds nothing.
	code, ensured := ensureCall(t, ensureZip(t, seedSource()), user, map[string]any{"builder": "python:3.13", "file": file})
	require.Equal(t, http.StatusOK, code, "%v", ensured)
	assert.Equal(t, types.Ready, ensured["status"])
	assert.Equal(t, digest, ensured["digest"])
	assert.Contains(t, ensured["message"], "build "+first["id"].(string))
	image := ensured["image"].(string)
	jobs, err := stack.kube.Client.BatchV1().Jobs(bns).List(ctx, metav1.ListOptions{
		LabelSelector: names.LabelBuildID + "=" + image[strings.LastIndex(image, "-")+1:] + "," + names.LabelUser + "=" + names.UserLabel(user)})
	require.NoError(t, err)
	assert.Empty(t, jobs.Items, "ensure built nothing")

	// rebuild=true builds; so does another file.
	for what, p := range map[string]map[string]any{
		"rebuild":      req(user+"/app:v1", "rebuild", true),
		"another file": req(user+"/app:v1", "file", b64("beautifulsoup4\nsetuptools\n")),
	} {
		code, sent := call(t, send, invoker.Web("send", user, "POST", p))
		require.Equal(t, http.StatusOK, code, "%s: %v", what, sent)
		assert.Nil(t, sent["reused_from"], what)
		_, err := stack.kube.Client.BatchV1().Jobs(bns).Get(ctx, sent["job_name"].(string), metav1.GetOptions{})
		require.NoError(t, err, "%s: a Job builds it", what)
		st := waitDone(t, logs, user, sent["job_name"].(string))
		assert.Equal(t, types.Succeeded, st["status"], "%s: %v", what, st["logs"])
		assert.False(t, strings.Contains(st["logs"].(string), "nothing was built"), what)
	}
}
