package identity

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/web"
)

var admins = []string{"nuvolaris", "ops"}

func TestResolve(t *testing.T) {
	tests := []struct {
		name       string
		req        *web.Request
		namespace  string
		want       Caller
		wantStatus int
	}{
		{"web user", &web.Request{Method: "POST", User: "devel"}, "nuvolaris", Caller{Name: "devel", Web: true}, 0},
		// Not folded: where namespaces are case-sensitive, Devel is another
		// user, and NUVOLARIS no admin.
		{"web user in upper case", &web.Request{Method: "POST", User: "Devel"}, "nuvolaris", Caller{}, http.StatusBadRequest},
		{"web user named like an admin in upper case", &web.Request{Method: "POST", User: "NUVOLARIS"}, "nuvolaris", Caller{}, http.StatusBadRequest},
		{"plain from an admin namespace in upper case", nil, "NUVOLARIS", Caller{}, http.StatusForbidden},
		{"web call to an action in an upper-case namespace", &web.Request{Method: "POST", User: "devel"}, "Nuvolaris", Caller{}, http.StatusForbidden},
		{"web admin", &web.Request{Method: "POST", User: "nuvolaris"}, "nuvolaris", Caller{Name: "nuvolaris", Admin: true, Web: true}, 0},
		{"web without user", &web.Request{Method: "POST"}, "nuvolaris", Caller{}, http.StatusUnauthorized},
		{"web user that is no repository name", &web.Request{Method: "POST", User: "bad_-name"}, "nuvolaris", Caller{}, http.StatusBadRequest},
		{"plain from admin", nil, "nuvolaris", Caller{Name: "nuvolaris", Admin: true}, 0},
		{"plain from second admin namespace", nil, "ops", Caller{Name: "ops", Admin: true}, 0},
		{"plain from user", nil, "devel", Caller{}, http.StatusForbidden},
		{"plain without namespace", nil, "", Caller{}, http.StatusForbidden},
		{"forged web fields in a user's plain invocation", &web.Request{Method: "POST", User: "nuvolaris"}, "devel", Caller{}, http.StatusForbidden},
		{"web fields without namespace", &web.Request{Method: "GET", User: "devel"}, "", Caller{}, http.StatusForbidden},
		{"web fields forging an admin without namespace", &web.Request{Method: "GET", User: "nuvolaris"}, "", Caller{}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.req, tt.namespace, admins)
			if tt.wantStatus != 0 {
				require.Error(t, err)
				assert.Equal(t, tt.wantStatus, apperr.Status(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestPlainForbiddenNamesWebEndpoint(t *testing.T) {
	_, err := Resolve(nil, "devel", admins)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/api/v1/web/")
}

func TestOwnership(t *testing.T) {
	devel := Caller{Name: "devel"}
	admin := Caller{Name: "nuvolaris", Admin: true}
	tests := []struct {
		repo           string
		owns, adminCan bool
	}{
		{"devel", true, true},
		{"devel/python", true, true},
		{"DEVEL/python", false, true},
		{"develop", false, true},
		{"other", false, true},
		{"other/devel", false, true},
		{"devel-x/y", false, true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.owns, devel.CanAccess(tt.repo), tt.repo)
		assert.Equal(t, tt.adminCan, admin.CanAccess(tt.repo), tt.repo)
		if !tt.owns {
			err := devel.Authorize(tt.repo)
			require.Error(t, err)
			assert.Equal(t, http.StatusForbidden, apperr.Status(err))
		}
	}
	assert.Error(t, devel.RequireAdmin("updatetoml"))
	assert.NoError(t, admin.RequireAdmin("updatetoml"))
}
