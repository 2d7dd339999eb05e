package registry

import (
	"context"
	"errors"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/apache/openserverless-builder/shared/apperr"
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
	if !desc.MediaType.IsIndex() && !desc.MediaType.IsImage() {
		return digest, "", true, nil
	}
	_, img, err := platformOf(desc, image)
	var noImage *apperr.Error
	if errors.As(err, &noImage) {
		// An index without exactly one such image: no build made it.
		return digest, "", true, nil
	}
	if err != nil {
		return "", "", false, failure(err, doing, "", false)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", "", false, failure(err, doing, "", false)
	}
	return digest, cf.Config.Labels[key], true, nil
}
