package action

import (
	"context"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/registry"
)

// Registry is the one way an action reaches a registry: host with auth
// (anonymous when nil), plain HTTP when insecure, over the warm
// container's shared transport.
func (inv *Invocation) Registry(host string, auth authn.Authenticator, insecure bool) (*registry.Client, error) {
	c, err := registry.New(host, registry.Options{
		Insecure:  insecure,
		Auth:      auth,
		Transport: inv.Transport(),
		UserAgent: "openserverless-builder",
	})
	if err != nil {
		return nil, apperr.Wrap(http.StatusInternalServerError, err, "registry host %q", host)
	}
	return c, nil
}

// Credentials are the builder's credentials for the cluster registry:
// registry_user and registry_password, else the registry Secret's entry
// for its host.
func (inv *Invocation) Credentials() registry.Credentials {
	cfg := inv.Config
	return registry.Credentials{User: cfg.RegistryUser, Password: cfg.RegistryPassword, Secret: cfg.RegistrySecret}
}

// ClusterRegistry is the client of the cluster registry for the registry
// actions: the configured host, with the builder's credentials.
func (inv *Invocation) ClusterRegistry(ctx context.Context) (*registry.Client, error) {
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
	auth, err := inv.Credentials().Authenticator(ctx, host, secrets)
	if err != nil {
		return nil, err
	}
	return inv.Registry(host, auth, cfg.RegistryInsecure)
}
