package transfer

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// repoRegistry is go-containerregistry's registry, whose blobs are one
// store for every repository, made to answer as the distribution registry
// does: a repository holds only the blobs pushed or mounted into it, and a
// mount succeeds only from a repository that holds the blob. It counts
// what it is sent and which blobs are fetched.
type repoRegistry struct {
	*httptest.Server
	mu      sync.Mutex
	holds   map[string]map[string]bool // repository -> digest
	mounted []string                   // repository <- digest
	gets    map[string]int             // blob digest -> GETs
	sent    atomic.Int64               // bytes of PATCH, PUT and POST bodies
}

func newRepoRegistry(t *testing.T) *repoRegistry {
	t.Helper()
	r := &repoRegistry{holds: map[string]map[string]bool{}, gets: map[string]int{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		repo, rest, isBlob := strings.Cut(strings.TrimPrefix(req.URL.Path, "/v2/"), "/blobs/")
		if !isBlob {
			inner.ServeHTTP(w, req)
			return
		}
		if req.Body != nil {
			req.Body = &countingBody{ReadCloser: req.Body, n: &r.sent}
		}
		switch {
		case (req.Method == http.MethodGet || req.Method == http.MethodHead) && strings.HasPrefix(rest, "sha256:"):
			if !r.has(repo, rest) {
				http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN"}]}`, http.StatusNotFound)
				return
			}
			if req.Method == http.MethodGet {
				r.mu.Lock()
				r.gets[rest]++
				r.mu.Unlock()
			}
		case req.Method == http.MethodPost && req.URL.Query().Get("mount") != "":
			d, from := req.URL.Query().Get("mount"), req.URL.Query().Get("from")
			if r.has(from, d) {
				r.add(repo, d)
				r.mu.Lock()
				r.mounted = append(r.mounted, repo+" <- "+d)
				r.mu.Unlock()
				w.Header().Set("Location", "/v2/"+repo+"/blobs/"+d)
				w.Header().Set("Docker-Content-Digest", d)
				w.WriteHeader(http.StatusCreated)
				return
			}
			q := req.URL.Query()
			q.Del("mount")
			q.Del("from")
			req.URL.RawQuery = q.Encode()
		}
		rec := &statusRecorder{ResponseWriter: w}
		inner.ServeHTTP(rec, req)
		if d := req.URL.Query().Get("digest"); d != "" && rec.status == http.StatusCreated {
			r.add(repo, d)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *repoRegistry) host() string {
	u, _ := url.Parse(r.URL)
	return u.Host
}

func (r *repoRegistry) has(repo, d string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.holds[repo][d]
}

func (r *repoRegistry) add(repo, d string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.holds[repo] == nil {
		r.holds[repo] = map[string]bool{}
	}
	r.holds[repo][d] = true
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
