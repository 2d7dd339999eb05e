package builds

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/names"
)

// TestAdmit: the unfinished builds and those being created count against
// the limit; finished ones, ones being deleted, ones their send abandoned
// suspended (older than PendingGrace), and the build's own entry (ensure
// enters a name again) do not. A suspended one younger than that counts:
// its send may be resuming it.
func TestAdmit(t *testing.T) {
	deleting := job("devel", "del", t0, time.Time{})
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Unix(3000, 0)}
	now := t0.Add(time.Hour)
	suspended := func(id string, age time.Duration) batchv1.Job {
		j := job("devel", id, now.Add(-age), time.Time{})
		yes := true
		j.Spec.Suspend = &yes
		return *j
	}
	h := History{
		Jobs: []batchv1.Job{
			*job("devel", "run1", t0, time.Time{}),
			*job("devel", "done", t0, time.Unix(2000, 0)),
			*deleting,
			*job("devel", "self", t0, time.Time{}),
			suspended("phantom", PendingGrace+time.Second),
		},
		Pending: []Entry{{Job: names.JobName("devel", "new1")}, {Job: names.JobName("devel", "self")}},
	}
	self := names.JobName("devel", "self")
	for _, tt := range []struct {
		limit int
		ok    bool
	}{{0, true}, {3, true}, {2, false}, {1, false}} {
		err := admit(h, self, tt.limit, now)
		if tt.ok {
			assert.NoError(t, err, "limit %d", tt.limit)
			continue
		}
		require.Error(t, err, "limit %d", tt.limit)
		assert.Equal(t, http.StatusTooManyRequests, apperr.Status(err))
		assert.Contains(t, err.Error(), "you have 2 unfinished builds (build-devel-new1, build-devel-run1)")
	}
	h.Jobs = append(h.Jobs, suspended("resuming", time.Second))
	err := admit(h, self, 3, now)
	require.Error(t, err, "a build being resumed counts")
	assert.Contains(t, err.Error(), "build-devel-resuming")
}
