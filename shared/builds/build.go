// Package builds reads and keeps builds as the cluster holds them: a
// build seen through its Job and pod (its status, log and pushed digest),
// the records that outlive Jobs, a user's Jobs, and their deletion
// (docs/contract.md, "Build records and cleanup").
package builds

import (
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
)

// FromJob is what a Job says of its build, without its pod.
func FromJob(job *batchv1.Job) types.Build {
	b := types.Build{
		ID:           job.Labels[names.LabelBuildID],
		JobName:      job.Name,
		User:         job.Annotations[names.AnnotationUser],
		Target:       job.Annotations[names.AnnotationTarget],
		Image:        job.Annotations[names.AnnotationImage],
		Source:       job.Annotations[names.AnnotationSource],
		SourceDigest: job.Annotations[names.AnnotationSourceDigest],
		Kind:         job.Annotations[names.AnnotationKind],
		Created:      job.CreationTimestamp.Time.UTC(),
		Status:       types.Pending,
		Note:         job.Annotations[names.AnnotationNote],
		Identity:     job.Annotations[names.AnnotationIdentity],
	}
	if t := job.Status.StartTime; t != nil {
		started := t.Time.UTC()
		b.Started = &started
	}
	if job.Status.Active > 0 || job.Status.Ready != nil && *job.Status.Ready > 0 {
		b.Status = types.Running
	}
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete, batchv1.JobSuccessCriteriaMet:
			b.Status = types.Succeeded
		case batchv1.JobFailed, batchv1.JobFailureTarget:
			b.Status, b.Reason = types.Failed, c.Reason
			if c.Message != "" {
				b.Reason += ": " + c.Message
			}
		}
	}
	if at, ok := FinishedAt(job); ok {
		b.Finish(at)
	}
	return b
}

// FinishedAt is when a Job finished: its completion time, or the time of its
// Failed condition. ok is false while it runs.
//
// The Job controller decides a Job's end (SuccessCriteriaMet,
// FailureTarget) before it records it (Complete, Failed), which it does
// only once every pod has terminated: a pod on a lost node never does
// (#35, case 5), so the decision is the end, and the earlier time.
func FinishedAt(j *batchv1.Job) (t time.Time, ok bool) {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		var at time.Time
		switch c.Type {
		case batchv1.JobComplete:
			at = c.LastTransitionTime.Time
			if j.Status.CompletionTime != nil {
				at = j.Status.CompletionTime.Time
			}
		case batchv1.JobFailed, batchv1.JobFailureTarget, batchv1.JobSuccessCriteriaMet:
			at = c.LastTransitionTime.Time
		default:
			continue
		}
		if !ok || at.Before(t) {
			t, ok = at, true
		}
	}
	return t, ok
}

// Newer orders builds newest first: by creation, then by Job name.
func Newer(aCreated time.Time, aJob string, bCreated time.Time, bJob string) bool {
	if !aCreated.Equal(bCreated) {
		return aCreated.After(bCreated)
	}
	return aJob > bJob
}

// Merge is every build of jobs and records, once each, newest first. A
// build with both is its record (it was seen finished, or cancelled).
func Merge(jobs []batchv1.Job, recs []Record) []types.Build {
	byName := map[string]types.Build{}
	for i := range jobs {
		b := FromJob(&jobs[i])
		byName[b.JobName] = b
	}
	for _, r := range recs {
		byName[r.JobName] = r.Build
	}
	out := make([]types.Build, 0, len(byName))
	for _, b := range byName {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		return Newer(out[i].Created, out[i].JobName, out[j].Created, out[j].JobName)
	})
	return out
}
