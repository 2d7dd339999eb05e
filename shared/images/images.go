// Package images holds the four registry actions: list-catalogs,
// list-images, get-image and delete-image (SPEC §3, §7). They are one binary,
// deployed four times.
package images

import (
	"context"
	"fmt"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/build"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/registry"
	"github.com/apache/openserverless-builder/shared/web"
)

// Actions are the registry actions, for action.Main.
func Actions() []action.Action {
	return []action.Action{
		{Name: "list-catalogs", Methods: web.Read(), Run: listCatalogs},
		{Name: "list-images", Methods: web.Read(), Run: listImages},
		{Name: "get-image", Methods: web.Read(), Run: getImage},
		{Name: "delete-image", Methods: web.Delete(), Run: deleteImage},
	}
}

// GCNote is what an operator must do after deletions to get the space back.
const GCNote = "the registry removed the reference only; its storage is reclaimed when an operator runs the registry's garbage collection (registry garbage-collect)"

func listCatalogs(ctx context.Context, inv *action.Invocation) (any, error) {
	c, err := client(ctx, inv)
	if err != nil {
		return nil, err
	}
	showCaches, err := inv.Params.Bool("all", false)
	if err != nil {
		return nil, err
	}
	all, err := c.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	repos := make([]string, 0, len(all))
	for _, r := range all {
		// A user never learns the names of other users' repositories.
		if inv.Caller.CanAccess(r) && (showCaches || !build.IsCache(r)) {
			repos = append(repos, r)
		}
	}
	return map[string]any{"repositories": repos}, nil
}

func listImages(ctx context.Context, inv *action.Invocation) (any, error) {
	repo, err := required(inv, "catalog", "a repository, such as devel or devel/python")
	if err != nil {
		return nil, err
	}
	// Check and authorize before the registry is asked, so that nobody can
	// probe which of another user's repositories exist.
	if err := registry.CheckRepository(repo); err != nil {
		return nil, err
	}
	if err := inv.Caller.Authorize(repo); err != nil {
		return nil, err
	}
	showCaches, err := inv.Params.Bool("all", false)
	if err != nil {
		return nil, err
	}
	if build.IsCache(repo) && !showCaches {
		return nil, apperr.NotFound("%s is a build cache, hidden from the listings: pass all=true to list its tags", repo)
	}
	c, err := client(ctx, inv)
	if err != nil {
		return nil, err
	}
	tags, err := c.Tags(ctx, repo)
	if err != nil {
		return nil, err
	}
	return map[string]any{"name": repo, "tags": tags}, nil
}

func getImage(ctx context.Context, inv *action.Invocation) (any, error) {
	c, image, err := imageParam(ctx, inv)
	if err != nil {
		return nil, err
	}
	return c.Get(ctx, image)
}

func deleteImage(ctx context.Context, inv *action.Invocation) (any, error) {
	c, image, err := imageParam(ctx, inv)
	if err != nil {
		return nil, err
	}
	d, err := c.Delete(ctx, image)
	if err != nil {
		return nil, err
	}
	msg := "deleted " + image + " (" + d.Digest + ")"
	if n := len(d.Attestations); n > 0 {
		msg += fmt.Sprintf(" and its %d attestation manifest(s)", n)
	}
	res := map[string]any{
		"deleted": true,
		"image":   image,
		"digest":  d.Digest,
		"message": msg + "; " + GCNote,
	}
	if len(d.Attestations) > 0 {
		res["attestations"] = d.Attestations
	}
	return res, nil
}

// imageParam reads and authorizes the image parameter.
func imageParam(ctx context.Context, inv *action.Invocation) (*registry.Client, string, error) {
	image, err := required(inv, "image", "<repo>:<tag> or <repo>@<digest>, such as devel:python3.13-custom")
	if err != nil {
		return nil, "", err
	}
	c, err := client(ctx, inv)
	if err != nil {
		return nil, "", err
	}
	ref, err := c.Reference(image)
	if err != nil {
		return nil, "", err
	}
	if err := inv.Caller.Authorize(ref.Context().RepositoryStr()); err != nil {
		return nil, "", err
	}
	return c, image, nil
}

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

// client builds the registry client of this activation: the configured host
// and credentials, over the container's shared transport.
func client(ctx context.Context, inv *action.Invocation) (*registry.Client, error) {
	cfg := inv.Config
	creds := registry.Credentials{User: cfg.RegistryUser, Password: cfg.RegistryPassword, Secret: cfg.RegistrySecret}
	host := cfg.RegistryHost
	explicit := creds.User != "" || creds.Password != ""
	var kc kubeClients
	if host == "" || !explicit {
		k, err := inv.Kube()
		if err != nil {
			return nil, err
		}
		kc = kubeClients{k.Core.ConfigMaps(cfg.KubeNamespace), k.Core.Secrets(cfg.KubeNamespace)}
	}
	host, err := cfg.ResolveRegistryHost(ctx, kc.configMaps)
	if err != nil {
		return nil, err
	}
	auth, err := creds.Authenticator(ctx, host, kc.secrets)
	if err != nil {
		return nil, err
	}
	c, err := registry.New(host, registry.Options{
		Insecure:  cfg.RegistryInsecure,
		Auth:      auth,
		Transport: inv.Transport(),
		UserAgent: "openserverless-builder",
	})
	if err != nil {
		return nil, apperr.Wrap(500, err, "registry host %q", host)
	}
	return c, nil
}

type kubeClients struct {
	configMaps kube.ConfigMaps
	secrets    kube.Secrets
}
