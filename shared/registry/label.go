package registry

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Label reads label key of image ("<repo>:<tag>" or "<repo>@<digest>"):
// of its config, or for an index of its one linux/amd64 image's. digest
// is what image names (the index's, for an index); ok is false when
// there is no image. An index without exactly one such image has no
// label ("").
func (c *Client) Label(ctx context.Context, image, key string) (digest, value string, ok bool, err error) {
	ref, err := c.Reference(image)
	if err != nil {
		return "", "", false, err
	}
	doing := "reading " + image
	desc, err := remote.Get(ref, append(append([]remote.Option{}, c.opts...), remote.WithContext(ctx))...)
	if isNotFound(err) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, failure(err, doing, "image "+image+" does not exist", false)
	}
	digest = desc.Digest.String()
	var img v1.Image
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return "", "", false, failure(err, doing, "", false)
		}
		m, err := idx.IndexManifest()
		if err != nil {
			return "", "", false, failure(err, doing, "", false)
		}
		h, err := platformImage(image, m)
		if err != nil {
			return digest, "", true, nil
		}
		if img, err = idx.Image(h); err != nil {
			return "", "", false, failure(err, doing, "", false)
		}
	case desc.MediaType.IsImage():
		if img, err = desc.Image(); err != nil {
			return "", "", false, failure(err, doing, "", false)
		}
	default:
		return digest, "", true, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", "", false, failure(err, doing, "", false)
	}
	return digest, cf.Config.Labels[key], true, nil
}
