package registry

import (
	"context"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Deleted is what Delete removed.
type Deleted struct {
	Digest string `json:"digest"`
	// Attestations are the attestation manifests of an index, deleted with
	// it: they describe only that image.
	Attestations []string `json:"attestations,omitempty"`
}

// Delete removes image ("<repo>:<tag>" or "<repo>@<digest>") by its digest,
// which it resolves first with HEAD, and, for an index, its attestation
// manifests. The image manifests an index names stay (another index may
// name them too) until the registry's garbage collection, with the blobs.
func (c *Client) Delete(ctx context.Context, image string) (*Deleted, error) {
	ref, err := c.Reference(image)
	if err != nil {
		return nil, err
	}
	opts := append(c.opts, remote.WithContext(ctx))
	desc, err := remote.Head(ref, opts...)
	if err != nil {
		return nil, failure(err, "resolving "+image, "image "+image+" does not exist", false)
	}
	digest := ref.Context().Digest(desc.Digest.String())
	var attestations []string
	if desc.MediaType.IsIndex() {
		// Read them before the index goes.
		full, err := remote.Get(digest, opts...)
		if err != nil {
			return nil, failure(err, "reading "+image, "image "+image+" does not exist", false)
		}
		idx, err := full.ImageIndex()
		if err == nil {
			if im, err := idx.IndexManifest(); err == nil {
				for _, d := range im.Manifests {
					if d.Annotations[annotationRefType] == refTypeAttestation {
						attestations = append(attestations, d.Digest.String())
					}
				}
			}
		}
	}
	if err := remote.Delete(digest, opts...); err != nil {
		return nil, failure(err, "deleting "+image, "image "+image+" does not exist", false)
	}
	res := &Deleted{Digest: desc.Digest.String()}
	for _, a := range attestations {
		err := remote.Delete(ref.Context().Digest(a), opts...)
		if err != nil && !isNotFound(err) {
			return res, failure(err, "deleting attestation "+a+" of "+image, "attestation "+a+" does not exist", false)
		}
		res.Attestations = append(res.Attestations, a)
	}
	return res, nil
}
