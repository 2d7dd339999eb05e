//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/names"
)

// TestServiceAccountIsLeastPrivilege: the suite runs every action with the
// ServiceAccount of deploy/rbac.yaml, which proves it is enough; this proves
// it is no more.
func TestServiceAccountIsLeastPrivilege(t *testing.T) {
	ctx := context.Background()
	sa := saClient(t)

	for _, n := range []string{ns, bns} {
		_, err := sa.CoreV1().Secrets(n).Get(ctx, "registry-pull-secret", metav1.GetOptions{})
		assert.NoError(t, err, "the registry Secret is readable in %s", n)
	}

	forbidden := map[string]func() error{
		"Jobs in the system namespace": func() error {
			_, err := sa.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
			return err
		},
		"listing ConfigMaps in the system namespace": func() error {
			_, err := sa.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
			return err
		},
		"reading another ConfigMap in the system namespace": func() error {
			_, err := sa.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
			return err
		},
		"updating ConfigMap config": func() error {
			_, err := sa.CoreV1().ConfigMaps(ns).Update(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "config"}}, metav1.UpdateOptions{})
			return err
		},
		"another Secret in the build namespace": func() error {
			_, err := sa.CoreV1().Secrets(bns).List(ctx, metav1.ListOptions{})
			return err
		},
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
			_, err := sa.CoreV1().Pods(bns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"},
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
		"BUILD_NAMESPACE": bns, "POD_CIDR": "10.244.0.0/16", "SERVICE_CIDR": "10.96.0.0/12",
		"NODE_CIDR": "192.168.49.0/24", "LINK_LOCAL_CIDR": "169.254.0.0/16", "PRIVATE_CIDRS": `"10.0.0.0/8", "172.16.0.0/12"`, "REGISTRY_NAMESPACE": ns, "REGISTRY_APP": "nuvolaris-registry", "REGISTRY_PORT": "5000",
	}
	create := func(values map[string]string) error {
		doc := os.Expand(string(raw), func(k string) string { return values[k] })
		var np networkingv1.NetworkPolicy
		require.NoError(t, yaml.Unmarshal([]byte(doc), &np))
		_, err := stack.kube.Client.NetworkingV1().NetworkPolicies(bns).Create(context.Background(), &np, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}
	require.NoError(t, create(values))
	values["POD_CIDR"] = "10.244.0.0/33"
	err = create(values)
	assert.True(t, apierrors.IsInvalid(err), "a broken range is refused: %v", err)
}

// TestBuilderUpdatesOnlyIndexes: the builder's ServiceAccount may update
// ConfigMaps in the build namespace (a Role cannot name each user's
// index), and deploy/admission.yaml holds it to indexes that stay their
// user's, and buildkitd.toml: a build context, a record, another user's
// index turned into one's own, or any other ConfigMap are refused, and
// stay as they were.
func TestBuilderUpdatesOnlyIndexes(t *testing.T) {
	ctx := context.Background()
	sa := saClient(t)
	cms := sa.CoreV1().ConfigMaps(bns)
	t.Cleanup(func() {
		for _, n := range []string{"build-victim-ctx", names.RecordName("build-victim-ctx"), names.IndexName("victim"), names.IndexName("thief"), "operator-settings"} {
			_ = stack.kube.Client.CoreV1().ConfigMaps(bns).Delete(ctx, n, metav1.DeleteOptions{})
		}
	})

	// The builder's own path: an index made and updated with its rights.
	x := builds.Index{Jobs: sa.BatchV1().Jobs(bns), Records: builds.Records{ConfigMaps: cms, Namespace: bns}, User: "victim"}
	for _, job := range []string{"build-victim-a", "build-victim-b"} {
		h, err := x.Load(ctx)
		require.NoError(t, err)
		require.NoError(t, x.Add(ctx, h, builds.Entry{Job: job, Created: time.Now().UTC()}, nil, func(builds.History) error { return nil }))
	}
	h, err := x.Load(ctx)
	require.NoError(t, err)
	assert.Len(t, h.Pending, 2, "the second entry is an update, admitted")

	labels := map[string]string{names.LabelManagedBy: names.ManagedBy, names.LabelUser: "victim", names.LabelBuildID: "ctx"}
	buildContext := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "build-victim-ctx", Labels: labels, Annotations: map[string]string{names.AnnotationUser: "victim"}},
		Data: map[string]string{"Dockerfile": "FROM busybox\n"}}
	// A context as an older builder made it (no owner): the builder may
	// create none such now (TestBuilderCreatesAndDeletesOnlyItsConfigMaps).
	_, err = stack.kube.Client.CoreV1().ConfigMaps(bns).Create(ctx, buildContext, metav1.CreateOptions{})
	require.NoError(t, err)
	record := buildContext.DeepCopy()
	record.Name, record.Labels[names.LabelRecord] = names.RecordName(buildContext.Name), "true"
	_, err = cms.Create(ctx, record, metav1.CreateOptions{})
	require.NoError(t, err)

	// Another ConfigMap of the namespace, not the builder's.
	_, err = stack.kube.Client.CoreV1().ConfigMaps(bns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "operator-settings"}, Data: map[string]string{"mode": "closed"}}, metav1.CreateOptions{})
	require.NoError(t, err)

	refused := map[string]func(*corev1.ConfigMap){
		buildContext.Name: func(cm *corev1.ConfigMap) { cm.Data["Dockerfile"] = "FROM evil\n" },
		record.Name:       func(cm *corev1.ConfigMap) { cm.Data["Dockerfile"] = "rewritten\n" },
		// An index relabelled as an index, to smuggle in a context.
		"context as an index": func(cm *corev1.ConfigMap) {},
		// victim's index made thief's.
		names.IndexName("victim"): func(cm *corev1.ConfigMap) { cm.Annotations[names.AnnotationUser] = "thief" },
		"operator-settings":       func(cm *corev1.ConfigMap) { cm.Data["mode"] = "open" },
	}
	for what, edit := range refused {
		name := what
		if what == "context as an index" {
			name = buildContext.Name
		}
		before, err := stack.kube.Client.CoreV1().ConfigMaps(bns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err, what)
		cm := before.DeepCopy()
		if what == "context as an index" {
			cm.Labels[names.LabelIndex] = "true"
		}
		edit(cm)
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		require.Error(t, err, what)
		assert.True(t, apierrors.IsForbidden(err), "%s: %v", what, err)
		assert.ErrorContains(t, err, "openserverless-builder-configmaps", what)
		after, err := stack.kube.Client.CoreV1().ConfigMaps(bns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, before.ResourceVersion, after.ResourceVersion, "%s is as it was", what)
	}
	h, err = x.Load(ctx)
	require.NoError(t, err)
	assert.Len(t, h.Pending, 2, "victim's index is intact")
}

// saClient is a clientset with the builder ServiceAccount's rights
// (deploy/rbac.yaml), as the actions hold them.
func saClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(stack.saKubeconfig))
	require.NoError(t, err)
	sa, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return sa
}
