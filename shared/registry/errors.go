package registry

import (
	"context"
	"errors"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/apache/openserverless-builder/shared/apperr"
)

// failure maps an error of go-containerregistry to what the caller can act
// on: notFound for 404, the registry's refusal of the builder's credentials,
// and 502 for anything the registry or the network did wrong.
func failure(err error, doing, notFound string) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusNotFound:
			return apperr.NotFound("%s", notFound)
		case http.StatusUnauthorized, http.StatusForbidden:
			return apperr.Upstream(nil, "%s: the registry rejected the builder's credentials; an operator should check the registry Secret or registry_user/registry_password (status %d)", doing, terr.StatusCode)
		case http.StatusMethodNotAllowed:
			return apperr.Upstream(nil, "%s: deletion is disabled on the registry; an operator must enable it (REGISTRY_STORAGE_DELETE_ENABLED=true)", doing)
		}
		return apperr.Upstream(nil, "%s: the registry answered %d %s", doing, terr.StatusCode, http.StatusText(terr.StatusCode))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return apperr.UpstreamSaid(err, "%s: the registry did not answer in time", doing)
	}
	return apperr.UpstreamSaid(err, "%s: the registry is unreachable", doing)
}

// isNotFound reports whether the registry answered 404.
func isNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}
