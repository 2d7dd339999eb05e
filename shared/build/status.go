package build

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
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
// Status is the logs action's result: the build as builds shows it, with
// its log.
type Status struct {
	Build
	Logs    string `json:"logs"`
	Message string `json:"message,omitempty"`
}

// maxLogBytes bounds the log returned, to stay within a result's size.
const maxLogBytes = 512 << 10

func logs(ctx context.Context, inv *action.Invocation) (any, error) {
	name, id, err := BuildRef(inv.Params)
	if err != nil {
		return nil, err
	}
	if name == "" && id != "" {
		// `builder logs ID`: one of the caller's builds by its id.
		name = JobName(inv.Caller.Name, id)
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
	records := RecordsIn(k, ns)
	var job *batchv1.Job
	var rec Record
	var recorded bool
	if name != "" {
		job, err = findJob(ctx, k, ns, name)
		if apperr.Status(err) == http.StatusNotFound {
			// The Job is gone: its record answers.
			if rec, recorded, err = records.Get(ctx, name); err == nil && !recorded {
				err = apperr.NotFound("no build named %s: it may have been cleaned up, and its record has expired", quoteShort(name))
			}
		}
	} else {
		job, rec, recorded, err = latest(ctx, k, records, ns, inv.Caller.Name)
	}
	if err != nil {
		return nil, err
	}
	owner := rec.User
	if job != nil {
		owner = job.Annotations[AnnotationUser]
	}
	if !inv.Caller.Admin && owner != inv.Caller.Name {
		return nil, apperr.Forbidden("build %s is not yours", name)
	}
	if job == nil {
		return fromRecord(rec, int(tail)), nil
	}
	s, err := Describe(ctx, k, job, int64(tail))
	if err != nil {
		return nil, err
	}
	if s.Done() {
		// Seen finished: keep its record. Without a tail, Describe read
		// the whole log, whose end the record keeps: no second read. (Save
		// keeps a record that exists.)
		var err error
		if tail == 0 {
			err = records.Save(ctx, Record{Build: s.Build, Log: s.Logs})
		} else {
			err = RecordJob(ctx, k.Core.Pods(ns), records, job)
		}
		if err != nil {
			inv.Log.Printf("logs: %v", err)
		}
	}
	return s, nil
}

// fromRecord is the logs result of a build whose Job is gone.
func fromRecord(r Record, tail int) *Status {
	log := r.Log
	if tail > 0 {
		lines := strings.SplitAfter(log, "\n")
		if len(lines) > 0 && lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		if len(lines) > tail {
			lines = lines[len(lines)-tail:]
		}
		log = strings.Join(lines, "")
	}
	return &Status{Build: r.Build, Logs: log,
		Message: "from the build's record: its Job has been cleaned up; the log is its last 64 KiB"}
}

// RecordJob stores the record of a finished Job, with the end of its log,
// unless it has one.
func RecordJob(ctx context.Context, pods kube.Pods, records Records, job *batchv1.Job) error {
	if _, ok, err := records.Get(ctx, job.Name); err != nil || ok {
		return err
	}
	return recordNew(ctx, pods, records, job)
}

// recordNew stores the record of a finished Job known to have none.
func recordNew(ctx context.Context, pods kube.Pods, records Records, job *batchv1.Job) error {
	r := Record{Build: fromJob(job)}
	text, err := jobLog(ctx, pods, job)
	if err != nil {
		return err
	}
	r.Log = text
	if r.Status == Succeeded {
		r.Digest = PushedDigest(text)
	}
	return records.Save(ctx, r)
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

// latest finds the user's newest build: a live Job, or a record whose Job
// is gone.
func latest(ctx context.Context, k *kube.Clients, records Records, ns, user string) (*batchv1.Job, Record, bool, error) {
	jobs, err := UserJobs(ctx, k.Batch.Jobs(ns), user)
	if err != nil {
		return nil, Record{}, false, err
	}
	recs, err := records.List(ctx, user)
	if err != nil {
		return nil, Record{}, false, err
	}
	builds := merge(jobs, recs)
	if len(builds) == 0 {
		return nil, Record{}, false, apperr.NotFound("you have no builds: start one with the send action")
	}
	newest := builds[0]
	for i := range jobs {
		if jobs[i].Name == newest.JobName {
			return &jobs[i], Record{}, false, nil
		}
	}
	for _, r := range recs {
		if r.JobName == newest.JobName {
			return nil, r, true, nil
		}
	}
	return nil, Record{}, false, apperr.New(500, "build %s vanished while it was read", newest.JobName)
}

// Describe reports job's status, its pod's build log (the last tail lines
// when tail > 0) and, for a successful build, the pushed digest.
func Describe(ctx context.Context, k *kube.Clients, job *batchv1.Job, tail int64) (*Status, error) {
	s := &Status{Build: fromJob(job)}
	if !s.Done() {
		// Until its pod runs, the build is pending, whatever the Job says.
		s.Status = Pending
	}
	pods := k.Core.Pods(job.Namespace)
	pod, err := buildPod(ctx, pods, job)
	if err != nil {
		return nil, err
	}
	if pod == nil {
		if s.Status != Pending {
			s.Message = "the build's pod is gone, and its log with it"
		}
		return s, nil
	}
	// A pod that ran is running the build until the Job controller records
	// how it ended.
	if s.Status == Pending && pod.Status.Phase != corev1.PodPending && pod.Status.Phase != "" {
		s.Status = Running
	}
	if pod.Status.Phase == corev1.PodPending {
		return s, nil // no log before the container starts
	}
	text, gone, err := podLog(ctx, pods, job, pod.Name, tail)
	if err != nil {
		return nil, err
	}
	if gone {
		s.Message = "the build's pod is gone, and its log with it"
		return s, nil
	}
	s.Logs = text
	if s.Status == Succeeded {
		s.Digest = PushedDigest(s.Logs)
	}
	return s, nil
}

// buildPod is the newest pod of job; nil when it has none.
func buildPod(ctx context.Context, pods kube.Pods, job *batchv1.Job) (*corev1.Pod, error) {
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job.Name})
	if err != nil {
		return nil, apperr.Upstream(err, "listing the pods of build %s", job.Name)
	}
	if len(list.Items) == 0 {
		return nil, nil
	}
	p := newestPod(list.Items)
	return &p, nil
}

// podLog reads the build container's log (the last tail lines when tail >
// 0), at most maxLogBytes; gone is true when the pod went meanwhile.
func podLog(ctx context.Context, pods kube.Pods, job *batchv1.Job, pod string, tail int64) (string, bool, error) {
	opts := &corev1.PodLogOptions{Container: ContainerName, LimitBytes: ptr(int64(maxLogBytes))}
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
	text, err := io.ReadAll(io.LimitReader(stream, maxLogBytes))
	if err != nil {
		return "", false, apperr.Upstream(err, "reading the log of build %s", job.Name)
	}
	return string(text), false, nil
}

// recordTailLines are the lines asked for a record's log: the API's
// limitBytes counts from the start, so the end is asked by lines, more than
// 64 KiB of them for any plain BuildKit progress.
const recordTailLines = 4000

// jobLog is the end of job's build log, as much as a record keeps; "" when
// its pod is gone or never ran.
func jobLog(ctx context.Context, pods kube.Pods, job *batchv1.Job) (string, error) {
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

func newestPod(pods []corev1.Pod) corev1.Pod {
	newest := pods[0]
	for _, p := range pods[1:] {
		if newest.CreationTimestamp.Before(&p.CreationTimestamp) {
			newest = p
		}
	}
	return newest
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
