package build

import (
	"context"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/reference"
	"github.com/apache/openserverless-builder/shared/registry"
	"github.com/apache/openserverless-builder/shared/source"
	"github.com/apache/openserverless-builder/shared/web"
)

// SendAction starts a build.
var SendAction = action.Action{Name: "send", Methods: web.Write(), Run: send}

// Sent is send's result.
type Sent struct {
	ID           string `json:"id"`
	JobName      string `json:"job_name"`
	Image        string `json:"image"`
	SourceDigest string `json:"source_digest"`
	Message      string `json:"message"`
}

// ParseRequest reads and validates send's parameters for caller, touching
// nothing.
func ParseRequest(inv *action.Invocation) (Request, error) {
	get := func(key string) (string, error) { return inv.Params.String(key, "") }
	source, err := get("source")
	if err != nil {
		return Request{}, err
	}
	if err := ParseSource(source); err != nil {
		return Request{}, err
	}
	target, err := get("target")
	if err != nil {
		return Request{}, err
	}
	repo, tag, err := ParseTarget(target, inv.Caller)
	if err != nil {
		return Request{}, err
	}
	kindName, err := get("kind")
	if err != nil {
		return Request{}, err
	}
	kind, ok := kinds.Lookup(strings.ToLower(kindName))
	if !ok {
		return Request{}, apperr.BadRequest("kind %s is not known: use one of %s", quoteShort(kindName), strings.Join(kinds.Names(), ", "))
	}
	b64, err := get("file")
	if err != nil {
		return Request{}, err
	}
	file, err := DecodeFile(b64, inv.Config.MaxContextBytes)
	if err != nil {
		return Request{}, err
	}
	return Request{Source: source, Repo: repo, Tag: tag, Kind: kind, File: file}, nil
}

func send(ctx context.Context, inv *action.Invocation) (any, error) {
	req, err := ParseRequest(inv)
	if err != nil {
		return nil, err
	}
	id, err := NewID()
	if err != nil {
		return nil, fmt.Errorf("making a build id: %w", err)
	}
	cfg := inv.Config
	plan := Plan{
		Request:    req,
		ID:         id,
		User:       inv.Caller.Name,
		Namespace:  cfg.KubeNamespace,
		Insecure:   cfg.RegistryInsecure,
		Secret:     cfg.RegistrySecret,
		Buildkit:   cfg.BuildkitImage,
		Timeout:    cfg.BuildTimeout,
		Privileged: cfg.AllowPrivileged,
	}
	files := plan.Context()
	if contextSize(files) > cfg.MaxContextBytes {
		return nil, tooLarge(cfg.MaxContextBytes)
	}
	k, err := inv.Kube()
	if err != nil {
		return nil, err
	}
	host, err := cfg.ResolveRegistryHost(ctx, k.Core.ConfigMaps(cfg.KubeNamespace))
	if err != nil {
		return nil, err
	}
	pinned, err := resolveSource(ctx, inv, req.Source, host, k.Core.Secrets(cfg.KubeNamespace))
	if err != nil {
		return nil, err
	}
	plan.SourceDigest, plan.SourceUser = pinned.Digest, pinned.User
	// The Dockerfile now names the digest and the user: measure again.
	if files = plan.Context(); contextSize(files) > cfg.MaxContextBytes {
		return nil, tooLarge(cfg.MaxContextBytes)
	}
	plan.Image = host + "/" + req.Target()
	plan.Provenance = cfg.Provenance
	if cache := CacheRepository(inv.Caller.Name); cfg.BuildCache && reference.ValidRepository(cache) {
		plan.Cache = host + "/" + cache + ":" + req.Kind.Name
	}

	jobs := k.Batch.Jobs(cfg.KubeNamespace)
	limit := cfg.MaxActiveBuilds
	if inv.Caller.Admin {
		limit = 0
	}
	records := RecordsIn(k, cfg.KubeNamespace)
	keep := func(ctx context.Context, j *batchv1.Job) error {
		return RecordJob(ctx, k.Core.Pods(cfg.KubeNamespace), records, j)
	}
	if err := beforeCreate(ctx, inv, jobs, keep, limit); err != nil {
		return nil, err
	}
	job, err := jobs.Create(ctx, plan.Job(), metav1.CreateOptions{})
	if err != nil {
		return nil, apperr.Upstream(err, "creating the build Job")
	}
	if _, err := k.Core.ConfigMaps(cfg.KubeNamespace).Create(ctx, plan.ConfigMap(files, job), metav1.CreateOptions{}); err != nil {
		// Leave nothing half-created: the Job would wait for its context
		// forever.
		undo(ctx, inv, jobs, job)
		return nil, apperr.Upstream(err, "creating the build context ConfigMap")
	}
	if limit > 0 {
		ok, active, err := admitted(ctx, jobs, k.Core.ConfigMaps(cfg.KubeNamespace), inv.Caller.Name, id, limit)
		if err != nil || !ok {
			undo(ctx, inv, jobs, job)
		}
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, tooMany(limit, others(active, job.Name))
		}
	}
	inv.Log.Printf("send: %s started build %s of %s from %s", inv.Caller.Name, job.Name, plan.Image, req.Source)
	return Sent{
		ID:           id,
		JobName:      job.Name,
		Image:        plan.Image,
		SourceDigest: plan.SourceDigest,
		Message:      fmt.Sprintf("build %s started: follow it with the logs action (job_name=%s)", id, job.Name),
	}, nil
}

// resolveSource decides whether the caller may build from src, before
// anything is created (the build would pull it with the builder's
// credential wherever that applies), and resolves it to its digest and
// user: anonymously, or with the builder's credential for a source in the
// cluster registry that the caller may read.
func resolveSource(ctx context.Context, inv *action.Invocation, src, host string, secrets secretGetter) (source.Pinned, error) {
	cfg := inv.Config
	secret, err := registry.Credentials{Secret: cfg.RegistrySecret}.ReadSecret(ctx, secrets)
	if err != nil {
		return source.Pinned{}, err
	}
	policy := source.NewPolicy(source.Cluster{
		RegistryHost:    host,
		KubeNamespace:   cfg.KubeNamespace,
		Aliases:         cfg.RegistryAliases,
		CredentialHosts: secret.Hosts(),
		Shared:          cfg.SharedRepositories,
	})
	ref, err := policy.Authorize(inv.Caller, src)
	if err != nil {
		return source.Pinned{}, err
	}
	opts := []remote.Option{remote.WithTransport(inv.Transport()), remote.WithUserAgent("openserverless-builder")}
	if reg := ref.Context().RegistryStr(); policy.InCluster(reg) {
		// The caller may read it: the build pulls it with the builder's
		// credential, and so does send.
		opts = append(opts, remote.WithAuth(secret.Authenticator(reg)))
		if cfg.RegistryInsecure {
			if ref, err = name.ParseReference(src, name.Insecure); err != nil {
				return source.Pinned{}, apperr.BadRequest("source %s is not an image reference: %v", quoteShort(src), err)
			}
		}
	}
	return source.Resolve(ctx, ref, opts...)
}

// beforeCreate applies the fair-use limits that need no new object: it
// prunes the caller's finished builds beyond max_retained_builds, and
// refuses a caller already at limit unfinished builds (0: no limit).
func beforeCreate(ctx context.Context, inv *action.Invocation, jobs jobsAPI, record recorder, limit int) error {
	mine, err := UserJobs(ctx, jobs, inv.Caller.Name)
	if err != nil {
		return err
	}
	deleted, errs := pruneFinished(ctx, jobs, record, mine, inv.Config.MaxRetainedBuilds)
	for _, e := range errs {
		inv.Log.Printf("send: %v", e)
	}
	if len(deleted) > 0 {
		inv.Log.Printf("send: removed %d finished builds of %s beyond max_retained_builds=%d", len(deleted), inv.Caller.Name, inv.Config.MaxRetainedBuilds)
	}
	if limit <= 0 {
		return nil
	}
	if active := unfinished(mine); len(active) >= limit {
		return tooMany(limit, active)
	}
	return nil
}

// undo deletes a Job send created and will not answer for.
func undo(ctx context.Context, inv *action.Invocation, jobs jobDeleter, job *batchv1.Job) {
	if err := deleteJob(ctx, jobs, job); err != nil {
		inv.Log.Printf("send: removing Job %s: %v", job.Name, err)
	}
}

// others are the jobs other than name.
func others(jobs []batchv1.Job, name string) []batchv1.Job {
	var out []batchv1.Job
	for _, j := range jobs {
		if j.Name != name {
			out = append(out, j)
		}
	}
	return out
}

type secretGetter interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Secret, error)
}

type jobDeleter interface {
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

func deleteJob(ctx context.Context, jobs jobDeleter, job *batchv1.Job) error {
	bg := metav1.DeletePropagationBackground
	return jobs.Delete(context.WithoutCancel(ctx), job.Name, metav1.DeleteOptions{
		PropagationPolicy: &bg,
		Preconditions:     &metav1.Preconditions{UID: &job.UID},
	})
}
