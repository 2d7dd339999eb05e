package builds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
)

// Cancel stops the pending or running build named name (or, when name is
// "", the caller's build id; an admin's id names anyone's) and records it
// cancelled by caller, with what it logged so far: 404 for no such
// build, 403 for someone else's, 409 for one that has finished. stopped
// is false when its Job is deleted and the build recorded, but its pod
// had not gone when Stop stopped waiting: its node does not answer (#35, case 5),
// and the record must not be lost with the Job for that.
func (n Namespace) Cancel(ctx context.Context, caller identity.Caller, name, id string) (r Record, stopped bool, err error) {
	job, err := n.cancelTarget(ctx, caller, name, id)
	if err != nil {
		return Record{}, false, err
	}
	if _, done := FinishedAt(job); done {
		return Record{}, false, apperr.New(http.StatusConflict, "build %s has finished already (%s): there is nothing to cancel", job.Name, FromJob(job).Status)
	}
	// Keep what it logged so far: the pod and its log go with the Job.
	log, _, err := JobLog(ctx, n.Pods, job)
	if err != nil {
		n.Log.Printf("reading the log of %s: %v", job.Name, err)
	}
	err = Stop(ctx, n.Jobs, n.Pods, job)
	var lingers *podLingers
	if err != nil && !errors.As(err, &lingers) {
		return Record{}, false, err
	}
	stopped = err == nil
	r = Record{Build: FromJob(job), Log: log}
	r.Status, r.Reason = types.Cancelled, "cancelled by "+caller.Name
	if !stopped {
		r.Reason += fmt.Sprintf("; its pod had not stopped when cancel ended: its node %s does not answer", lingers.node)
	}
	r.Finish(time.Now())
	if err := n.Records().Save(ctx, r); err != nil {
		return Record{}, false, apperr.Wrap(apperr.Status(err), err, "build %s is stopped, but", job.Name)
	}
	return r, stopped, nil
}

// cancelTarget finds the build to cancel and checks the caller may: 404
// for none, 403 for someone else's, 409 for one whose Job is gone (it
// finished, and was cleaned up).
func (n Namespace) cancelTarget(ctx context.Context, caller identity.Caller, name, id string) (*batchv1.Job, error) {
	if name == "" {
		name = names.JobName(caller.Name, id)
		if caller.Admin {
			// An admin names anyone's build by id.
			list, err := n.Jobs.List(ctx, metav1.ListOptions{LabelSelector: names.BuildSelector(id)})
			if err != nil {
				return nil, apperr.Upstream(err, "finding build %s", id)
			}
			if len(list.Items) == 1 {
				name = list.Items[0].Name
			}
		}
	}
	job, err := FindJob(ctx, n.Jobs, name)
	if apperr.Status(err) == http.StatusNotFound {
		rec, ok, rerr := n.Records().Summary(ctx, name) // its log is not needed
		switch {
		case rerr != nil:
			return nil, rerr
		case !ok:
			return nil, err
		case !caller.Admin && rec.User != caller.Name:
			return nil, apperr.Forbidden("build %s is not yours", name)
		}
		return nil, apperr.New(http.StatusConflict, "build %s has finished already (%s): there is nothing to cancel", name, rec.Status)
	}
	if err != nil {
		return nil, err
	}
	if !caller.Admin && job.Annotations[names.AnnotationUser] != caller.Name {
		return nil, apperr.Forbidden("build %s is not yours", job.Name)
	}
	return job, nil
}
