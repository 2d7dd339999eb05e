package builds

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
)

// MaxLogBytes bounds the log read of a pod, to stay within a result's size.
const MaxLogBytes = 512 << 10

// podGone is said of a build whose pod, and log, are gone.
const podGone = "the build's pod is gone, and its log with it"

// nodeSilent is said of a build whose node does not answer the API
// server: what it logged cannot be read, for now or for good.
const nodeSilent = "the build's node does not answer: its log cannot be read"

// Describe reports job's status, its pod's build log (the last tail lines
// when tail > 0) and, for a successful build, the pushed digest.
func Describe(ctx context.Context, pods kube.Pods, job *batchv1.Job, tail int64) (*types.Status, error) {
	s := &types.Status{Build: FromJob(job)}
	if !s.Done() {
		// Until its pod runs, the build is pending, whatever the Job says.
		s.Status = types.Pending
	}
	pod, err := buildPod(ctx, pods, job)
	if err != nil {
		return nil, err
	}
	if pod == nil {
		if s.Status != types.Pending {
			s.Message = podGone
		}
		return s, nil
	}
	// Why the node stopped the build, when it did, says more than which
	// step failed: the step failed for it.
	nodeMsg, stopped := noteNode(&s.Build, pod)
	if stopped {
		s.Message = nodeMsg
	}
	// A pod whose first step has started (its init containers run while
	// it is still Pending) runs the build until the Job controller records
	// how it ended.
	steps := stepNames(pod)
	if len(steps) == 0 || !started(pod, steps[0]) {
		return s, nil // no log before the first step starts
	}
	if s.Status == types.Pending {
		s.Status = types.Running
	}
	logs, missing, err := stepLogs(ctx, pods, job, pod, tail)
	if err != nil {
		return nil, err
	}
	s.Logs = LastLines(logs.text(), int(tail))
	if s.Status == types.Succeeded {
		s.Digest = logs.pushedDigest()
	}
	if s.Status == types.Failed && !stopped {
		if msg := failedStep(pod); msg != "" {
			s.Message = msg
		}
	}
	if missing != "" {
		s.Message = strings.TrimPrefix(s.Message+"; "+missing, "; ")
	}
	return s, nil
}

// buildPod is the newest pod of job; nil when it has none.
func buildPod(ctx context.Context, pods kube.Pods, job *batchv1.Job) (*corev1.Pod, error) {
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: names.PodSelector(job.Name)})
	if err != nil {
		return nil, apperr.Upstream(err, "listing the pods of build %s", job.Name)
	}
	if len(list.Items) == 0 {
		return nil, nil
	}
	newest := list.Items[0]
	for _, p := range list.Items[1:] {
		if newest.CreationTimestamp.Before(&p.CreationTimestamp) {
			newest = p
		}
	}
	return &newest, nil
}

// pushLogBytes is what is read of the push step's log when the steps
// before it used the whole budget.
const pushLogBytes = 16 << 10

// step is one step's log.
type step struct{ name, log string }

// logs are a pod's steps' logs in the order they ran.
type logs []step

// text is the steps' logs, each under a line naming it.
func (l logs) text() string {
	var b strings.Builder
	for _, s := range l {
		b.WriteString("==> " + s.name + "\n")
		b.WriteString(s.log)
		if s.log != "" && !strings.HasSuffix(s.log, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// pushedDigest is the digest the push step printed, and nothing else: the
// build step's log holds the user's own output, which may print any digest.
func (l logs) pushedDigest() string {
	for _, s := range l {
		if s.name == names.StepPush {
			return PushedDigest(s.log)
		}
	}
	return ""
}

// stepNames are the steps of pod in the order they run: its init
// containers but the sidecars, then its containers.
func stepNames(pod *corev1.Pod) []string {
	var out []string
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			out = append(out, c.Name)
		}
	}
	for _, c := range pod.Spec.Containers {
		out = append(out, c.Name)
	}
	return out
}

// stepLogs reads the log of each step that has started (the last tail
// lines of each when tail > 0), at most MaxLogBytes in all. missing says
// why the rest could not be read: podGone (the pod went meanwhile, and
// nothing is returned), nodeSilent (its node does not answer), "" when
// nothing is missing.
func stepLogs(ctx context.Context, pods kube.Pods, job *batchv1.Job, pod *corev1.Pod, tail int64) (out logs, missing string, err error) {
	budget := int64(MaxLogBytes)
	for _, name := range stepNames(pod) {
		if !started(pod, name) {
			break
		}
		// The push step is read whatever the steps before it printed: its
		// digest is the one logs reports. It prints little.
		limit := budget
		if name == names.StepPush {
			limit = max(budget, pushLogBytes)
		}
		if limit <= 0 {
			break
		}
		opts := &corev1.PodLogOptions{Container: name, LimitBytes: &limit}
		if tail > 0 {
			opts.TailLines = &tail
		}
		stream, err := pods.GetLogs(pod.Name, opts).Stream(ctx)
		if apierrors.IsNotFound(err) {
			return nil, podGone, nil
		}
		if apierrors.IsBadRequest(err) {
			break // the step has not started after all: no log yet
		}
		if apierrors.IsInternalError(err) {
			// The API server answers, but not the node it asks for the
			// log (a node lost, or restarting): the build's status still
			// stands, with what was read.
			return out, nodeSilent, nil
		}
		if err != nil {
			return nil, "", apperr.Upstream(err, "reading the log of step %s of build %s", name, job.Name)
		}
		text, err := io.ReadAll(io.LimitReader(stream, limit))
		stream.Close()
		if err != nil {
			return nil, "", apperr.Upstream(err, "reading the log of step %s of build %s", name, job.Name)
		}
		budget -= int64(len(text))
		out = append(out, step{name, string(text)})
	}
	if cs := containerStatus(pod, names.StepBuild); cs != nil && cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0 {
		// The build step failed: the daemon that ran it may say why (it
		// died, it ran out of disk), in its last lines.
		if label, text := daemonTail(ctx, pods, pod); text != "" {
			out = append(out, step{label, text})
		}
	}
	return out, "", nil
}

// daemonLines is how much of the daemon's log a failed build shows.
const daemonLines = 20

// daemonTail is the end of the buildkitd sidecar's log, and what to call
// it ("" when it cannot be read: the build's own log still stands). A
// daemon that died is restarted by the kubelet (it is a sidecar): then the
// dead one's log, the previous container's, is what says why.
func daemonTail(ctx context.Context, pods kube.Pods, pod *corev1.Pod) (label, text string) {
	lines, limit := int64(daemonLines), int64(16<<10)
	opts := &corev1.PodLogOptions{Container: names.StepDaemon, TailLines: &lines, LimitBytes: &limit}
	label = names.StepDaemon + " (its last lines)"
	if cs := containerStatus(pod, names.StepDaemon); cs != nil && cs.LastTerminationState.Terminated != nil {
		opts.Previous = true
		label = fmt.Sprintf("%s (its last lines before it was restarted: exit code %d)", names.StepDaemon, cs.LastTerminationState.Terminated.ExitCode)
	}
	stream, err := pods.GetLogs(pod.Name, opts).Stream(ctx)
	if err != nil {
		return "", ""
	}
	defer stream.Close()
	data, _ := io.ReadAll(io.LimitReader(stream, limit))
	return label, string(data)
}

// containerStatus is the status of pod's container name, init containers
// included; nil when the pod's status does not list it yet.
func containerStatus(pod *corev1.Pod, name string) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

// started reports whether the step name of pod has run or runs. A step
// its status does not list is taken to have started once the pod has left
// Pending.
func started(pod *corev1.Pod, name string) bool {
	if cs := containerStatus(pod, name); cs != nil {
		return cs.State.Running != nil || cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil
	}
	return pod.Status.Phase != corev1.PodPending && pod.Status.Phase != ""
}

// failedStep says which step of pod failed, first in order, with its exit
// code: "" when none did.
func failedStep(pod *corev1.Pod) string {
	for _, name := range stepNames(pod) {
		if cs := containerStatus(pod, name); cs != nil && cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0 {
			return fmt.Sprintf("step %s failed (exit code %d): %s", name, cs.State.Terminated.ExitCode, stepPurpose[name])
		}
	}
	return ""
}

// stepPurpose says what each step does, for the message of a failed one.
var stepPurpose = map[string]string{
	names.StepFetch:      "fetching the source image; its log says why",
	names.StepFetchCache: "fetching the build cache; its log says why",
	names.StepBuild:      "the build; its log says why",
	names.StepPush:       "pushing the image to the registry; its log says why",
	names.StepPushCache:  "pushing the build cache to the registry; its log says why",
}

// recordTailLines are the lines asked for a record's log: the API's
// limitBytes counts from the start, so the end is asked by lines, more than
// 64 KiB of them for any plain BuildKit progress.
const recordTailLines = 4000

// JobLog is the end of job's build log, as much as a record keeps, and the
// digest its push step printed; "" when its pod is gone or never ran.
func JobLog(ctx context.Context, pods kube.Pods, job *batchv1.Job) (text, digest string, err error) {
	pod, err := buildPod(ctx, pods, job)
	if err != nil {
		return "", "", err
	}
	return podLog(ctx, pods, job, pod)
}

// podLog is JobLog of job's pod, already found (nil: none).
func podLog(ctx context.Context, pods kube.Pods, job *batchv1.Job, pod *corev1.Pod) (text, digest string, err error) {
	if pod == nil {
		return "", "", nil
	}
	steps, missing, err := stepLogs(ctx, pods, job, pod, recordTailLines)
	text = steps.text()
	if missing == nodeSilent {
		text += "(" + nodeSilent + ")\n"
	}
	if len(text) > RecordLogBytes {
		text = text[len(text)-RecordLogBytes:]
	}
	return text, steps.pushedDigest(), err
}

// LastLines is the last n lines of text (all of it when n <= 0), each with
// its newline.
func LastLines(text string, n int) string {
	if n <= 0 {
		return text
	}
	lines := strings.SplitAfter(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

var (
	// transfer push prints the pushed reference, by digest, on a line alone.
	transferPushedRE = regexp.MustCompile(`(?m)^\S+@(sha256:[0-9a-f]{64})\s*$`)
	pushedRE         = regexp.MustCompile(`pushing manifest for \S+@(sha256:[0-9a-f]{64})`)
	exportedRE       = regexp.MustCompile(`exporting manifest (sha256:[0-9a-f]{64})`)
)

// PushedDigest finds the pushed digest in a log: the one transfer's push
// printed, else, in BuildKit's plain progress output of a build that
// pushed itself, the manifest it pushed or the last one it exported.
func PushedDigest(log string) string {
	if m := transferPushedRE.FindAllStringSubmatch(log, -1); len(m) > 0 {
		return m[len(m)-1][1]
	}
	if m := pushedRE.FindAllStringSubmatch(log, -1); len(m) > 0 {
		return m[len(m)-1][1]
	}
	if m := exportedRE.FindAllStringSubmatch(log, -1); len(m) > 0 {
		return m[len(m)-1][1]
	}
	return ""
}
