package manifest

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// roles reads the Roles of deploy/rbac.yaml by namespace, with the
// registry Secret's default name.
func roles(t *testing.T) map[string]rbacv1.Role {
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "rbac.yaml"))
	require.NoError(t, err)
	filled := os.Expand(string(data), func(v string) string {
		require.Equal(t, "REGISTRY_SECRET", v, "deploy/rbac.yaml's one parameter")
		return "registry-pull-secret"
	})
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(filled), 4096)
	out := map[string]rbacv1.Role{}
	for {
		var r rbacv1.Role
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		if r.Kind == "Role" {
			out[r.Namespace] = r
		}
	}
}

// TestRBACIsLeastPrivilege pins the builder's Roles to what the actions use
// (each rule's comment in deploy/rbac.yaml says which): a wider rule, or a
// rule that loses its resourceNames, fails here. In the system namespace
// the builder only reads; builds are in their own. The real API server's
// test (test/e2e, TestServiceAccountIsLeastPrivilege) proves the same rules are enough.
func TestRBACIsLeastPrivilege(t *testing.T) {
	got := roles(t)
	want := map[string][]rbacv1.PolicyRule{
		"nuvolaris": {
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"config"}, Verbs: []string{"get"}},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"registry-pull-secret"}, Verbs: []string{"get"}},
		},
		"nuvolaris-builds": {
			{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"create", "get", "list", "patch", "delete"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create", "get", "list", "update", "delete"}},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"registry-pull-secret"}, Verbs: []string{"get"}},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "delete"}},
			{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
		},
	}
	require.Len(t, got, len(want))
	for ns, rules := range want {
		assert.Equal(t, rules, got[ns].Rules, ns)
	}
	for _, r := range got {
		for _, rule := range r.Rules {
			for _, field := range [][]string{rule.APIGroups, rule.Resources, rule.Verbs, rule.ResourceNames} {
				assert.NotContains(t, field, "*", "no wildcard: %+v", rule)
			}
			if slices.Contains(rule.Resources, "secrets") && len(rule.ResourceNames) > 0 {
				assert.Equal(t, []string{"registry-pull-secret"}, rule.ResourceNames, "the registry Secret and no other")
				assert.Equal(t, []string{"get"}, rule.Verbs)
			} else if slices.Contains(rule.Resources, "secrets") {
				// Creating the builds' secrets, which deploy/admission.yaml
				// holds to their shape (test/e2e,
				// TestBuilderCreatesOnlyBuildSecrets): no read of any.
				assert.Equal(t, []string{"create"}, rule.Verbs, "no Secret is read but the registry's")
			}
			if slices.Contains(rule.Verbs, "update") && !slices.Equal(rule.Resources, []string{"configmaps"}) {
				// ConfigMaps' updates are bound by deploy/admission.yaml
				// (TestAdmissionPolicyParses, and test/e2e on the real API
				// server).
				assert.NotEmpty(t, rule.ResourceNames, "updates only of named objects: %+v", rule)
			}
		}
	}
}
