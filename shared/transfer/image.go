package transfer

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BinaryPath is where the transfer image holds its one file, on the PATH
// its config sets: the build steps run the command "transfer".
const BinaryPath = "/usr/local/bin/transfer"

// Image is the transfer image: the static binary at binary as its one
// layer, for this binary's platform, with nothing else. The binary
// carries its own CA roots (cmd/transfer), so no base image is needed.
// Its bytes depend on the binary alone: the same binary makes the same
// digest.
func Image(binary string) (v1.Image, error) {
	b, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("reading the transfer binary: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, dir := range []string{"usr/", "usr/local/", "usr/local/bin/", "tmp/"} {
		mode := int64(0o755)
		if dir == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: mode}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: BinaryPath[1:], Mode: 0o755, Size: int64(len(b))}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(b); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("making the transfer layer: %w", err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Env = []string{"PATH=/usr/local/bin"}
	cf.Config.Entrypoint = []string{BinaryPath}
	cf.Config.User = "65532:65532"
	return mutate.ConfigFile(img, cf)
}

// Publish pushes the transfer image of binary to ref and returns its
// repository@digest, which the package's transfer_image pins.
func Publish(ctx context.Context, binary, ref string, o Options) (name.Digest, error) {
	to, err := name.ParseReference(ref, o.nameOptions()...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("publish to %q: %w", ref, err)
	}
	img, err := Image(binary)
	if err != nil {
		return name.Digest{}, err
	}
	if err := remote.Write(to, img, o.remote(ctx, &Counter{})...); err != nil {
		return name.Digest{}, fmt.Errorf("pushing the transfer image to %s: %w", to, err)
	}
	d, err := img.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	return to.Context().Digest(d.String()), nil
}
