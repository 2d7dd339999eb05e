package manifest

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"

	"github.com/apache/openserverless-builder/shared/kinds"
)

// TestAdmissionPolicyParses: deploy/admission.yaml is a policy and its
// bindings once its parameters are filled in: one holds the Jobs and pods
// of the build namespace (ephemeral containers and resizes included) and
// demands a digest, the others what the builder creates, updates and
// deletes of ConfigMaps and of Secrets there; all deny and say why for
// every rule.
// (test/e2e proves on the real API server what it admits and refuses.)
func TestAdmissionPolicyParses(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "admission.yaml"))
	require.NoError(t, err)
	values := map[string]string{"BUILD_NAMESPACE": "nuvolaris-builds", "BUILDKIT_IMAGE": "moby/buildkit:v0.34.2-rootless@sha256:" + strings.Repeat("0", 64), "TRANSFER_IMAGE": "ghcr.io/apache/openserverless-builder/transfer:v0.1.0@sha256:" + strings.Repeat("0", 64), "REGISTRY_SECRET": "registry-pull-secret", "ALLOW_PRIVILEGED": "false"}
	text := os.Expand(string(raw), func(k string) string {
		v, ok := values[k]
		require.True(t, ok, "no value for %s", k)
		return v
	})
	docs := strings.Split(text, "\n---\n")
	require.Len(t, docs, 6, "three policies, each with its binding")
	want := []struct {
		resources  []string
		operations []admissionv1.OperationType
	}{
		{[]string{"jobs", "pods", "pods/ephemeralcontainers", "pods/resize"}, []admissionv1.OperationType{admissionv1.Create, admissionv1.Update}},
		{[]string{"configmaps"}, []admissionv1.OperationType{admissionv1.Create, admissionv1.Update, admissionv1.Delete}},
		{[]string{"secrets"}, []admissionv1.OperationType{admissionv1.Create, admissionv1.Update, admissionv1.Delete}},
	}
	for i, w := range want {
		var policy admissionv1.ValidatingAdmissionPolicy
		require.NoError(t, yaml.UnmarshalStrict([]byte(docs[2*i]), &policy))
		var binding admissionv1.ValidatingAdmissionPolicyBinding
		require.NoError(t, yaml.UnmarshalStrict([]byte(docs[2*i+1]), &binding))

		assert.Equal(t, policy.Name, binding.Spec.PolicyName)
		assert.Equal(t, []admissionv1.ValidationAction{admissionv1.Deny}, binding.Spec.ValidationActions)
		require.NotNil(t, binding.Spec.MatchResources)
		assert.Equal(t, map[string]string{"kubernetes.io/metadata.name": "nuvolaris-builds"}, binding.Spec.MatchResources.NamespaceSelector.MatchLabels)
		var resources []string
		for _, r := range policy.Spec.MatchConstraints.ResourceRules {
			resources = append(resources, r.Resources...)
			for _, op := range r.Operations {
				assert.Contains(t, w.operations, op, policy.Name)
			}
		}
		assert.Equal(t, w.resources, resources)
		assert.NotEmpty(t, policy.Spec.Validations)
		for _, v := range policy.Spec.Validations {
			assert.True(t, v.Message != "" || v.MessageExpression != "", "every rule says why: %s", v.Expression)
		}
		if i == 0 {
			assert.Contains(t, policy.Spec.Validations[0].Expression, "@sha256:", "the first rule demands a digest")
		} else {
			require.Len(t, policy.Spec.MatchConditions, 1)
			assert.Contains(t, policy.Spec.MatchConditions[0].Expression, "system:serviceaccount:nuvolaris:openserverless-builder", "the builder's own updates")
		}
	}
}

// TestAdmissionPolicyNamesTheKindsSecrets: the two places
// deploy/admission.yaml lists build secret names (the keys a build's
// Secret may hold; the ids buildctl may hand BuildKit) are exactly the
// kinds' (shared/kinds/kinds.go): a kind's new secret is admitted, and no
// other.
func TestAdmissionPolicyNamesTheKindsSecrets(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "admission.yaml"))
	require.NoError(t, err)
	var want []string
	for _, n := range kinds.Names() {
		k, _ := kinds.Lookup(n)
		for _, s := range k.SecretNames() {
			if !slices.Contains(want, s) {
				want = append(want, s)
			}
		}
	}
	slices.Sort(want)

	keys := regexp.MustCompile(`object\.data\.all\(k, k in \[([^\]]*)\]\)`).FindSubmatch(raw)
	require.NotNil(t, keys, "the Secrets policy lists the keys")
	var listed []string
	for _, q := range regexp.MustCompile(`'([^']+)'`).FindAllSubmatch(keys[1], -1) {
		listed = append(listed, string(q[1]))
	}
	slices.Sort(listed)
	assert.Equal(t, want, listed, "the keys a build's Secret may hold")

	ids := regexp.MustCompile(`--secret id=\(([^)]*)\),src=/build-secrets/\(([^)]*)\)`).FindSubmatch(raw)
	require.NotNil(t, ids, "the Jobs policy lists buildctl's secret ids")
	for _, group := range ids[1:] {
		names := strings.Split(strings.ReplaceAll(string(group), "[.]", "."), "|")
		slices.Sort(names)
		assert.Equal(t, want, names, "the secrets buildctl may hand BuildKit")
	}
}
