package handlers

import (
	"context"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/registry"
)

// Registry are the four registry actions, one binary deployed four times.
func Registry() []action.Action {
	return []action.Action{ListCatalogs, ListImages, GetImage, DeleteImage}
}

// GCNote is what an operator must do after deletions to get the space back.
const GCNote = "the registry removed the reference only; its storage is reclaimed when an operator runs the registry's garbage collection (registry garbage-collect)"

// registryClient is the one way a handler reaches a registry: host with
// auth (anonymous when nil), plain HTTP when insecure, over the warm
// container's shared transport.
func registryClient(inv *action.Invocation, host string, auth authn.Authenticator, insecure bool) (*registry.Client, error) {
	c, err := registry.New(host, registry.Options{
		Insecure:  insecure,
		Auth:      auth,
		Transport: inv.Transport(),
		UserAgent: "openserverless-builder",
	})
	if err != nil {
		return nil, apperr.Wrap(500, err, "registry host %q", host)
	}
	return c, nil
}

// clusterRegistry is the client of the cluster registry for the registry
// actions: the configured host and credentials (registry_user and
// registry_password, else the registry Secret's entry for the host).
func clusterRegistry(ctx context.Context, inv *action.Invocation) (*registry.Client, error) {
	cfg := inv.Config
	explicit := cfg.RegistryUser != "" || cfg.RegistryPassword != ""
	var cms kube.ConfigMaps
	var secrets kube.Secrets
	if cfg.RegistryHost == "" || !explicit {
		k, err := inv.Kube()
		if err != nil {
			return nil, err
		}
		cms, secrets = k.Core.ConfigMaps(cfg.KubeNamespace), k.Core.Secrets(cfg.KubeNamespace)
	}
	host, err := cfg.ResolveRegistryHost(ctx, cms)
	if err != nil {
		return nil, err
	}
	auth, err := clusterCredentials(cfg).Authenticator(ctx, host, secrets)
	if err != nil {
		return nil, err
	}
	return registryClient(inv, host, auth, cfg.RegistryInsecure)
}

// clusterCredentials are the builder's credentials for the cluster
// registry: registry_user and registry_password, else the registry
// Secret's entry for its host.
func clusterCredentials(cfg config.Config) registry.Credentials {
	return registry.Credentials{User: cfg.RegistryUser, Password: cfg.RegistryPassword, Secret: cfg.RegistrySecret}
}

// required reads a parameter that must be there; what says what it is.
func required(inv *action.Invocation, key, what string) (string, error) {
	v, err := inv.Params.String(key, "")
	if err != nil {
		return "", err
	}
	if v == "" {
		return "", apperr.BadRequest("parameter %q is required: %s", key, what)
	}
	return v, nil
}

// imageParam reads and authorizes the image parameter; repo is its
// repository.
func imageParam(ctx context.Context, inv *action.Invocation) (c *registry.Client, image, repo string, err error) {
	if image, err = required(inv, "image", "<repo>:<tag> or <repo>@<digest>, such as devel:python3.13-custom"); err != nil {
		return nil, "", "", err
	}
	if c, err = clusterRegistry(ctx, inv); err != nil {
		return nil, "", "", err
	}
	ref, err := c.Reference(image)
	if err != nil {
		return nil, "", "", err
	}
	repo = ref.Context().RepositoryStr()
	if err := inv.Caller.Authorize(repo); err != nil {
		return nil, "", "", err
	}
	return c, image, repo, nil
}
