package registry

import (
	"context"
	"encoding/json"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/types"
)

// Annotations BuildKit puts on attestation manifests (the docker
// attestation storage layout).
const (
	annotationRefType   = "vnd.docker.reference.type"
	annotationRefDigest = "vnd.docker.reference.digest"
	refTypeAttestation  = "attestation-manifest"
	annotationPredicate = "in-toto.io/predicate-type"
)

// Get fetches the manifest of image ("<repo>:<tag>" or "<repo>@<digest>"),
// accepting OCI indexes and manifests and Docker manifest lists and v2
// manifests, and for an image its configuration.
func (c *Client) Get(ctx context.Context, image string) (*types.Image, error) {
	ref, err := c.Reference(image)
	if err != nil {
		return nil, err
	}
	doing := "reading " + image
	desc, err := remote.Get(ref, append(c.opts, remote.WithContext(ctx))...)
	if err != nil {
		return nil, failure(err, doing, "image "+image+" does not exist", false)
	}
	m := &types.Image{
		Name:      ref.Context().RepositoryStr(),
		Reference: Short(ref),
		Digest:    desc.Digest.String(),
		MediaType: string(desc.MediaType),
		Size:      desc.Size,
	}
	if err := json.Unmarshal(desc.Manifest, &m.Manifest); err != nil {
		return nil, apperr.Upstream(err, "%s: the registry returned a manifest that is not JSON", doing)
	}
	if desc.MediaType.IsIndex() {
		return m, describeIndex(desc, m, doing)
	}
	if !desc.MediaType.IsImage() {
		return m, nil
	}
	img, err := desc.Image()
	if err != nil {
		return nil, apperr.Upstream(err, "%s: the manifest is not a readable image", doing)
	}
	ic, err := imageConfig(img, doing, image)
	if err != nil {
		return nil, err
	}
	m.Config = ic
	return m, nil
}

// describeIndex lists an index's attestations and, when it holds one image
// besides them, reports that image as Get reports an image.
func describeIndex(desc *remote.Descriptor, m *types.Image, doing string) error {
	idx, err := desc.ImageIndex()
	if err != nil {
		return apperr.Upstream(err, "%s: the index is not readable", doing)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return apperr.Upstream(err, "%s: the index is not readable", doing)
	}
	var images []v1.Descriptor
	for _, d := range im.Manifests {
		if d.Annotations[annotationRefType] != refTypeAttestation {
			images = append(images, d)
			continue
		}
		a := types.Attestation{Digest: d.Digest.String(), SubjectDigest: d.Annotations[annotationRefDigest], PredicateTypes: []string{}}
		att, err := idx.Image(d.Digest)
		if err != nil {
			return failure(err, doing+": reading attestation "+d.Digest.String(), "attestation "+d.Digest.String()+" is missing", false)
		}
		am, err := att.Manifest()
		if err != nil {
			return failure(err, doing+": reading attestation "+d.Digest.String(), "attestation "+d.Digest.String()+" is missing", false)
		}
		for _, l := range am.Layers {
			if pt := l.Annotations[annotationPredicate]; pt != "" {
				a.PredicateTypes = append(a.PredicateTypes, pt)
			}
		}
		m.Attestations = append(m.Attestations, a)
	}
	if len(images) != 1 || !images[0].MediaType.IsImage() {
		return nil
	}
	img, err := idx.Image(images[0].Digest)
	if err != nil {
		return failure(err, doing+": reading its image", "the image of the index is missing", false)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return failure(err, doing+": reading its image", "the image of the index is missing", false)
	}
	ic, err := imageConfig(img, doing, m.Reference)
	if err != nil {
		return err
	}
	m.Index, m.Manifest = m.Manifest, nil
	if err := json.Unmarshal(raw, &m.Manifest); err != nil {
		return apperr.Upstream(err, "%s: the image manifest is not JSON", doing)
	}
	m.PlatformDigest, m.Config = images[0].Digest.String(), ic
	return nil
}

// imageConfig summarizes img's configuration.
func imageConfig(img v1.Image, doing, image string) (*types.ImageConfig, error) {
	mf, err := img.Manifest()
	if err != nil {
		return nil, apperr.Upstream(err, "%s: the manifest is not a readable image", doing)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, failure(err, doing+": reading its config", "the config blob of "+image+" is missing", false)
	}
	ic := &types.ImageConfig{
		OS:           cf.OS,
		Architecture: cf.Architecture,
		Created:      cf.Created.Time,
		User:         cf.Config.User,
		Entrypoint:   cf.Config.Entrypoint,
		Cmd:          cf.Config.Cmd,
		WorkingDir:   cf.Config.WorkingDir,
		Layers:       len(mf.Layers),
		TotalSize:    mf.Config.Size,
	}
	for _, l := range mf.Layers {
		ic.TotalSize += l.Size
	}
	return ic, nil
}
