//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/test/invoker"
)

// TestRecordsOutliveCleanup: a build runs, cleanjobs removes its Job, and
// logs and builds still show its status, digest, timings and log.
func TestRecordsOutliveCleanup(t *testing.T) {
	python, _ := bases(t)
	req := base64.StdEncoding.EncodeToString([]byte("beautifulsoup4\n"))
	sent, st := buildAndWait(t, "historian", map[string]any{"source": python, "target": "historian:v1", "kind": "python", "file": req})
	require.Equal(t, "succeeded", st["status"], "%v", st["logs"])
	job := sent["job_name"].(string)

	code, body := call(t, action(t, "cleanjobs"), invoker.Web("cleanjobs", "historian", "POST", map[string]any{"max_age_hours": 0}))
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, []any{job}, body["jobs"])
	require.Eventually(t, func() bool {
		_, err := stack.kube.Client.BatchV1().Jobs(bns).Get(context.Background(), job, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, 30*time.Second, 200*time.Millisecond, "the Job is gone")

	code, rec := call(t, action(t, "logs"), invoker.Web("logs", "historian", "GET", map[string]any{"job_name": job}))
	require.Equal(t, 200, code, "%v", rec)
	assert.Equal(t, "succeeded", rec["status"])
	assert.Equal(t, st["digest"], rec["digest"])
	assert.Equal(t, sent["source_digest"], rec["source_digest"])
	assert.NotEmpty(t, rec["started"])
	assert.NotEmpty(t, rec["finished"])
	assert.Contains(t, rec["logs"], "Successfully installed beautifulsoup4", "the log's end")
	assert.Contains(t, rec["message"], "record")

	code, list := call(t, action(t, "logs", map[string]any{"operation": "builds"}), invoker.Web("builds", "historian", "GET", nil))
	require.Equal(t, 200, code, "%v", list)
	builds := list["builds"].([]any)
	require.Len(t, builds, 1)
	b := builds[0].(map[string]any)
	assert.Equal(t, job, b["job_name"])
	assert.Equal(t, "succeeded", b["status"])
	assert.Equal(t, st["digest"], b["digest"])
	assert.Equal(t, "historian:v1", b["target"])
	assert.Equal(t, "python", b["kind"])
	assert.Greater(t, b["duration_s"], 0.0)
}

// TestCancelStopsABuild: a running build is cancelled: its pod is gone when
// cancel answers, nothing is pushed, and it is recorded as cancelled.
func TestCancelStopsABuild(t *testing.T) {
	python, _ := bases(t)
	slow := base64.StdEncoding.EncodeToString([]byte("slow\n")) // its install never ends
	code, sent := call(t, action(t, "send"), invoker.Web("send", "canceller", "POST", map[string]any{"source": python, "target": "canceller:never", "kind": "python", "file": slow}))
	require.Equal(t, 200, code, "%v", sent)
	job := sent["job_name"].(string)
	lp := action(t, "logs")
	require.Eventually(t, func() bool {
		_, st := call(t, lp, invoker.Web("logs", "canceller", "GET", map[string]any{"job_name": job}))
		return st["status"] == "running" && strings.Contains(fmt.Sprint(st["logs"]), "installing slowly")
	}, 2*time.Minute, 250*time.Millisecond, "the build runs its install step")

	cp := action(t, "logs", map[string]any{"operation": "cancel"})
	code, body := call(t, cp, invoker.Web("cancel", "intruder", "POST", map[string]any{"job_name": job}))
	assert.Equal(t, 403, code, "%v", body)
	code, body = call(t, cp, invoker.Web("cancel", "canceller", "GET", map[string]any{"job_name": job}))
	assert.Equal(t, 405, code, "%v", body)
	code, body = call(t, cp, invoker.Web("cancel", "canceller", "DELETE", map[string]any{"id": sent["id"]}))
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, "cancelled", body["status"])
	pods, err := stack.kube.Client.CoreV1().Pods(bns).List(context.Background(), metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job})
	require.NoError(t, err)
	assert.Empty(t, pods.Items, "the pod is gone when cancel answers")

	code, body = call(t, cp, invoker.Web("cancel", "canceller", "POST", map[string]any{"job_name": job}))
	assert.Equal(t, 409, code, "a cancelled build is finished: %v", body)
	code, body = call(t, cp, invoker.Web("cancel", "canceller", "POST", map[string]any{"id": "0000000000"}))
	assert.Equal(t, 404, code, "%v", body)

	rp := action(t, "registry")
	time.Sleep(2 * time.Second) // a push in flight would have landed by now
	code, body = call(t, rp, invoker.Web("get-image", "canceller", "GET", map[string]any{"image": "canceller:never"}))
	assert.Equal(t, 404, code, "nothing was pushed: %v", body)
	code, st := call(t, lp, invoker.Web("logs", "canceller", "GET", map[string]any{"job_name": job}))
	require.Equal(t, 200, code, "%v", st)
	assert.Equal(t, "cancelled", st["status"])
	assert.Contains(t, st["logs"], "installing slowly", "the record keeps the log up to the cancel")
}

// TestBuildsPagesAndPrivacy: builds pages through a user's builds, newest
// first, each once; no user sees another's; an admin sees everyone's or
// one user's.
func TestBuildsPagesAndPrivacy(t *testing.T) {
	cordon(t)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		makeJob(t, ctx, "pager", fmt.Sprintf("p%d", i), succeeded, time.Duration(5-i)*time.Hour, true)
	}
	makeJob(t, ctx, "pager", "running", running, 0, true)
	makeJob(t, ctx, "stranger", "s0", succeeded, time.Hour, true)
	bp := action(t, "logs", map[string]any{"operation": "builds"})
	var ids []string
	next := ""
	for pages := 0; pages < 10; pages++ {
		p := map[string]any{"limit": 2}
		if next != "" {
			p["next"] = next
		}
		code, body := call(t, bp, invoker.Web("builds", "pager", "GET", p))
		require.Equal(t, 200, code, "%v", body)
		for _, b := range body["builds"].([]any) {
			ids = append(ids, b.(map[string]any)["id"].(string))
		}
		n, _ := body["next"].(string)
		if next = n; next == "" {
			break
		}
	}
	assert.ElementsMatch(t, []string{"p0", "p1", "p2", "p3", "p4", "running"}, ids, "each build once")
	assert.Len(t, ids, 6)

	code, body := call(t, bp, invoker.Web("builds", "pager", "GET", map[string]any{"user": "stranger"}))
	assert.Equal(t, 403, code, "%v", body)
	code, body = call(t, bp, invoker.Web("builds", "stranger", "GET", nil))
	require.Equal(t, 200, code, "%v", body)
	require.NotEmpty(t, body["builds"], "stranger sees their own build")
	for _, b := range body["builds"].([]any) {
		assert.Equal(t, "stranger", b.(map[string]any)["user"])
	}
	code, body = call(t, bp, invoker.Plain("builds", ns, map[string]any{"user": "stranger"}))
	require.Equal(t, 200, code, "%v", body)
	assert.Len(t, body["builds"], 1, "an admin sees one user's")
	code, body = call(t, bp, invoker.Plain("builds", ns, map[string]any{"limit": 100}))
	require.Equal(t, 200, code, "%v", body)
	users := map[string]bool{}
	require.NotEmpty(t, body["builds"])
	for _, b := range body["builds"].([]any) {
		users[b.(map[string]any)["user"].(string)] = true
	}
	assert.True(t, users["pager"] && users["stranger"], "an admin sees everyone's")
}

// TestBuildNamesAreRefusedFirst: on the real API server, a job_name, id or
// user that is not one is 400 and changes nothing.
func TestBuildNamesAreRefusedFirst(t *testing.T) {
	cordon(t)
	ctx := context.Background()
	victim := makeJob(t, ctx, "alice", "victim", running, 0, true)
	lp := action(t, "logs")
	bp := action(t, "logs", map[string]any{"operation": "builds"})
	cp := action(t, "logs", map[string]any{"operation": "cancel"})
	for _, tt := range []struct {
		p   *invoker.Process
		a   invoker.Activation
		say string
	}{
		{lp, invoker.Web("logs", "devel", "GET", map[string]any{"job_name": "../" + victim.Name}), "job_name"},
		{lp, invoker.Web("logs", "devel", "GET", map[string]any{"id": "victim/../../x"}), "id"},
		{cp, invoker.Web("cancel", "devel", "POST", map[string]any{"job_name": victim.Name + "/status"}), "job_name"},
		{cp, invoker.Plain("cancel", ns, map[string]any{"id": "victim,builder.openserverless.apache.org/user=alice"}), "id"},
		{bp, invoker.Plain("builds", ns, map[string]any{"user": "alice,app=x"}), "user"},
	} {
		want := 400
		if _, web := tt.a.Value["__ow_method"]; !web {
			want = 0 // a plain invocation's error: the same message, no status
		}
		jobs, cms := counts(t)
		code, body := call(t, tt.p, tt.a)
		assert.Equal(t, want, code, "%v: %v", tt.a.Value, body)
		assert.Contains(t, body["error"], tt.say)
		j, c := counts(t)
		assert.Equal(t, jobs, j)
		assert.Equal(t, cms, c)
	}
	got, err := stack.kube.Client.BatchV1().Jobs(bns).Get(ctx, victim.Name, metav1.GetOptions{})
	require.NoError(t, err, "alice's build is still there")
	assert.Nil(t, got.DeletionTimestamp)
}

// TestSendAndCancelLoopStaysBounded: a user who sends and cancels again
// and again keeps at most max_retained_builds finished builds, records and
// their logs included, on the real API server.
func TestSendAndCancelLoopStaysBounded(t *testing.T) {
	cordon(t) // the builds need not run
	python, _ := bases(t)
	const user, keep, loops = "looper", 2, 6
	sp := action(t, "send", map[string]any{"max_retained_builds": keep})
	cp := action(t, "logs", map[string]any{"operation": "cancel"})
	for i := 0; i < loops; i++ {
		code, sent := call(t, sp, invoker.Web("send", user, "POST", map[string]any{"source": python, "target": user + ":v1", "kind": "python"}))
		require.Equal(t, 200, code, "%v", sent)
		code, body := call(t, cp, invoker.Web("cancel", user, "POST", map[string]any{"job_name": sent["job_name"]}))
		require.Equal(t, 200, code, "%v", body)
	}
	cms, err := stack.kube.Client.CoreV1().ConfigMaps(bns).List(context.Background(), metav1.ListOptions{LabelSelector: names.UserSelector(user)})
	require.NoError(t, err)
	records, logs := 0, 0
	for _, cm := range cms.Items {
		switch {
		case cm.Labels[names.LabelRecord] == "true":
			records++
		case cm.Labels[names.LabelRecordLog] == "true":
			logs++
		}
	}
	// The last send pruned to keep before its own build was cancelled.
	assert.LessOrEqual(t, records, keep+1, "records are bounded")
	assert.Equal(t, records, logs, "each record has its log, and no log outlives its record")
	assert.GreaterOrEqual(t, records, keep, "the newest are kept")

	// builds lists them, from records without logs.
	code, list := call(t, action(t, "logs", map[string]any{"operation": "builds"}), invoker.Web("builds", user, "GET", nil))
	require.Equal(t, 200, code, "%v", list)
	assert.Len(t, list["builds"], records)
}
