package build

import (
	"context"
	"io"
	"regexp"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/web"
)

// LogsAction reports a build's status and log.
var LogsAction = action.Action{Name: "logs", Methods: web.Read(), Run: logs}

// Build statuses.
const (
	Pending   = "pending"
	Running   = "running"
	Succeeded = "succeeded"
	Failed    = "failed"
)

// Status is the logs action's result.
type Status struct {
	JobName  string     `json:"job_name"`
	ID       string     `json:"id"`
	Status   string     `json:"status"`
	Reason   string     `json:"reason,omitempty"`
	Image    string     `json:"image"`
	Digest   string     `json:"digest,omitempty"`
	Logs     string     `json:"logs"`
	Message  string     `json:"message,omitempty"`
	Created  time.Time  `json:"created"`
	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
}

// maxLogBytes bounds the log returned, to stay within a result's size.
const maxLogBytes = 512 << 10

func logs(ctx context.Context, inv *action.Invocation) (any, error) {
	name, err := inv.Params.String("job_name", "")
	if err != nil {
		return nil, err
	}
	tail, err := inv.Params.Int("tail", 0)
	if err != nil {
		return nil, err
	}
	if tail < 0 {
		return nil, apperr.BadRequest("parameter \"tail\" must be a positive number of lines")
	}
	k, err := inv.Kube()
	if err != nil {
		return nil, err
	}
	ns := inv.Config.KubeNamespace
	var job *batchv1.Job
	if name != "" {
		job, err = findJob(ctx, k, ns, name)
	} else {
		job, err = latestJob(ctx, k, ns, inv.Caller.Name)
	}
	if err != nil {
		return nil, err
	}
	if !inv.Caller.Admin && job.Annotations[AnnotationUser] != inv.Caller.Name {
		return nil, apperr.Forbidden("build %s is not yours", job.Name)
	}
	return Describe(ctx, k, job, int64(tail))
}

func findJob(ctx context.Context, k *kube.Clients, ns, name string) (*batchv1.Job, error) {
	job, err := k.Batch.Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || err == nil && job.Labels[LabelManagedBy] != ManagedBy {
		return nil, apperr.NotFound("no build named %s: it may have been cleaned up", quoteShort(name))
	}
	if err != nil {
		return nil, apperr.Upstream(err, "reading build %s", name)
	}
	return job, nil
}

func latestJob(ctx context.Context, k *kube.Clients, ns, user string) (*batchv1.Job, error) {
	list, err := k.Batch.Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: UserSelector(user)})
	if err != nil {
		return nil, apperr.Upstream(err, "listing your builds")
	}
	var mine []batchv1.Job
	for _, j := range list.Items {
		// The label may be a hash of a long name: check the full name.
		if j.Annotations[AnnotationUser] == user {
			mine = append(mine, j)
		}
	}
	if len(mine) == 0 {
		return nil, apperr.NotFound("you have no builds: start one with the send action")
	}
	sort.Slice(mine, func(a, b int) bool {
		ta, tb := mine[a].CreationTimestamp, mine[b].CreationTimestamp
		if ta.Equal(&tb) {
			return mine[a].Name > mine[b].Name
		}
		return tb.Before(&ta)
	})
	return &mine[0], nil
}

// Describe reports job's status, its pod's BuildKit log (the last tail lines
// when tail > 0) and, for a successful build, the pushed digest.
func Describe(ctx context.Context, k *kube.Clients, job *batchv1.Job, tail int64) (*Status, error) {
	s := &Status{
		JobName: job.Name,
		ID:      job.Labels[LabelBuildID],
		Image:   job.Annotations[AnnotationImage],
		Created: job.CreationTimestamp.Time,
		Status:  Pending,
	}
	if t := job.Status.StartTime; t != nil {
		s.Started = &t.Time
	}
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			s.Status, s.Finished = Succeeded, timeOf(job.Status.CompletionTime, c.LastTransitionTime)
		case batchv1.JobFailed:
			s.Status, s.Reason, s.Finished = Failed, c.Reason, timeOf(nil, c.LastTransitionTime)
			if c.Message != "" {
				s.Reason += ": " + c.Message
			}
		}
	}
	pods, err := k.Core.Pods(job.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job.Name})
	if err != nil {
		return nil, apperr.Upstream(err, "listing the pods of build %s", job.Name)
	}
	if len(pods.Items) == 0 {
		if s.Status != Pending {
			s.Message = "the build's pod is gone, and its log with it"
		}
		return s, nil
	}
	pod := newestPod(pods.Items)
	// A pod that ran is running the build until the Job controller records
	// how it ended.
	if s.Status == Pending && pod.Status.Phase != corev1.PodPending && pod.Status.Phase != "" {
		s.Status = Running
	}
	if pod.Status.Phase == corev1.PodPending {
		return s, nil // no log before the container starts
	}
	opts := &corev1.PodLogOptions{Container: ContainerName, LimitBytes: ptr(int64(maxLogBytes))}
	if tail > 0 {
		opts.TailLines = &tail
	}
	stream, err := k.Core.Pods(job.Namespace).GetLogs(pod.Name, opts).Stream(ctx)
	if apierrors.IsNotFound(err) {
		s.Message = "the build's pod is gone, and its log with it"
		return s, nil
	}
	if err != nil {
		return nil, apperr.Upstream(err, "reading the log of build %s", job.Name)
	}
	defer stream.Close()
	text, err := io.ReadAll(io.LimitReader(stream, maxLogBytes))
	if err != nil {
		return nil, apperr.Upstream(err, "reading the log of build %s", job.Name)
	}
	s.Logs = string(text)
	if s.Status == Succeeded {
		s.Digest = PushedDigest(s.Logs)
	}
	return s, nil
}

func newestPod(pods []corev1.Pod) corev1.Pod {
	newest := pods[0]
	for _, p := range pods[1:] {
		if newest.CreationTimestamp.Before(&p.CreationTimestamp) {
			newest = p
		}
	}
	return newest
}

func timeOf(t *metav1.Time, fallback metav1.Time) *time.Time {
	if t != nil {
		return &t.Time
	}
	if fallback.IsZero() {
		return nil
	}
	return &fallback.Time
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

// FinishedAt is when a Job finished: its completion time, or the time of its
// Failed condition. ok is false while it runs.
func FinishedAt(j *batchv1.Job) (t time.Time, ok bool) {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			if j.Status.CompletionTime != nil {
				return j.Status.CompletionTime.Time, true
			}
			return c.LastTransitionTime.Time, true
		case batchv1.JobFailed:
			return c.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}
