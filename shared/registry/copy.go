package registry

import (
	"context"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Copy makes dst ("<repo>:<tag>") name the image src ("<repo>@<digest>")
// names, an index with its images included. Within the registry, the
// blobs are mounted from src's repository, not uploaded (or found in
// dst's): go-containerregistry's remote.Write mounts the layers of a
// remote image of the same registry.
func (c *Client) Copy(ctx context.Context, src, dst string) error {
	from, err := c.Reference(src)
	if err != nil {
		return err
	}
	to, err := c.Reference(dst)
	if err != nil {
		return err
	}
	opts := append(append([]remote.Option{}, c.opts...), remote.WithContext(ctx))
	doing := "copying " + src + " to " + dst
	desc, err := remote.Get(from, opts...)
	if err != nil {
		return failure(err, doing, "image "+src+" does not exist", false)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return failure(err, doing, "", false)
		}
		if err := remote.WriteIndex(to, idx, opts...); err != nil {
			return failure(err, doing, "", false)
		}
		return nil
	}
	img, err := desc.Image()
	if err != nil {
		return failure(err, doing, "", false)
	}
	if err := remote.Write(to, img, opts...); err != nil {
		return failure(err, doing, "", false)
	}
	return nil
}
