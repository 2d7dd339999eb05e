package registry

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/apache/openserverless-builder/shared/apperr"
)

// Manifest is what the registry holds for one reference.
type Manifest struct {
	Name      string         `json:"name"`      // repository, without host
	Reference string         `json:"reference"` // as asked, without host
	Digest    string         `json:"digest"`
	MediaType string         `json:"media_type"`
	Size      int64          `json:"size"` // of the manifest itself
	Manifest  map[string]any `json:"manifest"`
	// Config summarizes an image's configuration; nil for an index.
	Config *ImageConfig `json:"config,omitempty"`
}

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
	if !desc.MediaType.IsImage() {
		return m, nil
	}
	img, err := desc.Image()
	if err != nil {
		return nil, apperr.Upstream(err, "%s: the manifest is not a readable image", doing)
	}
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
	m.Config = ic
	return m, nil
}
