package builds

import (
	"context"
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
)

// Status is a build as the builds action shows it, with its log: the logs
// action's result.
type Status struct {
	Build
	Logs    string `json:"logs"`
	Message string `json:"message,omitempty"`
}

// MaxLogBytes bounds the log read of a pod, to stay within a result's size.
const MaxLogBytes = 512 << 10

// podGone is said of a build whose pod, and log, are gone.
const podGone = "the build's pod is gone, and its log with it"

// Describe reports job's status, its pod's build log (the last tail lines
// when tail > 0) and, for a successful build, the pushed digest.
func Describe(ctx context.Context, pods kube.Pods, job *batchv1.Job, tail int64) (*Status, error) {
	s := &Status{Build: FromJob(job)}
	if !s.Done() {
		// Until its pod runs, the build is pending, whatever the Job says.
		s.Status = names.Pending
	}
	pod, err := buildPod(ctx, pods, job)
	if err != nil {
		return nil, err
	}
	if pod == nil {
		if s.Status != names.Pending {
			s.Message = podGone
		}
		return s, nil
	}
	// A pod that ran is running the build until the Job controller records
	// how it ended.
	if s.Status == names.Pending && pod.Status.Phase != corev1.PodPending && pod.Status.Phase != "" {
		s.Status = names.Running
	}
	if pod.Status.Phase == corev1.PodPending {
		return s, nil // no log before the container starts
	}
	text, gone, err := podLog(ctx, pods, job, pod.Name, tail)
	if err != nil {
		return nil, err
	}
	if gone {
		s.Message = podGone
		return s, nil
	}
	s.Logs = text
	if s.Status == names.Succeeded {
		s.Digest = PushedDigest(s.Logs)
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

// podLog reads the build container's log (the last tail lines when tail >
// 0), at most MaxLogBytes; gone is true when the pod went meanwhile.
func podLog(ctx context.Context, pods kube.Pods, job *batchv1.Job, pod string, tail int64) (string, bool, error) {
	limit := int64(MaxLogBytes)
	opts := &corev1.PodLogOptions{Container: names.ContainerName, LimitBytes: &limit}
	if tail > 0 {
		opts.TailLines = &tail
	}
	stream, err := pods.GetLogs(pod, opts).Stream(ctx)
	if apierrors.IsNotFound(err) {
		return "", true, nil
	}
	if err != nil {
		return "", false, apperr.Upstream(err, "reading the log of build %s", job.Name)
	}
	defer stream.Close()
	text, err := io.ReadAll(io.LimitReader(stream, MaxLogBytes))
	if err != nil {
		return "", false, apperr.Upstream(err, "reading the log of build %s", job.Name)
	}
	return string(text), false, nil
}

// recordTailLines are the lines asked for a record's log: the API's
// limitBytes counts from the start, so the end is asked by lines, more than
// 64 KiB of them for any plain BuildKit progress.
const recordTailLines = 4000

// JobLog is the end of job's build log, as much as a record keeps; "" when
// its pod is gone or never ran.
func JobLog(ctx context.Context, pods kube.Pods, job *batchv1.Job) (string, error) {
	pod, err := buildPod(ctx, pods, job)
	if err != nil || pod == nil || pod.Status.Phase == corev1.PodPending {
		return "", err
	}
	text, _, err := podLog(ctx, pods, job, pod.Name, recordTailLines)
	if len(text) > RecordLogBytes {
		text = text[len(text)-RecordLogBytes:]
	}
	return text, err
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
	pushedRE   = regexp.MustCompile(`pushing manifest for \S+@(sha256:[0-9a-f]{64})`)
	exportedRE = regexp.MustCompile(`exporting manifest (sha256:[0-9a-f]{64})`)
)

// PushedDigest finds the digest BuildKit pushed in its plain progress
// output: the manifest it pushed, else the last manifest it exported.
func PushedDigest(log string) string {
	if m := pushedRE.FindAllStringSubmatch(log, -1); len(m) > 0 {
		return m[len(m)-1][1]
	}
	if m := exportedRE.FindAllStringSubmatch(log, -1); len(m) > 0 {
		return m[len(m)-1][1]
	}
	return ""
}
