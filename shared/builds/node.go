package builds

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
)

// Reasons a build ends for, when its node stopped it rather than a step
// failing: the Job then says only that its pod failed.
const (
	// ReasonDiskFull is a build its node evicted for using more disk than
	// build_disk.
	ReasonDiskFull = "DiskLimit"
	// ReasonEvicted is a build its node evicted for another reason
	// (memory or disk pressure on the node).
	ReasonEvicted = "Evicted"
	// ReasonNodeLost is a build whose node stopped answering: Kubernetes
	// took its pod away.
	ReasonNodeLost = "NodeLost"
)

// stoppedByNode says why pod's node stopped the build, when it did: the
// reason for the build's status and a message saying what the user can
// do. ok is false when the node did not: a step's own failure, or a
// build that ran to its end.
func stoppedByNode(pod *corev1.Pod) (reason, message string, ok bool) {
	if pod == nil {
		return "", "", false
	}
	said := strings.TrimSpace(pod.Status.Message)
	if pod.Status.Reason == "Evicted" {
		if strings.Contains(said, "ephemeral local storage") || strings.Contains(said, "EmptyDir volume") {
			disk := buildDisk(pod)
			return ReasonDiskFull, fmt.Sprintf("the build used more disk than build_disk (%s) allows, and its node stopped it (%s). "+
				"Install less, or ask your operator for a larger build_disk", disk, said), true
		}
		return ReasonEvicted, fmt.Sprintf("the build's node stopped it (%s); send it again", said), true
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == "DeletionByTaintManager" {
			return ReasonNodeLost, fmt.Sprintf("the node %s running the build stopped answering, and Kubernetes took the build away from it (%s); send it again", pod.Spec.NodeName, strings.TrimSpace(c.Message)), true
		}
	}
	return "", "", false
}

// buildDisk is the build_disk a build pod was given: its daemon's
// ephemeral-storage limit.
func buildDisk(pod *corev1.Pod) string {
	for _, c := range pod.Spec.InitContainers {
		if c.Name != names.StepDaemon {
			continue
		}
		if q, ok := c.Resources.Limits[corev1.ResourceEphemeralStorage]; ok {
			return q.String()
		}
	}
	return "unknown"
}

// noteNode gives b, a build that failed, the reason its node stopped it,
// when it did: the Job's own reason says only that its pod failed.
func noteNode(b *types.Build, pod *corev1.Pod) (message string, ok bool) {
	if b.Status != types.Failed {
		return "", false
	}
	reason, message, ok := stoppedByNode(pod)
	if ok {
		b.Reason = reason + ": " + message
	}
	return message, ok
}
