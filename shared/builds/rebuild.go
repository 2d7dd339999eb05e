package builds

import (
	"context"
	"errors"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
)

// Ensure starts the build of plan unless one is under way, as ensure
// asks once it has found no image: the plan's name is derived from what
// is built, so concurrent calls create one Job and the others find it.
// A build of that name that failed, was cancelled, or succeeded and lost
// its image since is built again (its Job, context and record go first),
// unless retry is false and it did not succeed (409). started says
// whether this call started it. Another user's build by that name is
// never touched (409).
func (n Namespace) Ensure(ctx context.Context, plan buildspec.Plan, limits Limits, cache func() (string, error), retry bool) (b types.Build, started bool, err error) {
	name, user := plan.Name(), plan.User
	var last *types.Build
	job, err := FindJob(ctx, n.Jobs, name)
	switch {
	case err == nil && job.Annotations[names.AnnotationUser] != user:
		// Names keep users apart (names.JobName): never act on another's
		// build, whatever made its name meet this one.
		return types.Build{}, false, apperr.New(http.StatusConflict, "build %s belongs to another user", name)
	case err == nil:
		b := FromJob(job)
		if !b.Done() {
			return b, false, nil
		}
		last = &b
	case apperr.Status(err) == http.StatusNotFound:
		rec, ok, err := n.Records().Summary(ctx, name) // its log is not needed
		if err != nil {
			return types.Build{}, false, err
		}
		if ok && rec.User != user {
			// A record of another user by this name is never taken,
			// deleted or reused.
			return types.Build{}, false, apperr.New(http.StatusConflict, "build %s belongs to another user", name)
		}
		if ok {
			last = &rec.Build
		}
	default:
		return types.Build{}, false, err
	}
	if last != nil {
		if last.Status != types.Succeeded && !retry {
			return types.Build{}, false, apperr.New(http.StatusConflict, "the build of this image %s (%s; logs job_name=%s): pass retry=true to build it again", last.Status, last.Reason, name)
		}
		// The same name is built again: its Job and record go first.
		if job != nil {
			if err := Stop(ctx, n.Jobs, n.Pods, job); err != nil && !apierrors.IsNotFound(err) {
				return types.Build{}, false, err
			}
		}
		if err := ReleaseContext(ctx, n.ConfigMaps, name); err != nil {
			return types.Build{}, false, err
		}
		if err := n.Records().Delete(ctx, name); err != nil {
			return types.Build{}, false, err
		}
	}
	b, err = n.Start(ctx, plan, limits, cache)
	if errors.Is(err, ErrExists) {
		// Another call created it a moment ago.
		if job, err = FindJob(ctx, n.Jobs, name); err != nil {
			return types.Build{}, false, err
		}
		return FromJob(job), false, nil
	}
	if err != nil {
		return types.Build{}, false, err
	}
	return b, true, nil
}
