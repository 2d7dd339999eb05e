package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations by which BuildKit names what it exports into a layout: the
// image's full reference, the cache's tag.
const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

// Push pushes the image or index the layout names entry (by its full
// reference or its tag) to ref, and returns the pushed repository@digest.
// Each layer that one of the origins holds is mounted from the origin's
// repository rather than uploaded. An origin is repository@digest: an
// image the registry holds that the layout holds too (it was fetched into
// it), in a repository the build may read; one on another registry is
// ignored.
func Push(ctx context.Context, entry, ref string, origins []string, o Options) (name.Digest, *Counter, error) {
	to, err := name.ParseReference(ref, o.nameOptions()...)
	if err != nil {
		return name.Digest{}, nil, fmt.Errorf("push to %q: %w", ref, err)
	}
	p, err := layout.FromPath(o.Layout)
	if err != nil {
		return name.Digest{}, nil, fmt.Errorf("reading the layout %s: %w", o.Layout, err)
	}
	desc, err := find(p, entry)
	if err != nil {
		return name.Digest{}, nil, err
	}
	mounts, err := mountable(p, to.Context().Registry, origins, o)
	if err != nil {
		return name.Digest{}, nil, err
	}
	mount := func(l v1.Layer) (v1.Layer, error) {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		if repo, ok := mounts[d]; ok {
			return &remote.MountableLayer{Layer: l, Reference: repo.Digest(d.String())}, nil
		}
		return l, nil
	}
	c := &Counter{}
	t, err := taggable(p, desc, mount)
	if err == nil {
		// remote.Push writes an index's images, and their layers, first.
		err = remote.Push(to, t, o.remote(ctx, c)...)
	}
	if err != nil {
		return name.Digest{}, c, fmt.Errorf("pushing %s to %s: %w", entry, to, err)
	}
	return to.Context().Digest(desc.Digest.String()), c, nil
}

// taggable is the image or index desc names in the layout, its layers
// replaced by f.
func taggable(p layout.Path, desc v1.Descriptor, f layerFunc) (remote.Taggable, error) {
	if desc.MediaType.IsIndex() {
		ii, err := p.ImageIndex()
		if err != nil {
			return nil, err
		}
		if ii, err = ii.ImageIndex(desc.Digest); err != nil {
			return nil, err
		}
		return mappedIndex{ii: ii, f: f}, nil
	}
	img, err := p.Image(desc.Digest)
	if err != nil {
		return nil, err
	}
	return mappedImage{Image: img, f: f}, nil
}

// find is the entry of the layout's index named entry: the image whose
// full reference it is, else the one tagged entry that has no full
// reference, as BuildKit's cache export writes it. An image tagged like
// the cache (a target tag "cache") is never taken for it. BuildKit
// replaces an entry of the same name, so there is at most one of each.
func find(p layout.Path, entry string) (v1.Descriptor, error) {
	ii, err := p.ImageIndex()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading the layout's index: %w", err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading the layout's index: %w", err)
	}
	for _, named := range []func(map[string]string) bool{
		func(a map[string]string) bool { return a[annotationImageName] == entry },
		func(a map[string]string) bool { return a[annotationImageName] == "" && a[annotationRefName] == entry },
	} {
		for i := len(im.Manifests) - 1; i >= 0; i-- {
			if named(im.Manifests[i].Annotations) {
				return im.Manifests[i], nil
			}
		}
	}
	return v1.Descriptor{}, fmt.Errorf("the layout %s holds nothing named %q: did the build step write it?", string(p), entry)
}

// mountable maps each layer of the origins on registry to the repository
// it can be mounted from; the first origin that holds a layer wins.
func mountable(p layout.Path, registry name.Registry, origins []string, o Options) (map[v1.Hash]name.Repository, error) {
	out := map[v1.Hash]name.Repository{}
	for _, origin := range origins {
		d, err := name.NewDigest(origin, o.nameOptions()...)
		if err != nil {
			return nil, fmt.Errorf("origin %q: a reference pinned by digest is needed: %w", origin, err)
		}
		if d.Context().Registry != registry {
			continue // no registry mounts from another
		}
		h, err := v1.NewHash(d.DigestStr())
		if err != nil {
			return nil, err
		}
		layers, err := layersOf(p, h)
		if err != nil {
			return nil, fmt.Errorf("origin %s: %w", origin, err)
		}
		for _, l := range layers {
			if _, ok := out[l]; !ok {
				out[l] = d.Context()
			}
		}
	}
	return out, nil
}

// layersOf are the layer digests of the image or index h in the layout,
// those of every image of an index included.
func layersOf(p layout.Path, h v1.Hash) ([]v1.Hash, error) {
	raw, err := p.Bytes(h)
	if err != nil {
		return nil, fmt.Errorf("the layout does not hold %s: %w", h, err)
	}
	var head struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("reading %s: %w", h, err)
	}
	if head.MediaType.IsIndex() {
		im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", h, err)
		}
		var out []v1.Hash
		for _, m := range im.Manifests {
			if !m.MediaType.IsImage() && !m.MediaType.IsIndex() {
				continue
			}
			ls, err := layersOf(p, m.Digest)
			if err != nil {
				return nil, err
			}
			out = append(out, ls...)
		}
		return out, nil
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", h, err)
	}
	out := make([]v1.Hash, 0, len(m.Layers))
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out, nil
}
