package handlers

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type listedJobs []batchv1.Job

func (l listedJobs) List(context.Context, metav1.ListOptions) (*batchv1.JobList, error) {
	return &batchv1.JobList{Items: l}, nil
}
func (listedJobs) Delete(context.Context, string, metav1.DeleteOptions) error { return nil }
func (l listedJobs) Get(_ context.Context, name string, _ metav1.GetOptions) (*batchv1.Job, error) {
	for i := range l {
		if l[i].Name == name {
			return &l[i], nil
		}
	}
	return nil, apierrors.NewNotFound(batchv1.Resource("jobs"), name)
}

// lateJobs are Jobs of which the watch cache's list has only listed yet;
// late ones are stored all the same, and read by name.
type lateJobs struct {
	listedJobs
	late listedJobs
}

func (l lateJobs) Get(ctx context.Context, name string, opts metav1.GetOptions) (*batchv1.Job, error) {
	if j, err := l.late.Get(ctx, name, opts); err == nil {
		return j, nil
	}
	return l.listedJobs.Get(ctx, name, opts)
}

type listedCMs []corev1.ConfigMap

func (l listedCMs) ListMetadata(context.Context, metav1.ListOptions) (*metav1.PartialObjectMetadataList, error) {
	out := &metav1.PartialObjectMetadataList{}
	for _, cm := range l {
		out.Items = append(out.Items, metav1.PartialObjectMetadata{ObjectMeta: cm.ObjectMeta})
	}
	return out, nil
}

// contextOf is the build context of j, stored at resourceVersion rv.
func contextOf(j *batchv1.Job, rv string) corev1.ConfigMap {
	cm := corev1.ConfigMap{ObjectMeta: *j.ObjectMeta.DeepCopy()}
	cm.ResourceVersion = rv
	cm.OwnerReferences = []metav1.OwnerReference{{Kind: "Job", Name: j.Name}}
	return cm
}

// TestAdmittedKeepsTheFirstByCreationRevision: with a limit of 2, the two
// builds whose contexts were stored first are kept, whatever their names
// or creation seconds, and a finished build ahead does not count.
func TestAdmittedKeepsTheFirstByCreationRevision(t *testing.T) {
	sameSecond := metav1.Time{Time: time.Unix(1000, 0)}
	var jobs listedJobs
	var cms listedCMs
	for _, b := range []struct {
		id, rv string
		done   bool
	}{{"zz", "90", true}, {"cc", "100", false}, {"aa", "1000", false}, {"bb", "999", false}, {"dd", "", false}} {
		done := time.Time{}
		if b.done {
			done = time.Unix(2000, 0)
		}
		j := userJob("devel", b.id, done)
		j.CreationTimestamp = sameSecond
		jobs = append(jobs, *j)
		if b.rv != "" { // dd's context is not stored yet
			cms = append(cms, contextOf(j, b.rv))
		}
	}
	// Another user's build, ahead of all, never counts.
	o := userJob("other", "oo", time.Time{})
	jobs = append(jobs, *o)
	cms = append(cms, contextOf(o, "1"))

	want := map[string]bool{"cc": true, "bb": true, "aa": false}
	for id, ok := range want {
		got, active, err := admitted(context.Background(), jobs, cms, "devel", id, revisions{}, 2)
		require.NoError(t, err)
		assert.Equal(t, ok, got, id)
		assert.Len(t, active, 4, "the unfinished builds of devel")
	}
	_, _, err := admitted(context.Background(), jobs, cms, "devel", "dd", revisions{}, 2)
	assert.Error(t, err, "a build must find its own context")
}

// TestAdmittedReadsJobsTheListHasNotYet: two sends interleave, so a build
// ahead by its context has a Job stored after this build's, which a list
// as fresh as this build's Job may not have: it is read by name and
// counts; a build ahead whose Job is gone does not.
func TestAdmittedReadsJobsTheListHasNotYet(t *testing.T) {
	var listed, late listedJobs
	var cms listedCMs
	for _, b := range []struct {
		id, rv string
		late   bool
	}{{"cc", "100", false}, {"bb", "999", true}, {"aa", "1000", false}} {
		j := userJob("devel", b.id, time.Time{})
		if b.late {
			late = append(late, *j)
		} else {
			listed = append(listed, *j)
		}
		cms = append(cms, contextOf(j, b.rv))
	}
	gone := userJob("devel", "gone", time.Time{})
	cms = append(cms, contextOf(gone, "50"))

	ok, active, err := admitted(context.Background(), lateJobs{listed, late}, cms, "devel", "aa", revisions{job: "1", context: "1000"}, 2)
	require.NoError(t, err)
	assert.False(t, ok, "cc and bb are ahead of aa")
	assert.Len(t, active, 3)
	ok, _, err = admitted(context.Background(), lateJobs{listed, late}, cms, "devel", "aa", revisions{job: "1", context: "1000"}, 3)
	require.NoError(t, err)
	assert.True(t, ok, "the build whose Job is gone does not count")
}

func TestBeforeFallsBackToTimeAndName(t *testing.T) {
	at := func(sec int64, name, rv string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, ResourceVersion: rv, CreationTimestamp: metav1.Time{Time: time.Unix(sec, 0)}}
	}
	assert.True(t, before(at(5, "b", "9"), at(1, "a", "10")), "revisions win over times")
	assert.True(t, before(at(1, "b", "x"), at(2, "a", "y")), "uncomparable: time")
	assert.True(t, before(at(1, "a", ""), at(1, "b", "")), "then name")
	assert.False(t, before(at(1, "b", ""), at(1, "a", "")))
}
