package builds

import (
	"context"
	"encoding/json"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
)

// Records outlive their builds' Jobs: one ConfigMap per build, labelled
// like the Job and not owned by it, written when the build is seen
// finished, holding what the builds action shows and the end of the log.

// RecordLogBytes is how much of a build's log its record keeps: the end.
const RecordLogBytes = 64 << 10

// Record is a build's record as stored: the build and its log's end.
type Record struct {
	types.Build
	Log string `json:"-"`
}

const (
	recordKey = "build.json"
	logKey    = "log"
)

// ConfigMap is the record's ConfigMap in namespace ns: what builds lists,
// without the log (LogConfigMap).
func (r Record) ConfigMap(ns string) (*corev1.ConfigMap, error) {
	data, err := json.Marshal(r.Build)
	if err != nil {
		return nil, fmt.Errorf("encoding the record of %s: %w", r.JobName, err)
	}
	return &corev1.ConfigMap{
		ObjectMeta: r.meta(ns, names.RecordName(r.JobName), names.LabelRecord),
		Data:       map[string]string{recordKey: string(data)},
	}, nil
}

// LogConfigMap holds the end of the record's log, apart from the record.
func (r Record) LogConfigMap(ns string) *corev1.ConfigMap {
	log := r.Log
	if len(log) > RecordLogBytes {
		log = log[len(log)-RecordLogBytes:]
	}
	return &corev1.ConfigMap{
		ObjectMeta: r.meta(ns, names.RecordLogName(r.JobName), names.LabelRecordLog),
		Data:       map[string]string{logKey: log},
	}
}

func (r Record) meta(ns, name, kind string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      name,
		Namespace: ns,
		Labels: map[string]string{
			names.LabelManagedBy: names.ManagedBy,
			names.LabelUser:      names.UserLabel(r.User),
			names.LabelBuildID:   r.ID,
			kind:                 "true",
		},
		Annotations: map[string]string{names.AnnotationUser: r.User},
	}
}

// RecordOf decodes a record's ConfigMap; ok is false for any other. Its Log
// is there only for a record stored before logs were kept apart.
func RecordOf(cm *corev1.ConfigMap) (Record, bool) {
	if cm.Labels[names.LabelManagedBy] != names.ManagedBy || cm.Labels[names.LabelRecord] != "true" {
		return Record{}, false
	}
	var r Record
	if err := json.Unmarshal([]byte(cm.Data[recordKey]), &r.Build); err != nil || r.JobName == "" {
		return Record{}, false
	}
	r.Log = cm.Data[logKey]
	// The annotation, not the JSON, says whose it is: the same check as
	// for Jobs.
	if r.User != cm.Annotations[names.AnnotationUser] {
		return Record{}, false
	}
	return r, true
}

// IsRecord reports whether cm is a build record.
func IsRecord(cm *corev1.ConfigMap) bool { return cm.Labels[names.LabelRecord] == "true" }

// IsRecordLog reports whether cm is the log of a build record.
func IsRecordLog(cm *corev1.ConfigMap) bool { return cm.Labels[names.LabelRecordLog] == "true" }

// Records stores and reads build records in one namespace.
type Records struct {
	ConfigMaps kube.ConfigMaps
	Namespace  string
}

// Save stores r: its log, then its record, so that a listed record has
// its log. A record that exists already is kept (the first sight of a
// finished build is its record), unless r marks the build cancelled: a
// cancel replaces whatever was seen before it (delete, then create, so
// that the builder needs no right to update ConfigMaps).
func (s Records) Save(ctx context.Context, r Record) error {
	cm, err := r.ConfigMap(s.Namespace)
	if err != nil {
		return err
	}
	objs := []*corev1.ConfigMap{r.LogConfigMap(s.Namespace), cm}
	if r.Log == "" && r.Status != types.Cancelled {
		// No log to keep (its pod was gone): the record alone. A cancel
		// replaces what came before, an older log included.
		objs = objs[1:]
	}
	for _, obj := range objs {
		if err := s.create(ctx, obj, r.Status == types.Cancelled); err != nil {
			return apperr.Upstream(err, "storing the record of build %s", r.JobName)
		}
	}
	return nil
}

// create creates cm, keeping one that exists unless replace.
func (s Records) create(ctx context.Context, cm *corev1.ConfigMap, replace bool) error {
	_, err := s.ConfigMaps.Create(ctx, cm, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	if !replace {
		return nil
	}
	if err := s.ConfigMaps.Delete(ctx, cm.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	_, err = s.ConfigMaps.Create(ctx, cm, metav1.CreateOptions{})
	return err
}

// Delete removes the record of the build whose Job is jobName, and its log,
// if any.
func (s Records) Delete(ctx context.Context, jobName string) error {
	for _, name := range []string{names.RecordName(jobName), names.RecordLogName(jobName)} {
		err := s.ConfigMaps.Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return apperr.Upstream(err, "deleting the record of build %s", jobName)
		}
	}
	return nil
}

// Get reads the record of the build whose Job is jobName, with its log;
// ok is false when there is none.
func (s Records) Get(ctx context.Context, jobName string) (Record, bool, error) {
	r, ok, err := s.Summary(ctx, jobName)
	if err != nil || !ok {
		return r, ok, err
	}
	r, err = s.WithLog(ctx, r)
	return r, err == nil, err
}

// WithLog is r, a record read without its log, with the log kept apart
// from it (none when it is gone).
func (s Records) WithLog(ctx context.Context, r Record) (Record, error) {
	if r.Log != "" {
		return r, nil
	}
	logCM, err := s.ConfigMaps.Get(ctx, names.RecordLogName(r.JobName), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return Record{}, apperr.Upstream(err, "reading the log of build %s", r.JobName)
	case logCM.Annotations[names.AnnotationUser] == r.User:
		r.Log = logCM.Data[logKey]
	}
	return r, nil
}

// Summary reads the record of the build whose Job is jobName without its
// log; ok is false when there is none.
func (s Records) Summary(ctx context.Context, jobName string) (Record, bool, error) {
	return s.summary(ctx, jobName, metav1.GetOptions{})
}

// summary is Summary, read with opts.
func (s Records) summary(ctx context.Context, jobName string, opts metav1.GetOptions) (Record, bool, error) {
	cm, err := s.ConfigMaps.Get(ctx, names.RecordName(jobName), opts)
	if apierrors.IsNotFound(err) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, apperr.Upstream(err, "reading the record of build %s", jobName)
	}
	r, ok := RecordOf(cm)
	return r, ok, nil
}

// List reads every record of user ("" for everyone's), page by page, at
// least as fresh as revision rv ("": a consistent read), without their
// logs (Get reads one's).
func (s Records) List(ctx context.Context, user, rv string) ([]Record, error) {
	var out []Record
	err := kube.ListPages(ctx, names.RecordSelector(user), rv, func(opts metav1.ListOptions) (string, error) {
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

// RecordJob stores the record of a finished Job, with the end of its log,
// unless it has one.
func RecordJob(ctx context.Context, pods kube.Pods, records Records, job *batchv1.Job) error {
	if _, ok, err := records.Get(ctx, job.Name); err != nil || ok {
		return err
	}
	_, err := RecordNew(ctx, pods, records, job)
	return err
}

// RecordNew stores the record of a finished Job known to have none, and
// returns it.
func RecordNew(ctx context.Context, pods kube.Pods, records Records, job *batchv1.Job) (Record, error) {
	pod, err := buildPod(ctx, pods, job)
	if err != nil {
		return Record{}, err
	}
	return recordWith(ctx, pods, records, job, pod)
}

// recordWith is RecordNew with job's newest pod already found (nil:
// none).
func recordWith(ctx context.Context, pods kube.Pods, records Records, job *batchv1.Job, pod *corev1.Pod) (Record, error) {
	r := Record{Build: FromJob(job)}
	noteNode(&r.Build, pod)
	text, digest, err := podLog(ctx, pods, job, pod)
	if err != nil {
		return Record{}, err
	}
	r.Log = text
	if r.Status == types.Succeeded {
		r.Digest = digest
	}
	return r, records.Save(ctx, r)
}
