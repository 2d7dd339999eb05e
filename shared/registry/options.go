// Package registry talks to the cluster's OCI registry through
// go-containerregistry: catalog, tags, manifests and deletion (docs/contract.md, "Registry").
package registry

import (
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Options configure a Client.
type Options struct {
	// Insecure uses plain HTTP.
	Insecure bool
	// Auth authenticates to the registry; nil is anonymous.
	Auth authn.Authenticator
	// Transport carries the requests; reuse one across activations so a
	// warm container keeps its connections. nil uses remote.DefaultTransport.
	Transport http.RoundTripper
	// PageSize is the catalog and tag page size asked of the registry
	// (0: go-containerregistry's default, 1000).
	PageSize int
	// UserAgent names the caller in the registry's logs.
	UserAgent string
}

// Client talks to one registry.
type Client struct {
	reg       name.Registry
	nameOpts  []name.Option
	opts      []remote.Option
	transport http.RoundTripper // o.Transport or remote.DefaultTransport
}

// New returns a client for host ("host[:port]").
func New(host string, o Options) (*Client, error) {
	nameOpts := []name.Option{name.StrictValidation}
	if o.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, nameOpts...)
	if err != nil {
		return nil, err
	}
	auth := o.Auth
	if auth == nil {
		auth = authn.Anonymous
	}
	opts := []remote.Option{remote.WithAuth(auth)}
	transport := o.Transport
	if transport == nil {
		transport = remote.DefaultTransport
	}
	opts = append(opts, remote.WithTransport(transport))
	if o.PageSize > 0 {
		opts = append(opts, remote.WithPageSize(o.PageSize))
	}
	if o.UserAgent != "" {
		opts = append(opts, remote.WithUserAgent(o.UserAgent))
	}
	return &Client{reg: reg, nameOpts: nameOpts, opts: opts, transport: transport}, nil
}

// Host is the registry's host[:port].
func (c *Client) Host() string { return c.reg.RegistryStr() }
