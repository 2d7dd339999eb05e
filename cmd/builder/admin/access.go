package admin

import (
	"context"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// serviceAccountUser is the builder's identity as the authorizer sees it.
const serviceAccountUser = "system:serviceaccount:" + KubeNamespace + ":" + ServiceAccount

// access is one thing the builder's identity may or may not do.
type access = authorizationv1.ResourceAttributes

// beyond are rights the builder must not hold, whatever grants them: no
// Secret but the push credential, no pod of its own, no rights over
// rights, nothing in the system namespace but reading its configuration.
func beyond(registrySecret string) []access {
	return []access{
		{Namespace: KubeNamespace, Verb: "list", Resource: "secrets"},
		{Namespace: KubeNamespace, Verb: "get", Resource: "secrets", Name: TokenSecret},
		{Namespace: KubeNamespace, Verb: "create", Group: "batch", Resource: "jobs"},
		{Namespace: KubeNamespace, Verb: "update", Resource: "configmaps", Name: "config"},
		{Namespace: BuildNamespace, Verb: "get", Resource: "secrets"},
		{Namespace: BuildNamespace, Verb: "list", Resource: "secrets"},
		{Namespace: BuildNamespace, Verb: "update", Resource: "secrets", Name: registrySecret},
		{Namespace: BuildNamespace, Verb: "create", Resource: "pods"},
		{Namespace: BuildNamespace, Verb: "create", Resource: "pods", Subresource: "exec"},
		{Namespace: BuildNamespace, Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "rolebindings"},
		{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
		{Verb: "delete", Resource: "namespaces"},
		{Verb: "create", Group: "admissionregistration.k8s.io", Resource: "validatingadmissionpolicybindings"},
	}
}

// needs are the rights the Roles of deploy/rbac.yaml grant, one access
// each: what builds need.
func needs(roles []rbacv1.Role) []access {
	var out []access
	for _, role := range roles {
		for _, rule := range role.Rules {
			names := rule.ResourceNames
			if len(names) == 0 {
				names = []string{""}
			}
			for _, group := range rule.APIGroups {
				for _, res := range rule.Resources {
					resource, sub, _ := strings.Cut(res, "/")
					for _, verb := range rule.Verbs {
						for _, name := range names {
							out = append(out, access{Namespace: role.Namespace, Verb: verb, Group: group, Resource: resource, Subresource: sub, Name: name})
						}
					}
				}
			}
		}
	}
	return out
}

// can asks the API server's authorizer whether the builder's identity may
// do a.
func (c *Cluster) can(ctx context.Context, a access) (bool, error) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               serviceAccountUser,
		Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + KubeNamespace, "system:authenticated"},
		ResourceAttributes: &a,
	}}
	res, err := c.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("asking whether %s may %s: %w", ServiceAccount, describeAccess(a), err)
	}
	return res.Status.Allowed, nil
}

func describeAccess(a access) string {
	s := a.Verb + " " + a.Resource
	if a.Subresource != "" {
		s += "/" + a.Subresource
	}
	if a.Name != "" {
		s += " " + a.Name
	}
	if a.Namespace != "" {
		s += " in " + a.Namespace
	}
	return s
}

// roles are the Roles among objects.
func roles(objects []*unstructured.Unstructured) ([]rbacv1.Role, error) {
	var out []rbacv1.Role
	for _, o := range objects {
		if o.GetKind() != "Role" {
			continue
		}
		var r rbacv1.Role
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", Describe(o), err)
		}
		out = append(out, r)
	}
	return out, nil
}
