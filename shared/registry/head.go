package registry

import (
	"context"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Head reports whether image ("<repo>:<tag>" or "<repo>@<digest>") exists,
// and its digest, with one HEAD request.
func (c *Client) Head(ctx context.Context, image string) (digest string, ok bool, err error) {
	ref, err := c.Reference(image)
	if err != nil {
		return "", false, err
	}
	desc, err := remote.Head(ref, append(append([]remote.Option{}, c.opts...), remote.WithContext(ctx))...)
	if isNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, failure(err, "looking up "+image, "image "+image+" does not exist", false)
	}
	return desc.Digest.String(), true, nil
}
