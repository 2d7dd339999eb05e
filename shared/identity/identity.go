// Package identity decides who is calling an action and what they may touch
// (docs/contract.md, "Identity").
package identity

import (
	"strings"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/reference"
	"github.com/apache/openserverless-builder/shared/web"
)

// Caller is the authenticated caller of one activation.
type Caller struct {
	Name  string // the user or namespace name, lower case as given
	Admin bool
	Web   bool
}

// Resolve finds the caller of an activation. req is nil for a plain
// invocation; namespace is the activation namespace (__OW_NAMESPACE).
//
// A web activation runs in the action owner's namespace, which is an admin
// namespace. A plain invocation through a shared package runs in the
// invoker's namespace, where the __ow_* fields are ordinary parameters that a
// user could forge; so a "web" activation outside an admin namespace, or
// with no namespace at all, is taken as the plain invocation it is.
func Resolve(req *web.Request, namespace string, admins []string) (Caller, error) {
	if req != nil && namespace != "" && isAdmin(namespace, admins) {
		if req.User == "" {
			return Caller{}, apperr.Unauthorized("no authenticated user: call the web action with your OpenWhisk credentials (basic auth of your namespace key)")
		}
		// Not folded: where namespaces are case-sensitive, DEVEL is not
		// devel, and folding would make NUVOLARIS an admin.
		name := req.User
		if !reference.ValidComponent(name) {
			return Caller{}, apperr.BadRequest("user name %q cannot name a repository: it must be lower-case letters and digits, separated by '.', '_', '__' or '-'", req.User)
		}
		return Caller{Name: name, Admin: isAdmin(name, admins), Web: true}, nil
	}
	if namespace == "" || !isAdmin(namespace, admins) {
		return Caller{}, apperr.Forbidden("plain invocations are for admin namespaces; call the web action instead: POST <apihost>/api/v1/web/nuvolaris/builder/<action> with your credentials")
	}
	return Caller{Name: namespace, Admin: true}, nil
}

// isAdmin matches name exactly: admin namespaces are compared as
// OpenWhisk names them, case and all.
func isAdmin(name string, admins []string) bool {
	for _, a := range admins {
		if strings.TrimSpace(a) == name {
			return true
		}
	}
	return false
}

// Owns reports whether repo is one of the caller's repositories: <user> or
// <user>/<anything>. Names are compared as they are: repository names are
// lower case, and one that is not was refused before it got here.
func (c Caller) Owns(repo string) bool {
	return repo == c.Name || strings.HasPrefix(repo, c.Name+"/")
}

// CanAccess reports whether the caller may read or change repo.
func (c Caller) CanAccess(repo string) bool { return c.Admin || c.Owns(repo) }

// Authorize is CanAccess as an error a user can act on.
func (c Caller) Authorize(repo string) error {
	if c.CanAccess(repo) {
		return nil
	}
	return apperr.Forbidden("repository %q is not yours: your repositories are %q and %q", repo, c.Name, c.Name+"/...")
}

// RequireAdmin is 403 for a non-admin.
func (c Caller) RequireAdmin(what string) error {
	if c.Admin {
		return nil
	}
	return apperr.Forbidden("%s is for admins only", what)
}
