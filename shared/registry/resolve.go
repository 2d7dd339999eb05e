package registry

import (
	"context"
	"errors"
	"regexp"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/apache/openserverless-builder/shared/apperr"
)

// Platform is the platform whose image a multi-platform source is read
// for: the cluster's nodes.
var Platform = v1.Platform{OS: "linux", Architecture: "amd64"}

// Pinned is a source resolved to what the build uses.
type Pinned struct {
	// Digest is the image the build is FROM: the one whose config send
	// read. For a multi-platform index, its one image for Platform, so
	// that BuildKit cannot pick another entry than the one checked.
	Digest string
	// User is the user the image runs as (its config's User); "" is root.
	User string
}

// userRE is what a Dockerfile's USER may be given: a name or id, and an
// optional group. A source's config is its owner's to write: nothing else
// reaches the Dockerfile.
var userRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})?$`)

// Resolve reads the manifest of ref (a reference to an image of this
// client's registry, as parsed) and the configuration of its image (for an
// index, the image for Platform): its digest and its user. Not found is
// 404; a registry that refuses a read is 404 too (that is how public
// registries answer an anonymous read of a repository that does not
// exist); the rest is 502, with no network error's text.
func (c *Client) Resolve(ctx context.Context, ref name.Reference) (Pinned, error) {
	src := ref.String()
	failed := func(err error) error {
		return failure(err, "resolving source "+src, "source "+src+" does not exist, or is not readable: check its name and tag", true)
	}
	// Parsed again in the client's registry, for its scheme (plain HTTP
	// for an insecure one): the repository and tag or digest stay.
	ref, err := name.ParseReference(c.reg.RegistryStr()+"/"+ref.Context().RepositoryStr()+separator(ref)+ref.Identifier(), c.nameOpts...)
	if err != nil {
		return Pinned{}, apperr.BadRequest("source %s is not an image reference: %v", src, err)
	}
	// Every answer is bounded (MaxSourceDocBytes): a source's manifests
	// and config are the only bodies Resolve reads, from registries a user
	// names.
	opts := append(append([]remote.Option{}, c.opts...), remote.WithContext(ctx), remote.WithPlatform(Platform),
		remote.WithTransport(bounded{c.transport, MaxSourceDocBytes}))
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return Pinned{}, failed(err)
	}
	digest, img, err := platformOf(desc, src)
	var refused *apperr.Error
	if errors.As(err, &refused) {
		return Pinned{}, err
	}
	if err != nil {
		return Pinned{}, failed(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return Pinned{}, failed(err)
	}
	p := Pinned{Digest: digest.String(), User: cf.Config.User}
	if p.User != "" && !userRE.MatchString(p.User) {
		return Pinned{}, apperr.BadRequest("source %q runs as user %q, which the builder cannot restore after the install: use an image whose user is a name or id", src, p.User)
	}
	return p, nil
}

// platformOf is the image desc names for Platform, and its digest: desc
// itself, or the one image of an index that a build for Platform may use
// (platformImage, whose refusal is an *apperr.Error); src names it in
// messages. Other errors are the registry's, for the caller to word.
func platformOf(desc *remote.Descriptor, src string) (v1.Hash, v1.Image, error) {
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		return desc.Digest, img, err
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return v1.Hash{}, nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return v1.Hash{}, nil, err
	}
	digest, err := platformImage(src, m)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	img, err := idx.Image(digest)
	return digest, img, err
}

// platformImage is the one image of index m that a build for Platform
// may use. An entry without a platform could be chosen too (BuildKit
// takes it for any platform), so it is a candidate; attestations are not
// (platform unknown/unknown). Anything but exactly one candidate is
// refused: the image checked must be the image built.
func platformImage(src string, m *v1.IndexManifest) (v1.Hash, error) {
	var found []v1.Hash
	for _, d := range m.Manifests {
		if !d.MediaType.IsImage() {
			continue
		}
		p := d.Platform
		if p == nil || (p.OS == Platform.OS && p.Architecture == Platform.Architecture) {
			found = append(found, d.Digest)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return v1.Hash{}, apperr.BadRequest("source %s has no %s/%s image", src, Platform.OS, Platform.Architecture)
	}
	return v1.Hash{}, apperr.BadRequest("source %s is an index with %d images that a %s/%s build could use (entries for that platform or without one): name one of them by digest", src, len(found), Platform.OS, Platform.Architecture)
}

// separator is what joins ref's repository and identifier.
func separator(ref name.Reference) string {
	if _, ok := ref.(name.Digest); ok {
		return "@"
	}
	return ":"
}
