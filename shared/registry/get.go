package registry

import (
	"context"
	"encoding/json"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/apache/openserverless-builder/shared/apperr"
)

// Manifest is what the registry holds for one reference.
type Manifest struct {
	Name      string `json:"name"`      // repository, without host
	Reference string `json:"reference"` // as asked, without host
	// Image is the full reference users deploy with; the registry
	// actions set it (with registry_pull_host).
	Image     string         `json:"image,omitempty"`
	Digest    string         `json:"digest"`
	MediaType string         `json:"media_type"`
	Size      int64          `json:"size"` // of the manifest itself
	Manifest  map[string]any `json:"manifest"`
	// Config summarizes an image's configuration; nil for an index of
	// several images.
	Config *ImageConfig `json:"config,omitempty"`
	// For an index of one image and its attestations (what BuildKit pushes
	// with provenance): the index itself, and the image's digest; Manifest
	// and Config are then the image's.
	Index          map[string]any `json:"index,omitempty"`
	PlatformDigest string         `json:"platform_digest,omitempty"`
	// Attestations are the index's attestation manifests.
	Attestations []Attestation `json:"attestations,omitempty"`
}

// Attestation is one attestation manifest of an index: what it states
// (its in-toto predicate types) about which image.
type Attestation struct {
	Digest         string   `json:"digest"`
	PredicateTypes []string `json:"predicate_types"`
	SubjectDigest  string   `json:"subject_digest"`
}

// Annotations BuildKit puts on attestation manifests (the docker
// attestation storage layout).
const (
	annotationRefType   = "vnd.docker.reference.type"
	annotationRefDigest = "vnd.docker.reference.digest"
	refTypeAttestation  = "attestation-manifest"
	annotationPredicate = "in-toto.io/predicate-type"
)

// ImageConfig is the part of an image's configuration a user checks.
type ImageConfig struct {
	OS           string    `json:"os"`
	Architecture string    `json:"architecture"`
	Created      time.Time `json:"created"`
	User         string    `json:"user,omitempty"`
	Entrypoint   []string  `json:"entrypoint,omitempty"`
	Cmd          []string  `json:"cmd,omitempty"`
	WorkingDir   string    `json:"working_dir,omitempty"`
	Layers       int       `json:"layers"`
	// TotalSize is the config blob plus every layer, compressed: what the
	// image takes in the registry.
	TotalSize int64 `json:"total_size"`
}

// Get fetches the manifest of image ("<repo>:<tag>" or "<repo>@<digest>"),
// accepting OCI indexes and manifests and Docker manifest lists and v2
// manifests, and for an image its configuration.
func (c *Client) Get(ctx context.Context, image string) (*Manifest, error) {
	ref, err := c.Reference(image)
	if err != nil {
		return nil, err
	}
	doing := "reading " + image
	desc, err := remote.Get(ref, append(c.opts, remote.WithContext(ctx))...)
	if err != nil {
		return nil, failure(err, doing, "image "+image+" does not exist")
	}
	m := &Manifest{
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
func describeIndex(desc *remote.Descriptor, m *Manifest, doing string) error {
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
		a := Attestation{Digest: d.Digest.String(), SubjectDigest: d.Annotations[annotationRefDigest], PredicateTypes: []string{}}
		att, err := idx.Image(d.Digest)
		if err != nil {
			return failure(err, doing+": reading attestation "+d.Digest.String(), "attestation "+d.Digest.String()+" is missing")
		}
		am, err := att.Manifest()
		if err != nil {
			return failure(err, doing+": reading attestation "+d.Digest.String(), "attestation "+d.Digest.String()+" is missing")
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
		return failure(err, doing+": reading its image", "the image of the index is missing")
	}
	raw, err := img.RawManifest()
	if err != nil {
		return failure(err, doing+": reading its image", "the image of the index is missing")
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
func imageConfig(img v1.Image, doing, image string) (*ImageConfig, error) {
	mf, err := img.Manifest()
	if err != nil {
		return nil, apperr.Upstream(err, "%s: the manifest is not a readable image", doing)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, failure(err, doing+": reading its config", "the config blob of "+image+" is missing")
	}
	ic := &ImageConfig{
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
