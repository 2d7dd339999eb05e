package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

// NetworkPolicyValues are example values of deploy/networkpolicy.yaml's
// parameters.
var NetworkPolicyValues = map[string]string{
	"BUILD_NAMESPACE": "nuvolaris-builds", "POD_CIDR": "10.244.0.0/16", "SERVICE_CIDR": "10.96.0.0/12",
	"NODE_CIDR": "192.168.49.0/24", "LINK_LOCAL_CIDR": "169.254.0.0/16",
	"PRIVATE_CIDRS":      `"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"`,
	"REGISTRY_NAMESPACE": "nuvolaris",
	"REGISTRY_APP":       "nuvolaris-registry", "REGISTRY_PORT": "5000",
}

// networkPolicy reads deploy/networkpolicy.yaml with values, as envsubst
// fills it in; every parameter must have a value.
func networkPolicy(t *testing.T, values map[string]string) (string, networkingv1.NetworkPolicy) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "networkpolicy.yaml"))
	require.NoError(t, err)
	text := os.Expand(string(raw), func(k string) string {
		v, ok := values[k]
		require.True(t, ok, "no value for %s", k)
		return v
	})
	var np networkingv1.NetworkPolicy
	require.NoError(t, yaml.UnmarshalStrict([]byte(text), &np))
	return text, np
}

// TestNetworkPolicyShape: build pods get no ingress; egress to DNS, the
// registry's pods on its port, and anywhere but the pod and service
// ranges, the node range, every link-local address and the private ranges.
func TestNetworkPolicyShape(t *testing.T) {
	_, np := networkPolicy(t, NetworkPolicyValues)
	assert.Equal(t, map[string]string{"app.kubernetes.io/managed-by": "openserverless-builder"}, np.Spec.PodSelector.MatchLabels, "the builder's pods, which every build pod is")
	assert.ElementsMatch(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, np.Spec.PolicyTypes)
	assert.Empty(t, np.Spec.Ingress)
	require.Len(t, np.Spec.Egress, 3)
	assert.Equal(t, "kube-dns", np.Spec.Egress[0].To[0].PodSelector.MatchLabels["k8s-app"])
	assert.Equal(t, "nuvolaris-registry", np.Spec.Egress[1].To[0].PodSelector.MatchLabels["app"])
	assert.Equal(t, int32(5000), np.Spec.Egress[1].Ports[0].Port.IntVal)
	world := np.Spec.Egress[2].To[0].IPBlock
	require.NotNil(t, world)
	assert.Equal(t, "0.0.0.0/0", world.CIDR)
	assert.ElementsMatch(t, []string{"10.244.0.0/16", "10.96.0.0/12", "192.168.49.0/24", "169.254.0.0/16",
		"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"}, world.Except, "the node and link-local addresses, and the VPC, are closed")
	text, _ := networkPolicy(t, NetworkPolicyValues)
	assert.False(t, strings.Contains(text, "${"), "every parameter is filled in")
}
