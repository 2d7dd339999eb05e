package registry

import (
	"context"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Delete removes image ("<repo>:<tag>" or "<repo>@<digest>") by its digest,
// which it resolves first with HEAD, and returns that digest. The registry
// only drops the reference: the blobs stay until its garbage collection.
func (c *Client) Delete(ctx context.Context, image string) (string, error) {
	ref, err := c.Reference(image)
	if err != nil {
		return "", err
	}
	opts := append(c.opts, remote.WithContext(ctx))
	desc, err := remote.Head(ref, opts...)
	if err != nil {
		return "", failure(err, "resolving "+image, "image "+image+" does not exist")
	}
	digest := ref.Context().Digest(desc.Digest.String())
	if err := remote.Delete(digest, opts...); err != nil {
		return "", failure(err, "deleting "+image, "image "+image+" does not exist")
	}
	return desc.Digest.String(), nil
}
