package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/registry"
	"github.com/apache/openserverless-builder/shared/source"
	"github.com/apache/openserverless-builder/shared/web"
)

// Send starts a build.
var Send = action.Action{Name: "send", Methods: web.Write(), Run: send}

// Sent is send's result.
type Sent struct {
	ID           string `json:"id"`
	JobName      string `json:"job_name"`
	Image        string `json:"image"`
	SourceDigest string `json:"source_digest"`
	Message      string `json:"message"`
}

// send goes through a build once, in order: parse the request (the source
// once) → resolve the registry host and the source → make the plan →
// create (measure, quota, Job, context, admit). Nothing is created before
// the quota.
func send(ctx context.Context, inv *action.Invocation) (any, error) {
	cfg := inv.Config
	req, err := buildspec.ParseRequest(inv.Params, inv.Caller, cfg)
	if err != nil {
		return nil, err
	}
	p, err := pin(ctx, inv, req)
	if err != nil {
		return nil, err
	}
	id, err := names.NewID()
	if err != nil {
		return nil, fmt.Errorf("making a build id: %w", err)
	}
	plan := buildspec.NewPlan(req, inv.Caller.Name, id, p.host, p.source, cfg)
	job, err := create(ctx, inv, p, plan)
	if err != nil {
		return nil, err
	}
	inv.Log.Printf("send: %s started build %s of %s from %s", inv.Caller.Name, job.Name, plan.Image, req.Source)
	return Sent{
		ID:           id,
		JobName:      job.Name,
		Image:        plan.PullImage,
		SourceDigest: plan.SourceDigest,
		Message:      fmt.Sprintf("build %s started: follow it with the logs action (job_name=%s)", id, job.Name),
	}, nil
}

// pinned is what a request builds on, resolved before anything is
// created: the cluster clients, the registry host, the registry Secret
// (read once), the source pinned to its digest and user, and the digest
// of the user's cache.
type pinned struct {
	kube   *kube.Clients
	host   string
	secret registry.Secret
	source buildspec.Source
	// cache waits for the lookup of the user's cache, which runs while
	// the source is resolved and the quota read.
	cache func() (string, error)
}

// pin resolves it, after the source rules and after checking that every
// repository the build pushes to (image and cache) is the caller's to
// write. send and ensure start with it, before any network call.
func pin(ctx context.Context, inv *action.Invocation, req buildspec.Request) (pinned, error) {
	cfg := inv.Config
	for _, repo := range req.Pushes(inv.Caller.Name, cfg) {
		if err := cfg.CheckWritable(repo, inv.Caller.Admin); err != nil {
			return pinned{}, err
		}
	}
	var p pinned
	var err error
	if p.kube, err = inv.Kube(); err != nil {
		return pinned{}, err
	}
	if p.host, err = cfg.ResolveRegistryHost(ctx, p.kube.Core.ConfigMaps(cfg.KubeNamespace)); err != nil {
		return pinned{}, err
	}
	// The push Secret the build mounts, in the build namespace: the
	// credential send may use is the one the build would use.
	if p.secret, err = (registry.Credentials{Secret: cfg.RegistrySecret}).ReadSecret(ctx, p.kube.Core.Secrets(cfg.BuildNamespace)); err != nil {
		return pinned{}, err
	}
	p.cache = lookupCache(ctx, inv, p.host, p.secret, buildspec.CacheRef(req, inv.Caller.Name, p.host, cfg))
	if p.source, err = resolveSource(ctx, inv, p.secret, req.SourceRef, p.host); err != nil {
		return pinned{}, err
	}
	return p, nil
}

// lookupCache starts looking up the digest of the user's cache at cache
// ("" when there is none yet), with the credential the build's fetch step
// will use, and returns what waits for it: the Job fetches a cache that
// exists, so no step has to tolerate a failure. The registry may take a
// while to check a password (htpasswd's bcrypt), so the lookup runs
// beside send's other calls.
func lookupCache(ctx context.Context, inv *action.Invocation, host string, secret registry.Secret, cache string) func() (string, error) {
	if cache == "" {
		return func() (string, error) { return "", nil }
	}
	type result struct {
		digest string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		reg, err := registryClient(inv, host, secret.Authenticator(host), inv.Config.RegistryInsecure)
		if err != nil {
			done <- result{err: err}
			return
		}
		digest, _, err := reg.Head(ctx, strings.TrimPrefix(cache, host+"/"))
		if err != nil {
			err = fmt.Errorf("looking up the build cache: %w", err)
		}
		done <- result{digest, err}
	}()
	return sync.OnceValues(func() (string, error) {
		r := <-done
		return r.digest, r.err
	})
}

// errBuildExists is create's answer when the build's Job exists already:
// ensure's concurrent calls for the same inputs meet there.
var errBuildExists = errors.New("the build exists already")

// create starts the build of plan: it measures the context, prunes the
// caller's history, enters the build in the caller's index if the limit
// admits it (the decision: see admit), waits for the digest of the user's
// cache, creates the Job suspended and then its context (owned by the
// Job), and only then resumes it.
// Nothing is left half-created, and a refused build creates nothing.
func create(ctx context.Context, inv *action.Invocation, p pinned, plan buildspec.Plan) (*batchv1.Job, error) {
	cfg := inv.Config
	ns, k := cfg.BuildNamespace, p.kube
	// The Dockerfile names the digest and the user: the whole context is
	// measured now, and the context before the pin was measured at parse.
	files, err := plan.CheckSize(cfg.MaxContextBytes)
	if err != nil {
		return nil, err
	}
	jobs := k.Batch.Jobs(ns)
	limit := cfg.MaxActiveBuilds
	if inv.Caller.Admin {
		limit = 0
	}
	index := builds.IndexOf(k, ns, inv.Caller.Name)
	h, pruned, err := beforeCreate(ctx, inv, jobs, index)
	if err != nil {
		return nil, err
	}
	name := plan.Name()
	entry := builds.Entry{Job: name, Created: time.Now().UTC()}
	if err := index.Add(ctx, h, entry, pruned, func(h builds.History) error { return admit(h, name, limit) }); err != nil {
		return nil, err
	}
	// From here a failure takes the entry back, and the Job if it came.
	forget := func(job *batchv1.Job) {
		if job != nil {
			undo(ctx, inv, jobs, job)
		}
		if err := index.Remove(ctx, name); err != nil {
			inv.Log.Printf("send: removing build %s from the index: %v", name, err)
		}
	}
	// The Job fetches the cache only if there is one: wait for the lookup
	// pin started.
	if plan.CacheDigest, err = p.cache(); err != nil {
		forget(nil)
		return nil, err
	}
	job, err := jobs.Create(ctx, plan.Job(), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// ensure's concurrent call for the same inputs: the entry is its.
		return nil, errBuildExists
	}
	if err != nil {
		forget(nil)
		return nil, apperr.Upstream(err, "creating the build Job")
	}
	if _, err := k.Core.ConfigMaps(ns).Create(ctx, plan.ConfigMap(files, job), metav1.CreateOptions{}); err != nil {
		// Leave nothing half-created: the Job would wait for its context
		// forever.
		forget(job)
		return nil, apperr.Upstream(err, "creating the build context ConfigMap")
	}
	resumed, err := jobs.Patch(ctx, job.Name, types.MergePatchType, []byte(`{"spec":{"suspend":false}}`), metav1.PatchOptions{})
	if err != nil {
		forget(job)
		return nil, apperr.Upstream(err, "starting build %s", job.Name)
	}
	return resumed, nil
}

// resolveSource decides whether the caller may build from ref, before
// anything is created (the build would pull it with the builder's
// credential wherever that applies), and resolves it to its digest and
// user: anonymously, or with the builder's credential for a source in the
// cluster registry that the caller may read.
func resolveSource(ctx context.Context, inv *action.Invocation, secret registry.Secret, ref name.Reference, host string) (buildspec.Source, error) {
	cfg := inv.Config
	policy := source.NewPolicy(source.Cluster{
		RegistryHost:    host,
		KubeNamespace:   cfg.KubeNamespace,
		Aliases:         cfg.RegistryAliases,
		CredentialHosts: secret.Hosts(),
		Shared:          cfg.SharedRepositories,
		Allowed:         cfg.AllowedSources,
		Builders:        builderSources(cfg),
	})
	if err := policy.Authorize(inv.Caller, ref); err != nil {
		return buildspec.Source{}, err
	}
	reg := ref.Context().RegistryStr()
	from, auth, insecure, credential := reg, authn.Anonymous, false, false
	if policy.InCluster(reg) {
		// The caller may read it: the build fetches it with the builder's
		// credential, and so does send.
		auth, insecure, credential = secret.Authenticator(reg), cfg.RegistryInsecure, true
	} else if mirror, ok := cfg.Mirror(reg); ok {
		// The cluster pulls this registry through its mirror
		// (registry_mirrors, and the buildkitd.toml updatetoml writes):
		// so does send, anonymously as for any outside source. Not from
		// the cluster registry: users own repositories there, and BuildKit
		// would pull with the builder's credential, so user apache would
		// decide what docker.io/apache/... is for everyone.
		if err := policy.CheckMirror(reg, mirror); err != nil {
			return buildspec.Source{}, err
		}
		from, insecure = mirror, cfg.RegistryInsecure
	}
	c, err := registryClient(inv, from, auth, insecure)
	if err != nil {
		return buildspec.Source{}, err
	}
	pinned, err := c.Resolve(ctx, ref)
	if err != nil {
		return buildspec.Source{}, err
	}
	// The fetch step pulls what send checked, where send checked it.
	fetch := from + "/" + ref.Context().RepositoryStr() + "@" + pinned.Digest
	return buildspec.Source{Digest: pinned.Digest, User: pinned.User, Fetch: fetch, Insecure: insecure, Credential: credential}, nil
}

// builderSources are the sources of the builder catalog.
func builderSources(cfg config.Config) []string {
	out := make([]string, 0, len(cfg.Builders))
	for _, b := range cfg.Builders {
		out = append(out, b.Source)
	}
	return out
}

// beforeCreate loads the caller's history from their index and prunes
// their finished builds (Jobs and records) beyond max_retained_builds. It
// returns the history and the Job names of the builds it removed, which
// the index drops as it enters the new build.
func beforeCreate(ctx context.Context, inv *action.Invocation, jobs builds.Deleter, index builds.Index) (builds.History, []string, error) {
	h, err := index.Load(ctx)
	if err != nil {
		return builds.History{}, nil, err
	}
	deleted, errs := pruneHistory(ctx, jobs, index.Records, h.Jobs, h.Records, inv.Config.MaxRetainedBuilds, false)
	for _, e := range errs {
		inv.Log.Printf("send: %v", e)
	}
	if len(deleted) > 0 {
		inv.Log.Printf("send: removed %d finished builds of %s beyond max_retained_builds=%d", len(deleted), inv.Caller.Name, inv.Config.MaxRetainedBuilds)
	}
	return h, deleted, nil
}

// undo deletes a Job send created and will not answer for.
func undo(ctx context.Context, inv *action.Invocation, jobs builds.Deleter, job *batchv1.Job) {
	if err := builds.DeleteJob(ctx, jobs, job); err != nil {
		inv.Log.Printf("send: removing Job %s: %v", job.Name, err)
	}
}
