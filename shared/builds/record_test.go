package builds

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
)

// TestRecordsKeepTheLogApart: a record's log is a ConfigMap of its own, so
// listing records reads no log; Get reads it; Delete removes both; a
// cancel replaces both.
func TestRecordsKeepTheLogApart(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	s := Records{ConfigMaps: cs.CoreV1().ConfigMaps("nuvolaris"), Namespace: "nuvolaris"}
	fin := t0.Add(time.Minute)
	r := Record{Build: types.Build{ID: "abc", JobName: names.JobName("devel", "abc"), User: "devel", Status: types.Failed, Created: t0, Finished: &fin},
		Log: strings.Repeat("x", RecordLogBytes) + "the end\n"}
	require.NoError(t, s.Save(ctx, r))

	list, err := s.List(ctx, "devel", "")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Empty(t, list[0].Log, "a listing reads no log")
	record, err := cs.CoreV1().ConfigMaps("nuvolaris").Get(ctx, names.RecordName(r.JobName), metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotContains(t, record.Data, "log")

	got, ok, err := s.Get(ctx, r.JobName)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Len(t, got.Log, RecordLogBytes, "the end of the log, bounded")
	assert.True(t, strings.HasSuffix(got.Log, "the end\n"))

	r.Status, r.Log = types.Cancelled, "cancelled early\n"
	require.NoError(t, s.Save(ctx, r))
	got, _, err = s.Get(ctx, r.JobName)
	require.NoError(t, err)
	assert.Equal(t, types.Cancelled, got.Status)
	assert.Equal(t, "cancelled early\n", got.Log, "a cancel replaces the log too")

	require.NoError(t, s.Delete(ctx, r.JobName))
	cms, err := cs.CoreV1().ConfigMaps("nuvolaris").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, cms.Items, "the record and its log are gone")
}
