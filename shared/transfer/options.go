// Package transfer moves images between a registry and the OCI layout a
// build pod's steps share: fetch writes only the blobs the layout lacks,
// push mounts the blobs the registry already holds in a repository the
// build may read, so that no step moves a base layer twice.
package transfer

import (
	"context"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Options are what every transfer needs besides its references.
type Options struct {
	// Layout is the OCI layout's directory.
	Layout string
	// Insecure talks plain HTTP to the registry.
	Insecure bool
	// Keychain finds the credential: authn.DefaultKeychain reads
	// $DOCKER_CONFIG/config.json, which only steps that mount the registry
	// Secret have; without one every request is anonymous.
	Keychain authn.Keychain
}

func (o Options) nameOptions() []name.Option {
	if o.Insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// remote are the registry options of one transfer, counting what its
// requests send and receive in c.
func (o Options) remote(ctx context.Context, c *Counter) []remote.Option {
	kc := o.Keychain
	if kc == nil {
		kc = authn.NewMultiKeychain() // finds nothing: anonymous
	}
	// go-containerregistry's default transport, which refuses a redirect
	// from a public registry to a private address.
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithTransport(c.wrap(remote.DefaultTransport))}
}
