package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"
)

// TestAdmissionPolicyParses: deploy/admission.yaml is a policy and its
// binding once its parameters are filled in; it matches the Jobs of the
// builder's ServiceAccount only, denies, and says why for every rule.
// (test/e2e proves on the real API server what it admits and refuses.)
func TestAdmissionPolicyParses(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "admission.yaml"))
	require.NoError(t, err)
	values := map[string]string{"BUILD_NAMESPACE": "nuvolaris", "BUILDKIT_IMAGE": "moby/buildkit:v0.34.2-rootless", "REGISTRY_SECRET": "registry-pull-secret", "ALLOW_PRIVILEGED": "false"}
	text := os.Expand(string(raw), func(k string) string {
		v, ok := values[k]
		require.True(t, ok, "no value for %s", k)
		return v
	})
	docs := strings.Split(text, "\n---\n")
	require.Len(t, docs, 2)
	var policy admissionv1.ValidatingAdmissionPolicy
	require.NoError(t, yaml.UnmarshalStrict([]byte(docs[0]), &policy))
	var binding admissionv1.ValidatingAdmissionPolicyBinding
	require.NoError(t, yaml.UnmarshalStrict([]byte(docs[1]), &binding))

	assert.Equal(t, policy.Name, binding.Spec.PolicyName)
	assert.Equal(t, []admissionv1.ValidationAction{admissionv1.Deny}, binding.Spec.ValidationActions)
	require.Len(t, policy.Spec.MatchConditions, 1)
	assert.Contains(t, policy.Spec.MatchConditions[0].Expression, "system:serviceaccount:nuvolaris:openserverless-builder")
	assert.Equal(t, []string{"jobs"}, []string(policy.Spec.MatchConstraints.ResourceRules[0].Resources))
	assert.NotEmpty(t, policy.Spec.Validations)
	for _, v := range policy.Spec.Validations {
		assert.NotEmpty(t, v.Message, v.Expression)
	}
}
