package handlers

import (
	"context"
	"net/http"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/web"
)

// Logs reports a build's status and log: the caller's latest by default.
var Logs = action.Action{Name: "logs", Methods: web.Read(), Run: logs}

func logs(ctx context.Context, inv *action.Invocation) (any, error) {
	name, id, err := buildspec.ParseBuildRef(inv.Params)
	if err != nil {
		return nil, err
	}
	if name == "" && id != "" {
		// `builder logs ID`: one of the caller's builds by its id.
		name = names.JobName(inv.Caller.Name, id)
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
	ns := inv.Config.BuildNamespace
	jobs, pods := k.Batch.Jobs(ns), k.Core.Pods(ns)
	records := builds.RecordsIn(k, ns)
	var job *batchv1.Job
	var rec builds.Record
	if name == "" {
		job, rec, err = latest(ctx, builds.IndexOf(k, ns, inv.Caller.Name))
	} else if job, err = builds.FindJob(ctx, jobs, name); apperr.Status(err) == http.StatusNotFound {
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
	if !inv.Caller.Admin && owner != inv.Caller.Name {
		return nil, apperr.Forbidden("build %s is not yours", apperr.Quote(name))
	}
	if job == nil {
		return &builds.Status{Build: rec.Build, Logs: builds.LastLines(rec.Log, int(tail)),
			Message: "from the build's record: its Job has been cleaned up; the log is its last 64 KiB"}, nil
	}
	s, err := builds.Describe(ctx, pods, job, int64(tail))
	if err != nil {
		return nil, err
	}
	if s.Done() {
		// Seen finished: keep its record. Without a tail, Describe read
		// the whole log, whose end the record keeps: no second read. (Save
		// keeps a record that exists.)
		if tail == 0 {
			err = records.Save(ctx, builds.Record{Build: s.Build, Log: s.Logs})
		} else {
			err = builds.RecordJob(ctx, pods, records, job)
		}
		if err != nil {
			inv.Log.Printf("logs: %v", err)
		}
	}
	return s, nil
}

// latest finds the newest build of the index's user: a live Job, or else
// the record, with its log, of one whose Job is gone (job is nil then).
func latest(ctx context.Context, index builds.Index) (*batchv1.Job, builds.Record, error) {
	h, err := index.Load(ctx)
	if err != nil {
		return nil, builds.Record{}, err
	}
	job, rec, ok := h.Latest()
	if !ok {
		return nil, builds.Record{}, apperr.NotFound("you have no builds: start one with the send action")
	}
	if job != nil {
		return job, builds.Record{}, nil
	}
	// The history holds records without their logs.
	rec, err = index.Records.WithLog(ctx, rec)
	return nil, rec, err
}
