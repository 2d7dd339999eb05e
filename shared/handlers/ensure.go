package handlers

import (
	"context"
	"net/http"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/pin"
	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/shared/web"
)

// Ensure answers with the image of a builder (or source and kind) and a
// file: at once when it exists, else after starting its build, once.
var Ensure = action.Action{Name: "ensure", Methods: web.Write(), Run: ensure}

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
	p, err := pin.Request(ctx, inv, req)
	if err != nil {
		return nil, err
	}
	id := buildspec.Identity(req.Kind, p.Base.Digest, req.File)[:20]
	req.Tag = req.Kind.Name + "-" + id
	plan := buildspec.NewPlan(req, inv.Caller.Name, id, p.Host, p.Base, cfg)
	if digest, ok, err := p.Image(ctx, inv, req.Target()); err != nil {
		return nil, err
	} else if ok {
		return types.Ensured{Status: types.Ready, Image: plan.PullImage, Digest: digest, SourceDigest: p.Base.Digest,
			Message: "the image exists: deploy with it"}, nil
	}
	// No image: a build of it is under way, has failed, or is to start.
	ns, err := namespace(inv)
	if err != nil {
		return nil, err
	}
	// Or the user has an image of the same content under another name,
	// which a send built: it becomes ensure's at once.
	images, err := p.Registry(inv)
	if err != nil {
		return nil, err
	}
	if from, digest, ok := ns.CopyMade(ctx, plan, images); ok {
		inv.Log.Printf("ensure: %s reused for %s the image of build %s", inv.Caller.Name, plan.Image, from.ID)
		return types.Ensured{Status: types.Ready, Image: plan.PullImage, Digest: digest, SourceDigest: p.Base.Digest,
			Message: "the image exists: build " + from.ID + " (" + from.Target + ") made it of the same content; deploy with it"}, nil
	}
	b, started, err := ns.Ensure(ctx, plan, builds.LimitsOf(cfg, inv.Caller.Admin), p.Cache, retry)
	if err != nil {
		return nil, err
	}
	if !started {
		return accepted(plan, b, "the build is under way: call ensure again, or follow it with logs"), nil
	}
	inv.Log.Printf("ensure: %s started build %s of %s", inv.Caller.Name, b.JobName, plan.Image)
	return accepted(plan, b, "the build started: call ensure again, or follow it with logs"), nil
}

// accepted is the 202 of a build under way.
func accepted(plan buildspec.Plan, b types.Build, msg string) action.Response {
	return action.Response{Status: http.StatusAccepted, Body: types.Ensured{
		Status: b.Status, Image: plan.PullImage, ID: plan.ID, JobName: plan.Name(),
		SourceDigest: plan.Base.Digest, Message: msg,
	}}
}
