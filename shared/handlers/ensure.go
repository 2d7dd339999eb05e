package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/web"
)

// Ensure answers with the image of a builder (or source and kind) and a
// file: at once when it exists, else after starting its build, once.
var Ensure = action.Action{Name: "ensure", Methods: web.Write(), Run: ensure}

// ensureFormat versions what the builder makes of the same inputs (the
// Dockerfile's shape): changing it gives every input a new image, built
// again. The kind's install step is hashed itself (Identity).
const ensureFormat = "openserverless-builder/ensure/1"

// Ensured is ensure's result.
type Ensured struct {
	// Status is "ready" when the image exists, else its build's status.
	Status       string `json:"status"`
	Image        string `json:"image"`
	Digest       string `json:"digest,omitempty"`
	ID           string `json:"id,omitempty"`
	JobName      string `json:"job_name,omitempty"`
	SourceDigest string `json:"source_digest"`
	Message      string `json:"message"`
}

// Identity is the hash that names what is built: the format, the kind and
// its install step (a mended step is a new image), the source's resolved
// digest (a patched base is a new image) and the file.
func Identity(k kinds.Kind, sourceDigest string, file []byte) string {
	h := sha256.New()
	run := k.Run()
	fmt.Fprintf(h, "%s\n%s\n%d\n%s\n%s\n%d\n", ensureFormat, k.Name, len(run), run, sourceDigest, len(file))
	h.Write(file)
	return hex.EncodeToString(h.Sum(nil))
}

// ensure: the target is <user>:<kind>-<first 20 hex of the identity>, and
// the build's id the same 20 hex digits, so its Job's name derives from
// what is built: concurrent calls create one Job, and the others find it.
func ensure(ctx context.Context, inv *action.Invocation) (any, error) {
	cfg := inv.Config
	req, err := buildspec.ParseEnsure(inv.Params, cfg)
	if err != nil {
		return nil, err
	}
	retry, err := inv.Params.Bool("retry", true)
	if err != nil {
		return nil, err
	}
	// The image is <user>:<kind>-<id>: its repository is known before
	// the source is, and pin checks it may be written.
	req.Repo = inv.Caller.Name
	p, err := pin(ctx, inv, req)
	if err != nil {
		return nil, err
	}
	k, ns := p.kube, cfg.BuildNamespace
	id := Identity(req.Kind, p.source.Digest, req.File)[:20]
	req.Tag = req.Kind.Name + "-" + id
	plan := buildspec.NewPlan(req, inv.Caller.Name, id, p.host, p.source, cfg)

	reg, err := registryClient(inv, p.host, clusterCredentials(cfg).With(p.secret, p.host), cfg.RegistryInsecure)
	if err != nil {
		return nil, err
	}
	if digest, ok, err := reg.Head(ctx, req.Target()); err != nil {
		return nil, err
	} else if ok {
		return Ensured{Status: "ready", Image: plan.PullImage, Digest: digest, SourceDigest: p.source.Digest,
			Message: "the image exists: deploy with it"}, nil
	}

	// No image: a build of it is under way, has failed, or is to start.
	jobs, pods := k.Batch.Jobs(ns), k.Core.Pods(ns)
	records := builds.RecordsIn(k, ns)
	name := plan.Name()
	var last *builds.Build
	job, err := builds.FindJob(ctx, jobs, name)
	switch {
	case err == nil && job.Annotations[names.AnnotationUser] != inv.Caller.Name:
		// Names keep users apart (names.JobName): never act on another's
		// build, whatever made its name meet this one.
		return nil, apperr.New(http.StatusConflict, "build %s belongs to another user", name)
	case err == nil:
		b := builds.FromJob(job)
		if !b.Done() {
			return accepted(plan, b, "the build is under way: call ensure again, or follow it with logs"), nil
		}
		last = &b
	case apperr.Status(err) == http.StatusNotFound:
		rec, ok, err := records.Get(ctx, name)
		if err != nil {
			return nil, err
		}
		if ok && rec.User != inv.Caller.Name {
			// Names keep users apart (names.JobName); a record of another
			// user by this name is never taken, deleted or reused.
			return nil, apperr.New(http.StatusConflict, "build %s belongs to another user", name)
		}
		if ok {
			last = &rec.Build
		}
	default:
		return nil, err
	}
	if last != nil {
		if last.Status != names.Succeeded && !retry {
			return nil, apperr.New(http.StatusConflict, "the build of this image %s (%s; logs job_name=%s): pass retry=true to build it again", last.Status, last.Reason, name)
		}
		// Failed, cancelled, or succeeded and its image deleted since:
		// the same name is built again, so its Job and record go first.
		if job != nil {
			if err := builds.Stop(ctx, jobs, pods, job); err != nil && !apierrors.IsNotFound(err) {
				return nil, err
			}
		}
		if err := builds.ReleaseContext(ctx, k.Core.ConfigMaps(ns), name); err != nil {
			return nil, err
		}
		if err := records.Delete(ctx, name); err != nil {
			return nil, err
		}
	}
	job, err = create(ctx, inv, p, plan)
	if errors.Is(err, errBuildExists) {
		// Another call created it a moment ago.
		if job, err = builds.FindJob(ctx, jobs, name); err != nil {
			return nil, err
		}
		return accepted(plan, builds.FromJob(job), "the build is under way: call ensure again, or follow it with logs"), nil
	}
	if err != nil {
		return nil, err
	}
	inv.Log.Printf("ensure: %s started build %s of %s", inv.Caller.Name, job.Name, plan.Image)
	return accepted(plan, builds.FromJob(job), "the build started: call ensure again, or follow it with logs"), nil
}

// accepted is the 202 of a build under way.
func accepted(plan buildspec.Plan, b builds.Build, msg string) action.Response {
	return action.Response{Status: http.StatusAccepted, Body: Ensured{
		Status: b.Status, Image: plan.PullImage, ID: plan.ID, JobName: plan.Name(),
		SourceDigest: plan.SourceDigest, Message: msg,
	}}
}
