package handlers

import (
	"context"
	"fmt"
	"net/http"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/web"
)

// Cancel stops a pending or running build.
var Cancel = action.Action{Name: "cancel", Methods: web.Delete(), Run: cancel}

// Stopped is cancel's result.
type Stopped struct {
	ID      string `json:"id"`
	JobName string `json:"job_name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func cancel(ctx context.Context, inv *action.Invocation) (any, error) {
	name, id, err := buildspec.ParseBuildRef(inv.Params)
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
	ns := inv.Config.BuildNamespace
	jobs, pods := k.Batch.Jobs(ns), k.Core.Pods(ns)
	records := builds.RecordsIn(k, ns)
	job, err := cancelTarget(ctx, jobs, records, name, id, inv)
	if err != nil {
		return nil, err
	}
	if _, done := builds.FinishedAt(job); done {
		return nil, apperr.New(http.StatusConflict, "build %s has finished already (%s): there is nothing to cancel", job.Name, builds.FromJob(job).Status)
	}
	// Keep what it logged so far: the pod and its log go with the Job.
	log, _, err := builds.JobLog(ctx, pods, job)
	if err != nil {
		inv.Log.Printf("cancel: reading the log of %s: %v", job.Name, err)
	}
	if err := builds.Stop(ctx, jobs, pods, job); err != nil {
		return nil, err
	}
	r := builds.Record{Build: builds.FromJob(job), Log: log}
	r.Status, r.Reason = names.Cancelled, "cancelled by "+inv.Caller.Name
	r.Finish(time.Now())
	if err := records.Save(ctx, r); err != nil {
		return nil, apperr.Wrap(apperr.Status(err), err, "build %s is stopped, but", job.Name)
	}
	inv.Log.Printf("cancel: %s cancelled build %s", inv.Caller.Name, job.Name)
	return Stopped{ID: r.ID, JobName: job.Name, Status: names.Cancelled,
		Message: fmt.Sprintf("build %s is cancelled: its pod is gone, and it pushes nothing", r.ID)}, nil
}

// cancelTarget finds the build to cancel and checks the caller may: 404
// for none, 403 for someone else's, 409 for one whose Job is gone (it
// finished, and was cleaned up).
func cancelTarget(ctx context.Context, jobs kube.Jobs, records builds.Records, name, id string, inv *action.Invocation) (*batchv1.Job, error) {
	if name == "" {
		name = names.JobName(inv.Caller.Name, id)
		if inv.Caller.Admin {
			// An admin names anyone's build by id.
			list, err := jobs.List(ctx, metav1.ListOptions{LabelSelector: names.BuildSelector(id)})
			if err != nil {
				return nil, apperr.Upstream(err, "finding build %s", id)
			}
			if len(list.Items) == 1 {
				name = list.Items[0].Name
			}
		}
	}
	job, err := builds.FindJob(ctx, jobs, name)
	if apperr.Status(err) == http.StatusNotFound {
		rec, ok, rerr := records.Get(ctx, name)
		switch {
		case rerr != nil:
			return nil, rerr
		case !ok:
			return nil, err
		case !inv.Caller.Admin && rec.User != inv.Caller.Name:
			return nil, apperr.Forbidden("build %s is not yours", name)
		}
		return nil, apperr.New(http.StatusConflict, "build %s has finished already (%s): there is nothing to cancel", name, rec.Status)
	}
	if err != nil {
		return nil, err
	}
	if !inv.Caller.Admin && job.Annotations[names.AnnotationUser] != inv.Caller.Name {
		return nil, apperr.Forbidden("build %s is not yours", job.Name)
	}
	return job, nil
}
