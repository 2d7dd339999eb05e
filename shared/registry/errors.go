package registry

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/apache/openserverless-builder/shared/apperr"
)

// failure maps an error of go-containerregistry to what the caller can
// act on, by one rule (docs/contract.md, "Errors"):
//   - 404 is notFound. So are 401 and 403 when reading a source (a
//     registry and repository a user names): public registries answer so
//     for a repository that does not exist, and the user learns no more of
//     a private one. Elsewhere (the cluster registry, read with the
//     builder's credentials) they are those credentials refused (502).
//   - 405 is deletion disabled on the registry (502).
//   - A document over MaxSourceDocBytes, or a schema 1 image, is 400.
//   - Any other status is 502; a timeout or an unreachable registry is
//     503 with Retry-After: the registry may come back. Both in the
//     builder's words: the other end's text stays in the log.
func failure(err error, doing, notFound string, source bool) error {
	if errors.Is(err, errTooLarge) {
		return apperr.BadRequest("%s: its manifest or configuration is larger than %d bytes, more than a runtime image has: the builder does not read it", doing, MaxSourceDocBytes)
	}
	if errors.Is(err, remote.ErrSchema1) {
		return apperr.BadRequest("%s: a schema 1 image, which BuildKit cannot build from", doing)
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch {
		case terr.StatusCode == http.StatusNotFound,
			source && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden):
			return apperr.NotFound("%s", notFound)
		case terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden:
			return apperr.UpstreamSaid(err, "%s: the registry rejected the builder's credentials; an operator should check the registry Secret or registry_user/registry_password (status %d)", doing, terr.StatusCode)
		case terr.StatusCode == http.StatusMethodNotAllowed:
			return apperr.UpstreamSaid(err, "%s: deletion is disabled on the registry; an operator must enable it (REGISTRY_STORAGE_DELETE_ENABLED=true)", doing)
		}
		return apperr.UpstreamSaid(err, "%s: the registry answered %d %s", doing, terr.StatusCode, http.StatusText(terr.StatusCode))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return apperr.Unavailable(err, RetryAfter, "%s: the registry did not answer in time; try again shortly", doing)
	}
	return apperr.Unavailable(err, RetryAfter, "%s: the registry is unreachable; try again shortly", doing)
}

// RetryAfter is what a 503 of an unavailable registry asks the caller to
// wait.
const RetryAfter = 30 * time.Second

// isNotFound reports whether the registry answered 404.
func isNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}
