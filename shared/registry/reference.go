package registry

import (
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/apache/openserverless-builder/shared/apperr"
)

// Repository parses a repository name inside the client's registry, such as
// "devel" or "devel/python".
func (c *Client) Repository(repo string) (name.Repository, error) {
	if repo == "" || strings.Contains(repo, ":") || strings.Contains(repo, "@") {
		return name.Repository{}, apperr.BadRequest("catalog %q is not a repository name such as devel or devel/python", repo)
	}
	r, err := name.NewRepository(c.reg.RegistryStr()+"/"+repo, c.nameOpts...)
	if err != nil {
		return name.Repository{}, apperr.BadRequest("catalog %q is not a repository name: lower-case letters, digits and separators, components joined by '/'", repo)
	}
	return r, nil
}

// Reference parses "<repo>:<tag>" or "<repo>@<digest>" inside the client's
// registry. A reference without a tag or digest is 400.
func (c *Client) Reference(image string) (name.Reference, error) {
	if at := strings.LastIndex(image, "@"); at >= 0 {
		if _, err := c.Repository(image[:at]); err != nil {
			return nil, err
		}
		d, err := name.NewDigest(c.reg.RegistryStr()+"/"+image, c.nameOpts...)
		if err != nil {
			return nil, apperr.BadRequest("image %q has an invalid digest: expected <repo>@sha256:<64 hex digits>", image)
		}
		return d, nil
	}
	colon := strings.LastIndex(image, ":")
	if colon < 0 || colon < strings.LastIndex(image, "/") {
		return nil, apperr.BadRequest("image %q needs a tag or a digest: <repo>:<tag> or <repo>@<digest>", image)
	}
	if _, err := c.Repository(image[:colon]); err != nil {
		return nil, err
	}
	t, err := name.NewTag(c.reg.RegistryStr()+"/"+image, c.nameOpts...)
	if err != nil {
		return nil, apperr.BadRequest("image %q has an invalid tag: up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'", image)
	}
	return t, nil
}

// Short is a reference without the registry host, as users write it.
func Short(ref name.Reference) string {
	return strings.TrimPrefix(ref.Name(), ref.Context().RegistryStr()+"/")
}
