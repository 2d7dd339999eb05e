package builds

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
)

// Images is what Reuse asks of the cluster registry (registry.Client).
type Images interface {
	// Label reads label key of image's (linux/amd64) config; ok is false
	// when there is no image.
	Label(ctx context.Context, image, key string) (digest, value string, ok bool, err error)
	// Copy makes dst name what src names, mounting its blobs.
	Copy(ctx context.Context, src, dst string) error
}

// ReuseTimeout bounds the registry calls of a reuse, the copy included:
// past it, the build runs.
const ReuseTimeout = 10 * time.Second

// reuseLookups bounds the images reuse reads: the target and the latest
// builds of the same content into other targets.
const reuseLookups = 4

// reuse answers plan with an image of what it makes, when the user has
// one, instead of a build: the target's own image if a build made it of
// the same content (its identity label, buildspec.Identity), else the
// image of the user's latest succeeded build of the same content (in h)
// that still is what that build made, copied to the target (its blobs
// mounted, none uploaded). It records the answer as a build that reused
// the image, with no Job, entered in index: logs and builds show it
// succeeded, and from which build. ok is false when there is nothing to
// reuse, or the registry cannot say: then the build runs, as it would
// have.
func (n Namespace) reuse(ctx context.Context, plan buildspec.Plan, images Images, index Index, h History, pruned []string, now time.Time) (b types.Build, ok bool, err error) {
	// A registry that stops answering costs the build ReuseTimeout, not
	// the request's time.
	lookup, cancel := context.WithTimeout(ctx, ReuseTimeout)
	defer cancel()
	from, digest, found := n.made(lookup, plan, images, h, true)
	if !found {
		return types.Build{}, false, nil
	}
	target := plan.Target()
	name := plan.Name()
	if err := index.Add(ctx, h, Entry{Job: name, Created: now.UTC()}, pruned, func(History) error { return nil }); err != nil {
		return types.Build{}, false, err
	}
	b = types.Build{
		ID: plan.ID, JobName: name, User: plan.User, Target: target, Image: plan.PullImage,
		Source: plan.Source, SourceDigest: plan.Base.Digest, Kind: plan.Kind.Name,
		Status: types.Succeeded, Created: now.UTC(), Digest: digest, Identity: plan.Identity, ReusedFrom: from.ID,
		Note: reusedNote(from),
	}
	b.Started = &b.Created
	b.Finish(now)
	rec := Record{Build: b, Log: fmt.Sprintf("builder: %s\nbuilder: the image is of source %s (%s), kind %s; its digest is %s\n",
		b.Note, b.Source, b.SourceDigest, b.Kind, digest)}
	if err := n.Records().Save(ctx, rec); err != nil {
		if err := index.Remove(ctx, name); err != nil {
			n.Log.Printf("removing build %s from the index: %v", name, err)
		}
		return types.Build{}, false, err
	}
	return b, true, nil
}

// CopyMade makes plan's target name an image of what plan makes that the
// user's history has (see reuse), as ensure asks once its own image is
// not there: from is the build that made it, digest the image's. It
// records nothing: the image is ensure's answer. ok is false when there
// is none, or the API server or the registry cannot say.
func (n Namespace) CopyMade(ctx context.Context, plan buildspec.Plan, images Images) (from types.Build, digest string, ok bool) {
	// ensure's own build, under way or ended, is ensure's business: it is
	// looked for only until there is one, so that polling costs nothing
	// more.
	if _, err := n.Jobs.Get(ctx, plan.Name(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return types.Build{}, "", false
	}
	h, err := n.Index(plan.User).Load(ctx)
	if err != nil {
		n.Log.Printf("reading the build index of %s: %v", plan.User, err)
		return types.Build{}, "", false
	}
	lookup, cancel := context.WithTimeout(ctx, ReuseTimeout)
	defer cancel()
	// ensure found no image at its target just before.
	return n.made(lookup, plan, images, h, false)
}

// made finds an image of what plan makes (findMade) and, when it is
// another target's, copies it to plan's target.
func (n Namespace) made(ctx context.Context, plan buildspec.Plan, images Images, h History, target bool) (from types.Build, digest string, ok bool) {
	from, digest, ok = n.findMade(ctx, plan, images, h, target)
	if !ok {
		return types.Build{}, "", false
	}
	if target := plan.Target(); from.Target != target {
		src := from.Target[:strings.LastIndex(from.Target, ":")] + "@" + digest
		if err := images.Copy(ctx, src, target); err != nil {
			n.Log.Printf("reusing the image of build %s for %s: %v; building it instead", from.ID, target, err)
			return types.Build{}, "", false
		}
	}
	return from, digest, true
}

// reusedNote says where a reused image came from.
func reusedNote(from types.Build) string {
	what := "the image of build " + from.ID + " (" + from.Target + ")"
	if from.ID == "" {
		what = "the image already at " + from.Target
	}
	return fmt.Sprintf("nothing was built: %s is of the same source digest, kind, install step and file; send with rebuild=true to build again", what)
}

// findMade finds an image of what plan makes among the target (when
// target) and the targets of h's succeeded builds of the same identity,
// newest first:
// the build that made it ("" ID for a target image no build of h names)
// and its digest. A lookup that fails is logged, and the next tried.
func (n Namespace) findMade(ctx context.Context, plan buildspec.Plan, images Images, h History, target bool) (from types.Build, digest string, ok bool) {
	var made []types.Build
	for i := range h.Jobs {
		if b := FromJob(&h.Jobs[i]); b.Status == types.Succeeded && b.Identity == plan.Identity {
			made = append(made, b)
		}
	}
	for _, r := range h.Records {
		if r.Status == types.Succeeded && r.Identity == plan.Identity {
			made = append(made, r.Build)
		}
	}
	for i := range made {
		// A reuse names the build that made the image, as it does.
		if made[i].ReusedFrom != "" {
			made[i].ID = made[i].ReusedFrom
		}
	}
	slices.SortFunc(made, func(a, b types.Build) int { return b.Created.Compare(a.Created) })
	own := plan.Target()
	candidates := []types.Build{{Target: own}}
	for _, b := range made {
		if b.Target == own {
			candidates[0] = b
			break
		}
	}
	for _, b := range made {
		if len(candidates) == reuseLookups {
			break
		}
		if !slices.ContainsFunc(candidates, func(c types.Build) bool { return c.Target == b.Target }) {
			candidates = append(candidates, b)
		}
	}
	if !target {
		candidates = candidates[1:]
	}
	for _, c := range candidates {
		digest, identity, found, err := images.Label(ctx, c.Target, names.LabelIdentity)
		if err != nil {
			n.Log.Printf("looking for an image of %s at %s: %v", plan.Identity, c.Target, err)
			continue
		}
		if found && identity == plan.Identity {
			return c, digest, true
		}
	}
	return types.Build{}, "", false
}
