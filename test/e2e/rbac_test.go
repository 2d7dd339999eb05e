//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// TestServiceAccountIsLeastPrivilege: the suite runs every action with the
// ServiceAccount of deploy/rbac.yaml, which proves it is enough; this proves
// it is no more.
func TestServiceAccountIsLeastPrivilege(t *testing.T) {
	ctx := context.Background()
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(stack.saKubeconfig))
	require.NoError(t, err)
	sa, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)

	_, err = sa.CoreV1().Secrets(ns).Get(ctx, "registry-pull-secret", metav1.GetOptions{})
	assert.NoError(t, err, "the registry Secret is readable")

	forbidden := map[string]func() error{
		"another Secret": func() error {
			_, err := sa.CoreV1().Secrets(ns).Get(ctx, "couchdb-admin", metav1.GetOptions{})
			return err
		},
		"listing Secrets": func() error {
			_, err := sa.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
			return err
		},
		"Jobs in another namespace": func() error {
			_, err := sa.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
			return err
		},
		"ConfigMaps in another namespace": func() error {
			_, err := sa.CoreV1().ConfigMaps("kube-system").List(ctx, metav1.ListOptions{})
			return err
		},
		"creating pods": func() error {
			_, err := sa.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "x", Image: "busybox"}}}}, metav1.CreateOptions{})
			return err
		},
		"updating another ConfigMap": func() error {
			_, err := sa.CoreV1().ConfigMaps(ns).Update(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt"}}, metav1.UpdateOptions{})
			return err
		},
		"changing its own Role": func() error {
			_, err := sa.RbacV1().Roles(ns).Get(ctx, "openserverless-builder", metav1.GetOptions{})
			return err
		},
		"nodes": func() error {
			_, err := sa.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			return err
		},
		"namespaces": func() error {
			_, err := sa.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
			return err
		},
	}
	for what, try := range forbidden {
		err := try()
		assert.True(t, apierrors.IsForbidden(err), "%s must be forbidden, got %v", what, err)
	}
}

// TestNetworkPolicyIsValid: deploy/networkpolicy.yaml, its parameters
// filled in as envsubst does, is accepted by the real API server (a
// dry-run create, which validates it whole); a broken range is refused,
// so the check can fail.
func TestNetworkPolicyIsValid(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(stack.root, "deploy", "networkpolicy.yaml"))
	require.NoError(t, err)
	values := map[string]string{
		"BUILD_NAMESPACE": ns, "POD_CIDR": "10.244.0.0/16", "SERVICE_CIDR": "10.96.0.0/12",
		"METADATA_CIDR": "169.254.169.254/32", "REGISTRY_NAMESPACE": ns, "REGISTRY_APP": "nuvolaris-registry", "REGISTRY_PORT": "5000",
	}
	create := func(values map[string]string) error {
		doc := os.Expand(string(raw), func(k string) string { return values[k] })
		var np networkingv1.NetworkPolicy
		require.NoError(t, yaml.Unmarshal([]byte(doc), &np))
		_, err := stack.kube.Client.NetworkingV1().NetworkPolicies(ns).Create(context.Background(), &np, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}
	require.NoError(t, create(values))
	values["POD_CIDR"] = "10.244.0.0/33"
	err = create(values)
	assert.True(t, apierrors.IsInvalid(err), "a broken range is refused: %v", err)
}
