package builds

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestReleaseContext: a context no Job owns (an older builder's) is
// deleted; one its Job owns is left to the garbage collector, and
// ReleaseContext returns once the collector has removed it; a missing one
// is released at once.
func TestReleaseContext(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	cms := cs.CoreV1().ConfigMaps("b")
	_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "build-old-1"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.NoError(t, ReleaseContext(ctx, cms, "build-old-1"))
	_, err = cms.Get(ctx, "build-old-1", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "an ownerless context is deleted")

	owned := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "build-new-1",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "build-new-1", UID: "u"}}}}
	_, err = cms.Create(ctx, owned, metav1.CreateOptions{})
	require.NoError(t, err)
	go func() { // the garbage collector, a moment later
		time.Sleep(500 * time.Millisecond)
		_ = cs.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("configmaps"), "b", "build-new-1")
	}()
	deletes := func() int {
		n := 0
		for _, a := range cs.Actions() {
			if a.GetVerb() == "delete" {
				n++
			}
		}
		return n
	}
	before := deletes()
	require.NoError(t, ReleaseContext(ctx, cms, "build-new-1"))
	assert.Equal(t, before, deletes(), "a context its Job owns is never deleted by the builder")
	require.NoError(t, ReleaseContext(ctx, cms, "build-none-1"))
}
