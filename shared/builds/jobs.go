package builds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/names"
)

// UserJobs lists the builder's Jobs of user ("" for everyone's), every
// page, at least as fresh as revision rv ("": a consistent read; see
// kube.ListPages). The label selects them; the annotation, checked again
// here, holds the full name.
func UserJobs(ctx context.Context, jobs kube.Jobs, user, rv string) ([]batchv1.Job, error) {
	var out []batchv1.Job
	err := kube.ListPages(ctx, names.UserSelector(user), rv, func(opts metav1.ListOptions) (string, error) {
		list, err := jobs.List(ctx, opts)
		if err != nil {
			return "", err
		}
		for _, j := range list.Items {
			if user == "" || j.Annotations[names.AnnotationUser] == user {
				out = append(out, j)
			}
		}
		return list.Continue, nil
	})
	if err != nil {
		return nil, apperr.Upstream(err, "listing the builds of %s", user)
	}
	return out, nil
}

// FindJob reads the builder's Job name: 404 when there is none.
func FindJob(ctx context.Context, jobs kube.Jobs, name string) (*batchv1.Job, error) {
	job, err := jobs.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || err == nil && job.Labels[names.LabelManagedBy] != names.ManagedBy {
		return nil, apperr.NotFound("no build named %s: it may have been cleaned up", apperr.Quote(name))
	}
	if err != nil {
		return nil, apperr.Upstream(err, "reading build %s", name)
	}
	return job, nil
}

// DeleteJob deletes job with its pods and context (propagation Background),
// only if it is still the Job that was read (its UID). It runs to the end
// even when ctx is cancelled: a half-done deletion helps nobody.
func DeleteJob(ctx context.Context, jobs kube.Jobs, job *batchv1.Job) error {
	bg := metav1.DeletePropagationBackground
	return jobs.Delete(context.WithoutCancel(ctx), job.Name, metav1.DeleteOptions{
		PropagationPolicy: &bg,
		Preconditions:     &metav1.Preconditions{UID: &job.UID},
	})
}

// contextWait bounds how long ReleaseContext waits for the garbage
// collector.
const contextWait = 30 * time.Second

// ReleaseContext returns once the build context named jobName is gone, so
// that a build of the same name (ensure's) can make its own. A context its
// Job owns goes with the Job, by the garbage collector, and the builder may
// not delete it itself (deploy/admission.yaml: no context is deleted and
// made again while its build waits); one without an owner (an older
// builder's) is deleted here.
func ReleaseContext(ctx context.Context, cms kube.ConfigMaps, jobName string) error {
	err := poll(ctx, contextWait, func(ctx context.Context) (bool, error) {
		cm, err := cms.Get(ctx, jobName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, apperr.Upstream(err, "reading the build context of %s", jobName)
		}
		if OwnedByJob(cm.ObjectMeta) {
			return false, nil // the garbage collector's
		}
		err = cms.Delete(ctx, jobName, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cm.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			return false, apperr.Upstream(err, "deleting the build context of %s", jobName)
		}
		return true, nil
	})
	switch {
	case errors.Is(err, errTimedOut):
		return apperr.Upstream(nil, "the build context of %s was not removed with its Job within %s; call again shortly", jobName, contextWait)
	case err != nil && ctx.Err() != nil:
		return apperr.UpstreamSaid(ctx.Err(), "waiting for the build context of %s to go: the request ended first", jobName)
	}
	return err
}

// errTimedOut is poll's answer past its limit.
var errTimedOut = errors.New("timed out")

// poll calls done every 200 ms, the first time at once, until it reports
// true or an error, for at most limit: errTimedOut past it, ctx's error
// when ctx ends first.
func poll(ctx context.Context, limit time.Duration, done wait.ConditionWithContextFunc) error {
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, limit, true, done)
	if err != nil && ctx.Err() == nil && (wait.Interrupted(err) || errors.Is(err, context.DeadlineExceeded)) {
		return errTimedOut
	}
	return err
}

// OwnedByJob reports whether a Job owns the object: the garbage collector
// removes it after the Job.
func OwnedByJob(meta metav1.ObjectMeta) bool {
	for _, r := range meta.OwnerReferences {
		if r.Kind == "Job" {
			return true
		}
	}
	return false
}

// podLingers is the cause of Stop's error when the Job is deleted but its
// pod has not gone within the wait: most often its node does not answer,
// and only the node (back, or removed) ends the pod.
type podLingers struct{ node string }

func (e *podLingers) Error() string { return "the pod lingers on node " + e.node }

// stopWait bounds how long Stop waits for the build's pod to be gone;
// stopMargin is what it leaves of its caller's deadline, to record the
// build after.
const (
	stopWait   = 60 * time.Second
	stopMargin = 5 * time.Second
)

// Stop deletes job and its pods, and waits until the pods are gone: their
// containers have stopped, so nothing is pushed after it returns. The pods
// are deleted with a grace period of one second, not zero: zero would
// remove them from the API before the node has stopped them.
func Stop(ctx context.Context, jobs kube.Jobs, pods kube.Pods, job *batchv1.Job) error {
	if err := DeleteJob(ctx, jobs, job); err != nil {
		return apperr.Upstream(err, "deleting the Job of build %s", job.Name)
	}
	sel := metav1.ListOptions{LabelSelector: names.PodSelector(job.Name)}
	list, err := pods.List(ctx, sel)
	if err != nil {
		return apperr.Upstream(err, "listing the pods of build %s", job.Name)
	}
	grace := int64(1)
	for _, p := range list.Items {
		// A failure here is not the end: the Job's deletion takes its pods
		// too, and the wait below sees them go either way.
		_ = pods.Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
	}
	// The wait ends early enough for the caller to record the build: a
	// pod on a lost node never goes, and the request's deadline must not
	// take the record with it.
	limit := stopWait
	if dl, ok := ctx.Deadline(); ok {
		limit = max(min(limit, time.Until(dl)-stopMargin), time.Second)
	}
	err = poll(ctx, limit, func(ctx context.Context) (bool, error) {
		list, err := pods.List(ctx, sel)
		if err != nil {
			return false, apperr.Upstream(err, "listing the pods of build %s", job.Name)
		}
		return len(list.Items) == 0, nil
	})
	switch {
	case errors.Is(err, errTimedOut):
		lingers := &podLingers{}
		if len(list.Items) > 0 {
			lingers.node = list.Items[0].Spec.NodeName
		}
		return &apperr.Error{Status: http.StatusBadGateway, Err: lingers,
			Msg: fmt.Sprintf("build %s: its pod did not stop within %s (its node may not answer); it is being deleted", job.Name, limit.Round(time.Second))}
	case err != nil && ctx.Err() != nil:
		return apperr.UpstreamSaid(ctx.Err(), "waiting for build %s to stop: the request ended first", job.Name)
	}
	return err
}
