package handlers

import (
	"context"
	"fmt"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/pin"
	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/shared/web"
)

// Send starts a build.
var Send = action.Action{Name: "send", Methods: web.Write(), Run: send}

// send goes through a build once, in order: parse the request (the source
// once) → pin it (the registry host, the source) → make the plan → reuse
// an image of the same content the user has unless rebuild, else start
// it (builds.Namespace.StartOrReuse). Nothing is created before the
// quota.
func send(ctx context.Context, inv *action.Invocation) (any, error) {
	cfg := inv.Config
	req, err := buildspec.ParseRequest(inv.Params, inv.Caller, cfg)
	if err != nil {
		return nil, err
	}
	rebuild, err := inv.Params.Bool("rebuild", false)
	if err != nil {
		return nil, err
	}
	p, err := pin.Request(ctx, inv, req)
	if err != nil {
		return nil, err
	}
	id, err := names.NewID()
	if err != nil {
		return nil, fmt.Errorf("making a build id: %w", err)
	}
	plan := buildspec.NewPlan(req, inv.Caller.Name, id, p.Host, p.Base, cfg)
	ns, err := namespace(inv)
	if err != nil {
		return nil, err
	}
	// Unless asked to rebuild, an image of the same content the user has
	// answers at once.
	var images builds.Images
	if !rebuild {
		if images, err = p.Registry(inv); err != nil {
			return nil, err
		}
	}
	b, reused, err := ns.StartOrReuse(ctx, plan, builds.LimitsOf(cfg, inv.Caller.Admin), p.Cache, images)
	if err != nil {
		return nil, err
	}
	if reused {
		inv.Log.Printf("send: %s reused for %s the image of build %q", inv.Caller.Name, plan.Image, b.ReusedFrom)
		return types.Sent{
			ID: id, JobName: b.JobName, Image: plan.PullImage, SourceDigest: plan.Base.Digest,
			ReusedFrom: b.ReusedFrom, Status: b.Status, Digest: b.Digest,
			Message: "build " + id + " succeeded at once: " + b.Note,
		}, nil
	}
	inv.Log.Printf("send: %s started build %s of %s from %s", inv.Caller.Name, b.JobName, plan.Image, req.Source)
	return types.Sent{
		ID:           id,
		JobName:      b.JobName,
		Image:        plan.PullImage,
		SourceDigest: plan.Base.Digest,
		Message:      fmt.Sprintf("build %s started: follow it with the logs action (job_name=%s)", id, b.JobName),
	}, nil
}

// namespace is the build namespace of inv's configuration, logging to
// its log.
func namespace(inv *action.Invocation) (builds.Namespace, error) {
	k, err := inv.Kube()
	if err != nil {
		return builds.Namespace{}, err
	}
	return builds.In(k, inv.Config, inv.Log), nil
}
