package registry

import (
	"context"
	"sort"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Catalog lists every repository of the registry, following its pagination.
func (c *Client) Catalog(ctx context.Context) ([]string, error) {
	repos, err := remote.Catalog(ctx, c.reg, c.opts...)
	if err != nil {
		return nil, failure(err, "listing the registry's repositories", "the registry has no catalog")
	}
	sort.Strings(repos)
	return repos, nil
}
