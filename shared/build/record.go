package build

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/kube"
)

// Records outlive their builds' Jobs (SPEC §6): one ConfigMap per build,
// labelled like the Job and not owned by it, written when the build is seen
// finished, holding what `builds` shows and the end of the log.

// LabelRecord marks a build record.
const LabelRecord = "builder.openserverless.apache.org/record"

// RecordLogBytes is how much of a build's log its record keeps: the end.
const RecordLogBytes = 64 << 10

// Cancelled is the status of a build stopped by cancel.
const Cancelled = "cancelled"

// Build is one build as `builds` lists it.
type Build struct {
	ID           string     `json:"id"`
	JobName      string     `json:"job_name"`
	User         string     `json:"user"`
	Target       string     `json:"target"`
	Image        string     `json:"image"`
	Source       string     `json:"source"`
	SourceDigest string     `json:"source_digest,omitempty"`
	Kind         string     `json:"kind"`
	Status       string     `json:"status"`
	Reason       string     `json:"reason,omitempty"`
	Created      time.Time  `json:"created"`
	Started      *time.Time `json:"started,omitempty"`
	Finished     *time.Time `json:"finished,omitempty"`
	DurationS    *float64   `json:"duration_s,omitempty"`
	Digest       string     `json:"digest,omitempty"`
}

// Done reports whether the build has ended.
func (b Build) Done() bool {
	return b.Status == Succeeded || b.Status == Failed || b.Status == Cancelled
}

// fromJob is what a Job says of its build, without its pod.
func fromJob(job *batchv1.Job) Build {
	b := Build{
		ID:           job.Labels[LabelBuildID],
		JobName:      job.Name,
		User:         job.Annotations[AnnotationUser],
		Target:       job.Annotations[AnnotationTarget],
		Image:        job.Annotations[AnnotationImage],
		Source:       job.Annotations[AnnotationSource],
		SourceDigest: job.Annotations[AnnotationSourceDigest],
		Kind:         job.Annotations[AnnotationKind],
		Created:      job.CreationTimestamp.Time.UTC(),
		Status:       Pending,
	}
	if t := job.Status.StartTime; t != nil {
		started := t.Time.UTC()
		b.Started = &started
	}
	if job.Status.Active > 0 || job.Status.Ready != nil && *job.Status.Ready > 0 {
		b.Status = Running
	}
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			b.Status = Succeeded
		case batchv1.JobFailed:
			b.Status, b.Reason = Failed, c.Reason
			if c.Message != "" {
				b.Reason += ": " + c.Message
			}
		}
	}
	if at, ok := FinishedAt(job); ok {
		b.finish(at)
	}
	return b
}

// finish sets when the build ended and how long it took.
func (b *Build) finish(at time.Time) {
	at = at.UTC()
	b.Finished = &at
	from := b.Created
	if b.Started != nil {
		from = *b.Started
	}
	d := at.Sub(from).Seconds()
	if d < 0 {
		d = 0
	}
	b.DurationS = &d
}

// RecordName is the name of a build's record: its Job's, suffixed.
func RecordName(jobName string) string { return jobName + "-record" }

// Record is a build's record as stored: the build and its log's end.
type Record struct {
	Build
	Log string `json:"-"`
}

const (
	recordKey = "build.json"
	logKey    = "log"
)

// configMap is the record's ConfigMap in namespace ns.
func (r Record) configMap(ns string) (*corev1.ConfigMap, error) {
	data, err := json.Marshal(r.Build)
	if err != nil {
		return nil, fmt.Errorf("encoding the record of %s: %w", r.JobName, err)
	}
	log := r.Log
	if len(log) > RecordLogBytes {
		log = log[len(log)-RecordLogBytes:]
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      RecordName(r.JobName),
			Namespace: ns,
			Labels: map[string]string{
				LabelManagedBy: ManagedBy,
				LabelUser:      UserLabel(r.User),
				LabelBuildID:   r.ID,
				LabelRecord:    "true",
			},
			Annotations: map[string]string{AnnotationUser: r.User},
		},
		Data: map[string]string{recordKey: string(data), logKey: log},
	}, nil
}

// RecordOf decodes a record's ConfigMap; ok is false for any other.
func RecordOf(cm *corev1.ConfigMap) (Record, bool) {
	if cm.Labels[LabelManagedBy] != ManagedBy || cm.Labels[LabelRecord] != "true" {
		return Record{}, false
	}
	var r Record
	if err := json.Unmarshal([]byte(cm.Data[recordKey]), &r.Build); err != nil || r.JobName == "" {
		return Record{}, false
	}
	r.Log = cm.Data[logKey]
	// The annotation, not the JSON, says whose it is: the same check as
	// for Jobs.
	if r.User != cm.Annotations[AnnotationUser] {
		return Record{}, false
	}
	return r, true
}

// IsRecord reports whether cm is a build record.
func IsRecord(cm *corev1.ConfigMap) bool { return cm.Labels[LabelRecord] == "true" }

// Records stores and reads build records in one namespace.
type Records struct {
	ConfigMaps kube.ConfigMaps
	Namespace  string
}

// RecordsIn is the record store of namespace ns.
func RecordsIn(k *kube.Clients, ns string) Records {
	return Records{ConfigMaps: k.Core.ConfigMaps(ns), Namespace: ns}
}

// Save stores r. A record that exists already is kept (the first sight of
// a finished build is its record), unless r marks the build cancelled: a
// cancel replaces whatever was seen before it (delete, then create, so
// that the builder needs no right to update ConfigMaps).
func (s Records) Save(ctx context.Context, r Record) error {
	cm, err := r.configMap(s.Namespace)
	if err != nil {
		return err
	}
	_, err = s.ConfigMaps.Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		if r.Status != Cancelled {
			return nil
		}
		if derr := s.ConfigMaps.Delete(ctx, cm.Name, metav1.DeleteOptions{}); derr != nil && !apierrors.IsNotFound(derr) {
			return apperr.Upstream(derr, "replacing the record of build %s", r.JobName)
		}
		_, err = s.ConfigMaps.Create(ctx, cm, metav1.CreateOptions{})
	}
	if err != nil {
		return apperr.Upstream(err, "storing the record of build %s", r.JobName)
	}
	return nil
}

// Get reads the record of the build whose Job is jobName; ok is false when
// there is none.
func (s Records) Get(ctx context.Context, jobName string) (Record, bool, error) {
	cm, err := s.ConfigMaps.Get(ctx, RecordName(jobName), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, apperr.Upstream(err, "reading the record of build %s", jobName)
	}
	r, ok := RecordOf(cm)
	return r, ok, nil
}

// List reads every record of user ("" for everyone's), page by page.
func (s Records) List(ctx context.Context, user string) ([]Record, error) {
	var out []Record
	err := kube.ListPages(ctx, UserSelector(user)+","+LabelRecord+"=true", func(opts metav1.ListOptions) (string, error) {
		list, err := s.ConfigMaps.List(ctx, opts)
		if err != nil {
			return "", err
		}
		for i := range list.Items {
			if r, ok := RecordOf(&list.Items[i]); ok && (user == "" || r.User == user) {
				out = append(out, r)
			}
		}
		return list.Continue, nil
	})
	if err != nil {
		return nil, apperr.Upstream(err, "listing build records")
	}
	return out, nil
}
