package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/registry/registrytest"
)

// pagedCatalog serves repos in pages of two whatever n the client asks
// for, as a registry that caps n does, linking each page to the next.
type pagedCatalog struct {
	repos []string
	pages int
	// less is the catalog's order; nil is by byte.
	less func(a, b string) bool
}

func (p *pagedCatalog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v2/":
		return
	case "/v2/_catalog":
	default:
		http.NotFound(w, r)
		return
	}
	p.pages++
	start := 0
	if last := r.URL.Query().Get("last"); last != "" {
		less := p.less
		if less == nil {
			less = byteLess
		}
		for start < len(p.repos) && !less(last, p.repos[start]) {
			start++
		}
	}
	end := min(start+2, len(p.repos))
	if end < len(p.repos) {
		w.Header().Set("Link", fmt.Sprintf(`</v2/_catalog?last=%s&n=2>; rel="next"`, p.repos[end-1]))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string][]string{"repositories": p.repos[start:end]})
}

// TestCatalogFollowsEveryPage: the catalog is complete when the registry
// answers in pages smaller than asked for.
func TestCatalogFollowsEveryPage(t *testing.T) {
	cat := &pagedCatalog{repos: []string{"alice", "bob/x", "carol", "devel", "devel/python"}}
	c, err := New(registrytest.Serve(t, cat), Options{Insecure: true})
	require.NoError(t, err)
	repos, err := c.Catalog(context.Background())
	require.NoError(t, err)
	assert.Equal(t, cat.repos, repos)
	assert.Equal(t, 3, cat.pages, "three pages of two, two and one")
}

// TestOwnedCatalog: a user's repositories are found from their name on,
// past the names that sort between owner and owner/ (owner-x, owner.x),
// and the listing stops at the first name after owner/…: three pages of
// two here, not the six of the whole catalog. The same holds whether the
// registry sorts by byte or, as the distribution registry lists its
// storage as a walk, by path component (owner/x before owner-a).
func TestOwnedCatalog(t *testing.T) {
	for name, cat := range map[string]*pagedCatalog{
		"byte order":      {repos: []string{"alice", "deve", "devek", "devekzzz", "devel", "devel-a", "devel.b", "devel/x", "devel/y/z", "devel0", "develop", "zed"}},
		"component order": {less: componentLess, repos: []string{"alice", "deve", "devek", "devekzzz", "devel", "devel/x", "devel/y/z", "devel-a", "devel.b", "devel0", "develop", "zed"}},
	} {
		less := cat.less
		if less == nil {
			less = func(a, b string) bool { return a < b }
		}
		require.True(t, sort.SliceIsSorted(cat.repos, func(i, j int) bool { return less(cat.repos[i], cat.repos[j]) }), name)
		c, err := New(registrytest.Serve(t, cat), Options{Insecure: true})
		require.NoError(t, err)
		repos, err := c.OwnedCatalog(context.Background(), "devel")
		require.NoError(t, err)
		assert.Equal(t, []string{"devel", "devel/x", "devel/y/z"}, repos, name)
		assert.Equal(t, 3, cat.pages, "%s: from devel to devel0, two names a page", name)
	}

	cat := &pagedCatalog{repos: []string{"alice", "deve", "devek", "devekzzz", "devel", "devel-a", "devel.b", "devel/x", "devel/y/z", "devel0", "develop", "zed"}}
	c, err := New(registrytest.Serve(t, cat), Options{Insecure: true})
	require.NoError(t, err)

	for owner, want := range map[string][]string{"alice": {"alice"}, "zed": {"zed"}, "nobody": nil, "deve": {"deve"}} {
		got, err := c.OwnedCatalog(context.Background(), owner)
		require.NoError(t, err)
		assert.Equal(t, want, got, owner)
	}
}

// TestBefore: every name below owner sorts at or below before(owner), and
// owner above it, for the characters repository names have.
func TestBefore(t *testing.T) {
	for _, tt := range []struct {
		owner string
		below []string
	}{
		{"devel", []string{"deve", "devek", "devek-x", "devekzzzzzzzz", "devek/" + strings.Repeat("z", 240), "a", ""}},
		{"a", []string{"0", "9zzz", "9/" + strings.Repeat("z", 250)}},
		{"u0", []string{"u", "u/x", "u-zzz", "u.zzz"}},
	} {
		b := before(tt.owner)
		assert.Less(t, b, tt.owner)
		for _, name := range tt.below {
			assert.LessOrEqual(t, name, b, "%q below %q", name, tt.owner)
		}
	}
}

func TestComponentLess(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		less bool
	}{
		{"devel", "devel/x", true},
		{"devel/x", "devel-a", true},
		{"devel/y/z", "devel-a", true},
		{"devel-a", "devel/x", false},
		{"devel/x", "devel/x", false},
		{"devel/x", "devel/x/y", true},
		{"a/b", "a/c", true},
		{"b", "a/z", false},
	} {
		assert.Equal(t, tt.less, componentLess(tt.a, tt.b), "%s < %s", tt.a, tt.b)
	}
}

// TestOwnedCatalogWithoutPaging: a registry that ignores `last` (such as
// go-containerregistry's, which answers in map order) still gives the
// owner's repositories, from the whole catalog.
func TestOwnedCatalogWithoutPaging(t *testing.T) {
	host := registrytest.Start(t, "u", "p", "alice:v1", "devel:v1", "devel/python:v1", "devel0:v1", "develop:v1", "zed:v1")
	c, err := New(host, Options{Insecure: true, Auth: &authn.Basic{Username: "u", Password: "p"}})
	require.NoError(t, err)
	for i := 0; i < 5; i++ { // map order differs from call to call
		repos, err := c.OwnedCatalog(context.Background(), "devel")
		require.NoError(t, err)
		assert.Equal(t, []string{"devel", "devel/python"}, repos)
	}
}
