package builds

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/types"
)

// RetryAfter is what a 429 asks the caller to wait before sending again.
const RetryAfter = 30 * time.Second

// ErrExists is Start's answer when the build's Job exists already:
// ensure's concurrent calls for the same inputs meet there.
var ErrExists = errors.New("the build exists already")

// Start starts the build of plan, in order: it measures the context,
// prunes the user's history, enters the build in the user's index if
// the limit admits it (the decision: see admit), waits for cache (the
// digest of the user's cache, "" for none), creates the Job suspended
// and then its context and its build secrets (owned by the Job), and only
// then resumes it.
// Nothing is left half-created, and a refused build creates nothing.
func (n Namespace) Start(ctx context.Context, plan buildspec.Plan, limits Limits, cache func() (string, error)) (types.Build, error) {
	b, _, err := n.StartOrReuse(ctx, plan, limits, cache, nil)
	return b, err
}

// StartOrReuse is Start, but first, when images is not nil, it reuses an
// image of what plan makes that the user has (Reuse): then reused is
// true, and nothing is started.
func (n Namespace) StartOrReuse(ctx context.Context, plan buildspec.Plan, limits Limits, cache func() (string, error), images Images) (b types.Build, reused bool, err error) {
	// The Dockerfile names the digest and the user: the whole context is
	// measured now, and the context before the pin was measured at parse.
	files, err := plan.CheckSize(limits.ContextBytes)
	if err != nil {
		return types.Build{}, false, err
	}
	index := n.Index(plan.User)
	now := time.Now()
	h, pruned, err := n.beforeStart(ctx, index, limits.Retained, now)
	if err != nil {
		return types.Build{}, false, err
	}
	if images != nil {
		if b, reused, err = n.reuse(ctx, plan, images, index, h, pruned, now); err != nil || reused {
			return b, reused, err
		}
	}
	b, err = n.start(ctx, plan, limits, cache, files, index, h, pruned, now)
	return b, false, err
}

// start is StartOrReuse's build: it enters it in the index, then creates
// its objects and resumes it.
func (n Namespace) start(ctx context.Context, plan buildspec.Plan, limits Limits, cache func() (string, error), files map[string]string, index Index, h History, pruned []string, now time.Time) (types.Build, error) {
	name := plan.Name()
	entry := Entry{Job: name, Created: now.UTC()}
	if err := index.Add(ctx, h, entry, pruned, func(h History) error { return admit(h, name, limits.Active, now) }); err != nil {
		return types.Build{}, err
	}
	// From here a failure takes the entry back, and the Job if it came:
	// unless the request's time is up (a server too slow to answer), when
	// undoing would hold the answer past it. What is left is then what a
	// killed send leaves, which the next send and cleanjobs remove once
	// it is PendingGrace old (abandoned, Index.Tidy).
	forget := func(job *batchv1.Job) {
		if ctx.Err() != nil {
			n.Log.Printf("build %s: the request's time is up; leaving its entry and Job to be removed as abandoned", name)
			return
		}
		if job != nil {
			if err := DeleteJob(ctx, n.Jobs, job); err != nil {
				n.Log.Printf("removing Job %s: %v", job.Name, err)
			}
		}
		if err := index.Remove(ctx, name); err != nil {
			n.Log.Printf("removing build %s from the index: %v", name, err)
		}
	}
	// The Job fetches the cache only if there is one. A lookup that failed
	// (the cache's registry unreachable from here, its repository refused)
	// is no reason to refuse the build: it runs without, and says so.
	var err error
	if plan.CacheDigest, err = cache(); err != nil {
		plan.CacheDigest, plan.Note = "", "built without the build cache: "+apperr.Message(err)
		n.Log.Printf("build %s: %s (%v)", name, plan.Note, err)
	}
	job, err := n.Jobs.Create(ctx, plan.Job(), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// ensure's concurrent call for the same inputs: the entry is its.
		return types.Build{}, ErrExists
	}
	if err != nil {
		forget(nil)
		return types.Build{}, apperr.Upstream(err, "creating the build Job")
	}
	if _, err := n.ConfigMaps.Create(ctx, plan.ConfigMap(files, job), metav1.CreateOptions{}); err != nil {
		// Leave nothing half-created: the Job would wait for its context
		// forever.
		forget(job)
		return types.Build{}, apperr.Upstream(err, "creating the build context ConfigMap")
	}
	if len(plan.Secrets) > 0 {
		// The API server's own error names the object, never a value.
		if _, err := n.Secrets.Create(ctx, plan.SecretsObject(job), metav1.CreateOptions{}); err != nil {
			forget(job)
			return types.Build{}, apperr.Upstream(err, "creating the build's Secret of build secrets")
		}
	}
	resumed, err := n.Jobs.Patch(ctx, job.Name, k8stypes.MergePatchType, []byte(`{"spec":{"suspend":false}}`), metav1.PatchOptions{})
	if err != nil {
		forget(job)
		return types.Build{}, apperr.Upstream(err, "starting build %s", job.Name)
	}
	return FromJob(resumed), nil
}

// beforeStart loads the user's history from their index, prunes their
// finished builds (Jobs and records) beyond keep, and removes the builds
// their sends abandoned. It returns the history and the Job names of the
// builds it removed, which the index drops as it enters the new build.
func (n Namespace) beforeStart(ctx context.Context, index Index, keep int, now time.Time) (History, []string, error) {
	h, err := index.Load(ctx)
	if err != nil {
		return History{}, nil, err
	}
	deleted, errs := n.prune(ctx, h.Jobs, h.Records, keep, false)
	if len(deleted) > 0 {
		n.Log.Printf("removed %d finished builds of %s beyond max_retained_builds=%d", len(deleted), index.User, keep)
	}
	// And the builds whose send stopped before it resumed them: the index
	// drops them with the pruned.
	for i := range h.Jobs {
		j := &h.Jobs[i]
		if !abandoned(j, now) || j.DeletionTimestamp != nil {
			continue
		}
		if err := DeleteJob(ctx, n.Jobs, j); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting abandoned build %s: %w", j.Name, err))
			continue
		}
		n.Log.Printf("removed build %s of %s: its send stopped before it started it", j.Name, index.User)
		deleted = append(deleted, j.Name)
	}
	for _, e := range errs {
		n.Log.Printf("%v", e)
	}
	return h, deleted, nil
}

// admit decides whether the build whose Job is name may join history h
// of its user: whether the user's unfinished builds, and the builds other
// sends are creating, number fewer than limit (0: no limit). It decides on
// the index as the entry is written (Index.Add): a concurrent send that
// entered its build first is in h, Job or not, so the limit is exact. A
// build its send abandoned (see abandoned) does not count: it never runs.
func admit(h History, name string, limit int, now time.Time) error {
	if limit <= 0 {
		return nil
	}
	var ahead []string
	for _, j := range h.Jobs {
		if _, done := FinishedAt(&j); !done && j.DeletionTimestamp == nil && !abandoned(&j, now) && j.Name != name {
			ahead = append(ahead, j.Name)
		}
	}
	for _, e := range h.Pending {
		if e.Job != name {
			ahead = append(ahead, e.Job)
		}
	}
	if len(ahead) >= limit {
		slices.Sort(ahead)
		return apperr.TooMany(RetryAfter, "you have %d unfinished builds (%s) and the limit is %d (max_active_builds): wait for one to finish, then send again", len(ahead), strings.Join(ahead, ", "), limit)
	}
	return nil
}
