package registry

import (
	"context"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Catalog lists every repository of the registry, following its pagination.
func (c *Client) Catalog(ctx context.Context) ([]string, error) {
	repos, err := remote.Catalog(ctx, c.reg, c.opts...)
	if err != nil {
		return nil, failure(err, "listing the registry's repositories", "the registry has no catalog", false)
	}
	sort.Strings(repos)
	return repos, nil
}

// OwnedCatalog's pages grow from firstPage to lastPage names, doubling:
// most users have few repositories, and every name a page holds past
// them is one more directory the registry walks, so the first page is
// small; a user with many gets them in a few large pages.
const (
	firstPage = 32
	lastPage  = 1000
)

// maxRepositoryName is the longest repository name the distribution
// registry accepts (its reference grammar caps a name at 255 bytes).
const maxRepositoryName = 255

// OwnedCatalog lists the repositories owner owns: owner itself and every
// name under owner/. A registry's catalog is sorted and pages from
// `last`, so it pages from just before owner and stops at the first name
// past owner/…: what it costs is owner's repositories (and the few names
// that sort between them, such as owner-x and owner.x), not the
// registry's. Two orders are in use: by byte, and by path component
// (the distribution registry walks its storage, so owner/x comes before
// owner-x); either works. A registry whose pages follow neither gets the
// whole catalog read instead.
func (c *Client) OwnedCatalog(ctx context.Context, owner string) ([]string, error) {
	var repos []string
	// In either order, every name under owner/ comes before the first
	// name whose first component is owner+"0" or after ('0' follows '/').
	end := owner + "0"
	last := before(owner)
	for n := firstPage; ; n = min(2*n, lastPage) {
		page, err := remote.CatalogPage(c.reg, last, n, append(c.opts, remote.WithContext(ctx))...)
		if err != nil {
			return nil, failure(err, "listing the registry's repositories", "the registry has no catalog", false)
		}
		if len(page) == 0 {
			return repos, nil
		}
		if !pagedFrom(last, page, byteLess) && !pagedFrom(last, page, componentLess) {
			return c.ownedFromAll(ctx, owner)
		}
		for _, r := range page {
			if first, _, _ := strings.Cut(r, "/"); first >= end {
				return repos, nil
			}
			if r == owner || strings.HasPrefix(r, owner+"/") {
				repos = append(repos, r)
			}
		}
		last = page[len(page)-1]
	}
}

// pagedFrom reports whether page is a catalog page after last in the
// order less.
func pagedFrom(last string, page []string, less func(a, b string) bool) bool {
	if !less(last, page[0]) {
		return false
	}
	for i := 1; i < len(page); i++ {
		if !less(page[i-1], page[i]) {
			return false
		}
	}
	return true
}

func byteLess(a, b string) bool { return a < b }

// componentLess orders names by their path components, as a walk of the
// registry's storage lists them: a before a/x before a-b.
func componentLess(a, b string) bool {
	for {
		ca, ra, moreA := strings.Cut(a, "/")
		cb, rb, moreB := strings.Cut(b, "/")
		if ca != cb {
			return ca < cb
		}
		if !moreA || !moreB {
			return !moreA && moreB
		}
		a, b = ra, rb
	}
}

// ownedFromAll is OwnedCatalog over the whole catalog.
func (c *Client) ownedFromAll(ctx context.Context, owner string) ([]string, error) {
	all, err := c.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	var repos []string
	for _, r := range all {
		if r == owner || strings.HasPrefix(r, owner+"/") {
			repos = append(repos, r)
		}
	}
	return repos, nil
}

// before is a catalog position just before name, in either order: every
// repository name that sorts below name sorts at or below it, and name
// above it. A name is at most maxRepositoryName bytes of characters up to
// 'z', so the greatest name below "devel" is at most "devek" followed by
// z's; the position itself must be no longer, for the distribution
// registry opens it as a path.
func before(name string) string {
	if name == "" || len(name) >= maxRepositoryName {
		return ""
	}
	last := len(name) - 1
	return name[:last] + string(name[last]-1) + strings.Repeat("z", maxRepositoryName-len(name))
}
