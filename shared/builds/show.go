package builds

import (
	"context"
	"net/http"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
)

// Show is the logs action's answer: the status and log of the build named
// name (the caller's latest when name is ""), its last tail lines when
// tail > 0; from its record once its Job is gone. A build seen finished
// gets its record now. 404 for none, 403 for someone else's.
func (n Namespace) Show(ctx context.Context, caller identity.Caller, name string, tail int) (*types.Status, error) {
	records := n.Records()
	var job *batchv1.Job
	var rec Record
	var err error
	if name == "" {
		job, rec, err = n.latest(ctx, n.Index(caller.Name))
	} else if job, err = FindJob(ctx, n.Jobs, name); apperr.Status(err) == http.StatusNotFound {
		// The Job is gone: its record answers.
		var recorded bool
		if rec, recorded, err = records.Get(ctx, name); err == nil && !recorded {
			err = apperr.NotFound("no build named %s: it may have been cleaned up, and its record has expired", apperr.Quote(name))
		}
	}
	if err != nil {
		return nil, err
	}
	owner := rec.User
	if job != nil {
		owner = job.Annotations[names.AnnotationUser]
	}
	if !caller.Admin && owner != caller.Name {
		return nil, apperr.Forbidden("build %s is not yours", apperr.Quote(name))
	}
	if job == nil {
		return &types.Status{Build: rec.Build, Logs: LastLines(rec.Log, tail),
			Message: "from the build's record: its Job has been cleaned up; the log is its last 64 KiB"}, nil
	}
	s, err := Describe(ctx, n.Pods, job, int64(tail))
	if err != nil {
		return nil, err
	}
	if s.Done() {
		// Seen finished: keep its record. Without a tail, Describe read
		// the whole log, whose end the record keeps: no second read. (Save
		// keeps a record that exists.)
		if tail == 0 {
			err = records.Save(ctx, Record{Build: s.Build, Log: s.Logs})
		} else {
			err = RecordJob(ctx, n.Pods, records, job)
		}
		if err != nil {
			n.Log.Printf("%v", err)
		}
	}
	return s, nil
}

// latest finds the newest build of the index's user: a live Job, or else
// the record, with its log, of one whose Job is gone (job is nil then).
func (n Namespace) latest(ctx context.Context, index Index) (*batchv1.Job, Record, error) {
	h, err := index.Load(ctx)
	if err != nil {
		return nil, Record{}, err
	}
	job, rec, ok := h.Latest()
	if !ok {
		return nil, Record{}, apperr.NotFound("you have no builds: start one with the send action")
	}
	if job != nil {
		return job, Record{}, nil
	}
	// The history holds records without their logs.
	rec, err = index.Records.WithLog(ctx, rec)
	return nil, rec, err
}
