package registry

import (
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/reference"
)

// Repository parses a repository name inside the client's registry, such as
// "devel" or "devel/python". The name must match the strict OCI grammar:
// go-containerregistry checks only its characters, and would pass
// "devel/../alice" to a registry that resolves it to alice.
func (c *Client) Repository(repo string) (name.Repository, error) {
	if err := CheckRepository(repo); err != nil {
		return name.Repository{}, err
	}
	r, err := name.NewRepository(c.reg.RegistryStr()+"/"+repo, c.nameOpts...)
	if err != nil {
		return name.Repository{}, apperr.BadRequest("%q is not a repository name such as devel or devel/python", repo)
	}
	return r, nil
}

// CheckRepository is 400 for a repository name outside the strict OCI
// grammar, before any server is asked.
func CheckRepository(repo string) error {
	if !reference.ValidRepository(repo) {
		return apperr.BadRequest("%q is not a repository name: lower-case letters and digits, components joined by '/' (no empty, '.' or '..' component), such as devel or devel/python", repo)
	}
	return nil
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
