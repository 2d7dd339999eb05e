package handlers

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apache/openserverless-builder/shared/action/actiontest"
	"github.com/apache/openserverless-builder/shared/params"
)

// TestCancelOverTheWeb: cancel takes DELETE and POST, the build's id or
// job name; a request without either is 400, another method 405, and
// neither changes anything. The domain's rules are builds' TestCancel.
func TestCancelOverTheWeb(t *testing.T) {
	running := userJob("devel", "run1", time.Time{})
	for _, tt := range []struct {
		method string
		p      params.Params
		status int
	}{
		{"DELETE", params.Params{"id": "run1"}, 200},
		{"POST", params.Params{"job_name": running.Name}, 200},
		{"DELETE", params.Params{}, 400},
		{"GET", params.Params{"id": "run1"}, 405},
		{"PUT", params.Params{"id": "run1"}, 405},
	} {
		cs := fake.NewClientset(running.DeepCopy())
		code, body := actiontest.WebCall(t, actiontest.Env(cs).Handler(Cancel), "cancel", "devel", tt.method, tt.p)
		assert.Equal(t, tt.status, code, "%s %v: %v", tt.method, tt.p, body)
		if tt.status != 200 {
			assert.Empty(t, deletes(t, cs), "%s %v deletes nothing", tt.method, tt.p)
			continue
		}
		assert.Equal(t, "cancelled", body["status"])
		assert.Equal(t, running.Name, body["job_name"])
	}
}
