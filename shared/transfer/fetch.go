package transfer

import (
	"context"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Fetch writes the image or index at ref, which must be pinned by digest,
// into the layout, and lists it in the layout's index. A blob the layout
// already holds (the source's layers, when the cache is fetched after it)
// is neither asked for nor written again.
func Fetch(ctx context.Context, ref string, o Options) (*Counter, error) {
	d, err := name.NewDigest(ref, o.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("fetch %q: a reference pinned by digest (<repository>@sha256:<hex>) is needed: %w", ref, err)
	}
	p, err := open(o.Layout)
	if err != nil {
		return nil, err
	}
	c := &Counter{}
	desc, err := remote.Get(d, o.remote(ctx, c)...)
	if err != nil {
		return c, fmt.Errorf("fetching %s: %w", d, err)
	}
	if err := write(p, desc); err != nil {
		return c, fmt.Errorf("fetching %s into the layout %s: %w", d, o.Layout, err)
	}
	return c, nil
}

// write writes the image or index desc describes into the layout, each
// layer read only when the layout lacks it.
func write(p layout.Path, desc *remote.Descriptor) error {
	if desc.MediaType.IsIndex() {
		ii, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		return p.AppendIndex(mappedIndex{ii: ii, f: lazy})
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	return p.AppendImage(mappedImage{Image: img, f: lazy})
}

// open is the layout at dir, made empty when there is none yet.
func open(dir string) (layout.Path, error) {
	if _, err := os.Stat(dir + "/index.json"); err == nil {
		p, err := layout.FromPath(dir)
		if err != nil {
			return "", fmt.Errorf("reading the layout %s: %w", dir, err)
		}
		return p, nil
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return "", fmt.Errorf("making the layout %s: %w", dir, err)
	}
	return p, nil
}
