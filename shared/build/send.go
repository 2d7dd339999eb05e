package build

import (
	"context"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/web"
)

// SendAction starts a build.
var SendAction = action.Action{Name: "send", Methods: web.Write(), Run: send}

// Sent is send's result.
type Sent struct {
	ID      string `json:"id"`
	JobName string `json:"job_name"`
	Image   string `json:"image"`
	Message string `json:"message"`
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
	file, err := DecodeFile(b64)
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
	if contextSize(files) > MaxContextBytes {
		return nil, tooLarge()
	}
	k, err := inv.Kube()
	if err != nil {
		return nil, err
	}
	host, err := cfg.ResolveRegistryHost(ctx, k.Core.ConfigMaps(cfg.KubeNamespace))
	if err != nil {
		return nil, err
	}
	plan.Image = host + "/" + req.Target()

	jobs := k.Batch.Jobs(cfg.KubeNamespace)
	job, err := jobs.Create(ctx, plan.Job(), metav1.CreateOptions{})
	if err != nil {
		return nil, apperr.Upstream(err, "creating the build Job")
	}
	if _, err := k.Core.ConfigMaps(cfg.KubeNamespace).Create(ctx, plan.ConfigMap(files, job), metav1.CreateOptions{}); err != nil {
		// Leave nothing half-created: the Job would wait for its context
		// forever.
		if derr := deleteJob(ctx, jobs, job); derr != nil {
			inv.Log.Printf("send: removing Job %s after a failed ConfigMap: %v", job.Name, derr)
		}
		return nil, apperr.Upstream(err, "creating the build context ConfigMap")
	}
	inv.Log.Printf("send: %s started build %s of %s from %s", inv.Caller.Name, job.Name, plan.Image, req.Source)
	return Sent{
		ID:      id,
		JobName: job.Name,
		Image:   plan.Image,
		Message: fmt.Sprintf("build %s started: follow it with the logs action (job_name=%s)", id, job.Name),
	}, nil
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
