package registry

import (
	"context"
	"sort"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Tags lists every tag of repo, following the registry's pagination.
func (c *Client) Tags(ctx context.Context, repo string) ([]string, error) {
	r, err := c.Repository(repo)
	if err != nil {
		return nil, err
	}
	tags, err := remote.List(r, append(c.opts, remote.WithContext(ctx))...)
	if err != nil {
		return nil, failure(err, "listing the tags of "+repo, "repository "+repo+" does not exist", false)
	}
	sort.Strings(tags)
	return tags, nil
}
