package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/pin"
	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/shared/web"
)

// Ensure answers with the image of a builder (or source and kind) and a
// file: at once when it exists, else after starting its build, once.
var Ensure = action.Action{Name: "ensure", Methods: web.Write(), Run: ensure}

// ensureFormat versions what the builder makes of the same inputs (the
// Dockerfile's shape): changing it gives every input a new image, built
// again. The kind's install step is hashed itself (Identity).
const ensureFormat = "openserverless-builder/ensure/1"

// Identity is the hash that names what is built: the format, the kind and
// its install step with the programs it runs (a mended step is a new
// image), the source's resolved digest (a patched base is a new image)
// and the file.
func Identity(k kinds.Kind, sourceDigest string, file []byte) string {
	h := sha256.New()
	run := k.Run()
	fmt.Fprintf(h, "%s\n%s\n%d\n%s\n", ensureFormat, k.Name, len(run), run)
	// The programs the step runs are part of it.
	programs := k.StepFiles()
	for _, name := range k.StepNames() {
		fmt.Fprintf(h, "%s\n%d\n%s", name, len(programs[name]), programs[name])
	}
	fmt.Fprintf(h, "%s\n%d\n", sourceDigest, len(file))
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
	p, err := pin.Request(ctx, inv, req)
	if err != nil {
		return nil, err
	}
	id := Identity(req.Kind, p.Base.Digest, req.File)[:20]
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
