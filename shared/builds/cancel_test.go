package builds

import (
	"context"
	"io"
	"log"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/types"
)

// fakeNamespace is the namespace indexNS over cs.
func fakeNamespace(cs *fake.Clientset) Namespace {
	return Namespace{Name: indexNS, Jobs: cs.BatchV1().Jobs(indexNS), Pods: cs.CoreV1().Pods(indexNS),
		ConfigMaps: cs.CoreV1().ConfigMaps(indexNS), Log: log.New(io.Discard, "", 0)}
}

// TestCancel: the owner (or an admin, by job name or id) cancels a
// running build: its Job goes and its record says cancelled, by whom.
// Someone else's build is 403, a finished one 409 whether its Job is
// there or gone, an unknown one 404; none of them changes anything.
func TestCancel(t *testing.T) {
	admin := identity.Caller{Name: "nuvolaris", Admin: true}
	devel := identity.Caller{Name: "devel", Web: true}
	other := identity.Caller{Name: "other", Web: true}
	running := job("devel", "run1", t0, time.Time{})
	finished := job("devel", "done1", t0, t0.Add(time.Minute))
	for _, tt := range []struct {
		name     string
		caller   identity.Caller
		job, id  string
		status   int
		canceled string
	}{
		{"the owner, by name", devel, running.Name, "", http.StatusOK, running.Name},
		{"the owner, by id", devel, "", "run1", http.StatusOK, running.Name},
		{"an admin, by id", admin, "", "run1", http.StatusOK, running.Name},
		{"someone else", other, running.Name, "", http.StatusForbidden, ""},
		{"someone else, by id", other, "", "run1", http.StatusNotFound, ""},
		{"a finished build", devel, finished.Name, "", http.StatusConflict, ""},
		{"an unknown build", devel, "build-devel-nope", "", http.StatusNotFound, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset(running.DeepCopy(), finished.DeepCopy())
			n := fakeNamespace(cs)
			r, stopped, err := n.Cancel(context.Background(), tt.caller, tt.job, tt.id)
			if tt.status != http.StatusOK {
				require.Error(t, err)
				assert.Equal(t, tt.status, apperr.Status(err), "%v", err)
				for _, a := range cs.Actions() {
					assert.Contains(t, []string{"get", "list"}, a.GetVerb(), "a refusal changes nothing")
				}
				return
			}
			require.NoError(t, err)
			assert.True(t, stopped, "it had no pod left")
			assert.Equal(t, tt.canceled, r.JobName)
			_, err = cs.BatchV1().Jobs(indexNS).Get(context.Background(), tt.canceled, metav1.GetOptions{})
			assert.True(t, apierrors.IsNotFound(err), "the Job is gone")
			rec, ok, err := n.Records().Get(context.Background(), tt.canceled)
			require.NoError(t, err)
			require.True(t, ok, "it is recorded")
			assert.Equal(t, types.Cancelled, rec.Status)
			assert.Equal(t, "cancelled by "+tt.caller.Name, rec.Reason)
			assert.Equal(t, "devel", rec.User)
		})
	}

	// Its Job gone, a cancelled or finished build's record answers 409.
	cs := fake.NewClientset(running.DeepCopy())
	n := fakeNamespace(cs)
	_, _, err := n.Cancel(context.Background(), devel, running.Name, "")
	require.NoError(t, err)
	_, _, err = n.Cancel(context.Background(), devel, running.Name, "")
	assert.Equal(t, http.StatusConflict, apperr.Status(err), "%v", err)
	_, _, err = n.Cancel(context.Background(), other, running.Name, "")
	assert.Equal(t, http.StatusForbidden, apperr.Status(err), "another's record is not theirs either")
}
