package builds

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
)

func TestNoteNode(t *testing.T) {
	pod := func(status corev1.PodStatus) *corev1.Pod {
		return &corev1.Pod{
			Spec: corev1.PodSpec{NodeName: "node-a", InitContainers: []corev1.Container{{
				Name:      names.StepDaemon,
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("1Gi")}},
			}}},
			Status: status,
		}
	}
	lost := corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{
		Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "DeletionByTaintManager", Message: "Taint manager: deleting due to NoExecute taint",
	}}}
	for _, tt := range []struct {
		name   string
		status string
		pod    *corev1.Pod
		reason string   // "" when the Job's reason stands
		says   []string // in the message
	}{
		{"over the emptyDir's limit", types.Failed, pod(corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: `Usage of EmptyDir volume "buildkit-state" exceeds the limit "1Gi". `}),
			ReasonDiskFull, []string{"build_disk (1Gi)", "larger build_disk", `EmptyDir volume "buildkit-state"`}},
		{"over the pod's total", types.Failed, pod(corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "Pod ephemeral local storage usage exceeds the total limit of containers 2Gi. "}),
			ReasonDiskFull, []string{"build_disk (1Gi)", "total limit of containers 2Gi"}},
		{"node pressure", types.Failed, pod(corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "The node was low on resource: memory."}),
			ReasonEvicted, []string{"low on resource: memory", "send it again"}},
		{"the node lost", types.Failed, pod(lost), ReasonNodeLost, []string{"node-a", "stopped answering", "send it again"}},
		{"a step's own failure", types.Failed, pod(corev1.PodStatus{Phase: corev1.PodFailed}), "", nil},
		{"no pod", types.Failed, nil, "", nil},
		{"a build that did not fail keeps its status", types.Succeeded, pod(corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "x"}), "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := types.Build{Status: tt.status, Reason: "BackoffLimitExceeded: Job has reached the specified backoff limit"}
			msg, ok := noteNode(&b, tt.pod)
			if tt.reason == "" {
				assert.False(t, ok)
				assert.Equal(t, "BackoffLimitExceeded: Job has reached the specified backoff limit", b.Reason)
				return
			}
			assert.True(t, ok)
			assert.Equal(t, tt.reason+": "+msg, b.Reason)
			for _, s := range tt.says {
				assert.Contains(t, msg, s)
			}
		})
	}
}
