package build

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/web"
)

// CancelAction stops a pending or running build.
var CancelAction = action.Action{Name: "cancel", Methods: web.Delete(), Run: cancel}

// stopWait bounds how long cancel waits for the build's pod to be gone.
const stopWait = 60 * time.Second

// Stopped is cancel's result.
type Stopped struct {
	ID      string `json:"id"`
	JobName string `json:"job_name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func cancel(ctx context.Context, inv *action.Invocation) (any, error) {
	name, id, err := BuildRef(inv.Params)
	if err != nil {
		return nil, err
	}
	if name == "" && id == "" {
		return nil, apperr.BadRequest("pass the build's id or job_name (send's result has both; the builds action lists them)")
	}
	k, err := inv.Kube()
	if err != nil {
		return nil, err
	}
	ns := inv.Config.KubeNamespace
	records := RecordsIn(k, ns)
	job, err := cancelTarget(ctx, k, records, ns, name, id, inv)
	if err != nil {
		return nil, err
	}
	if _, done := FinishedAt(job); done {
		return nil, apperr.New(409, "build %s has finished already (%s): there is nothing to cancel", job.Name, fromJob(job).Status)
	}
	// Keep what it logged so far: the pod and its log go with the Job.
	log, err := jobLog(ctx, k.Core.Pods(ns), job)
	if err != nil {
		inv.Log.Printf("cancel: reading the log of %s: %v", job.Name, err)
	}
	if err := stop(ctx, k, job); err != nil {
		return nil, err
	}
	r := Record{Build: fromJob(job), Log: log}
	r.Status, r.Reason = Cancelled, "cancelled by "+inv.Caller.Name
	r.finish(time.Now())
	if err := records.Save(ctx, r); err != nil {
		return nil, apperr.Wrap(apperr.Status(err), err, "build %s is stopped, but", job.Name)
	}
	inv.Log.Printf("cancel: %s cancelled build %s", inv.Caller.Name, job.Name)
	return Stopped{ID: r.ID, JobName: job.Name, Status: Cancelled,
		Message: fmt.Sprintf("build %s is cancelled: its pod is gone, and it pushes nothing", r.ID)}, nil
}

// cancelTarget finds the build to cancel and checks the caller may: 404
// for none, 403 for someone else's, 409 for one whose Job is gone (it
// finished, and was cleaned up).
func cancelTarget(ctx context.Context, k *kube.Clients, records Records, ns, name, id string, inv *action.Invocation) (*batchv1.Job, error) {
	if name == "" {
		name = JobName(inv.Caller.Name, id)
		if inv.Caller.Admin {
			// An admin names anyone's build by id.
			list, err := k.Batch.Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + ManagedBy + "," + LabelBuildID + "=" + id})
			if err != nil {
				return nil, apperr.Upstream(err, "finding build %s", id)
			}
			if len(list.Items) == 1 {
				name = list.Items[0].Name
			}
		}
	}
	job, err := findJob(ctx, k, ns, name)
	if apperr.Status(err) == 404 {
		rec, ok, rerr := records.Get(ctx, name)
		switch {
		case rerr != nil:
			return nil, rerr
		case !ok:
			return nil, err
		case !inv.Caller.Admin && rec.User != inv.Caller.Name:
			return nil, apperr.Forbidden("build %s is not yours", name)
		}
		return nil, apperr.New(409, "build %s has finished already (%s): there is nothing to cancel", name, rec.Status)
	}
	if err != nil {
		return nil, err
	}
	if !inv.Caller.Admin && job.Annotations[AnnotationUser] != inv.Caller.Name {
		return nil, apperr.Forbidden("build %s is not yours", job.Name)
	}
	return job, nil
}

// stop deletes job and its pods, and waits until the pods are gone: their
// containers have stopped, so nothing is pushed after cancel answers. The
// pods are deleted with a grace period of one second, not zero: zero would
// remove them from the API before the node has stopped them.
func stop(ctx context.Context, k *kube.Clients, job *batchv1.Job) error {
	if err := deleteJob(ctx, k.Batch.Jobs(job.Namespace), job); err != nil {
		return apperr.Upstream(err, "deleting the Job of build %s", job.Name)
	}
	pods := k.Core.Pods(job.Namespace)
	sel := metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job.Name}
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
	deadline := time.Now().Add(stopWait)
	for {
		list, err := pods.List(ctx, sel)
		if err != nil {
			return apperr.Upstream(err, "listing the pods of build %s", job.Name)
		}
		if len(list.Items) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return apperr.Upstream(nil, "build %s: its pod did not stop within %s; it is being deleted", job.Name, stopWait)
		}
		select {
		case <-ctx.Done():
			return apperr.Upstream(ctx.Err(), "waiting for build %s to stop", job.Name)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
