package localstack

import (
	"crypto/subtle"
	"net/http"
	"sync/atomic"
)

// Gate makes a package index private: once Require is called, a request
// without the credential it checks is answered 401, as a private index
// answers, and counted. Each index of this package embeds one.
type Gate struct {
	check   atomic.Pointer[func(*http.Request) bool]
	refused atomic.Int64
}

// Require makes the index answer only requests that check admits.
func (g *Gate) Require(check func(*http.Request) bool) { g.check.Store(&check) }

// Refused is how many requests the index refused.
func (g *Gate) Refused() int64 { return g.refused.Load() }

// wrap is h behind the gate.
func (g *Gate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if check := g.check.Load(); check != nil && !(*check)(r) {
			g.refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="private index"`)
			http.Error(w, "401 Unauthorized: this index is private", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// BasicAuth admits requests with HTTP basic credentials user and password.
func BasicAuth(user, password string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		u, p, ok := r.BasicAuth()
		return ok && equal(u, user) && equal(p, password)
	}
}

// BearerToken admits requests with the bearer token.
func BearerToken(token string) func(*http.Request) bool {
	return func(r *http.Request) bool { return equal(r.Header.Get("Authorization"), "Bearer "+token) }
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
