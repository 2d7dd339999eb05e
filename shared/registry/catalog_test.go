package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/registry/registrytest"
)

// pagedCatalog serves repos in pages of two whatever n the client asks
// for, as a registry that caps n does, linking each page to the next.
type pagedCatalog struct {
	repos []string
	pages int
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
		start = sort.SearchStrings(p.repos, last)
		if start < len(p.repos) && p.repos[start] == last {
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
