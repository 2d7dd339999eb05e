package transfer

import (
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// layerFunc replaces a layer of an image as it is written.
type layerFunc func(v1.Layer) (v1.Layer, error)

// mappedImage is an image whose layers f replaces; everything else is
// the image's own.
type mappedImage struct {
	v1.Image
	f layerFunc
}

func (m mappedImage) Layers() ([]v1.Layer, error) {
	ls, err := m.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		if out[i], err = m.f(l); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (m mappedImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := m.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return m.f(l)
}

// mappedIndex is an index whose images, nested ones included, have their
// layers replaced by f.
type mappedIndex struct {
	ii v1.ImageIndex
	f  layerFunc
}

func (m mappedIndex) MediaType() (types.MediaType, error)       { return m.ii.MediaType() }
func (m mappedIndex) Digest() (v1.Hash, error)                  { return m.ii.Digest() }
func (m mappedIndex) Size() (int64, error)                      { return m.ii.Size() }
func (m mappedIndex) IndexManifest() (*v1.IndexManifest, error) { return m.ii.IndexManifest() }
func (m mappedIndex) RawManifest() ([]byte, error)              { return m.ii.RawManifest() }

func (m mappedIndex) Image(h v1.Hash) (v1.Image, error) {
	img, err := m.ii.Image(h)
	if err != nil {
		return nil, err
	}
	return mappedImage{Image: img, f: m.f}, nil
}

func (m mappedIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	ii, err := m.ii.ImageIndex(h)
	if err != nil {
		return nil, err
	}
	return mappedIndex{ii: ii, f: m.f}, nil
}

// lazyLayer opens its content on the first read: a layout that already
// holds the blob closes it unread, so the registry is never asked for it.
type lazyLayer struct {
	v1.Layer
}

func lazy(l v1.Layer) (v1.Layer, error) { return lazyLayer{l}, nil }

func (l lazyLayer) Compressed() (io.ReadCloser, error) {
	return &lazyReader{open: l.Layer.Compressed}, nil
}

type lazyReader struct {
	open func() (io.ReadCloser, error)
	once sync.Once
	rc   io.ReadCloser
	err  error
}

func (r *lazyReader) Read(p []byte) (int, error) {
	r.once.Do(func() { r.rc, r.err = r.open() })
	if r.err != nil {
		return 0, r.err
	}
	return r.rc.Read(p)
}

func (r *lazyReader) Close() error {
	if r.rc == nil {
		return nil
	}
	return r.rc.Close()
}
