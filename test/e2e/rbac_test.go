//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/names"
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
		"METADATA_CIDR": "169.254.169.254/32", "REGISTRY_NAMESPACE": ns, "REGISTRY_APP": "nuvolaris-registry", "REGISTRY_PORT": "5000",
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

// TestAdmissionPolicyHoldsTheBuildShape: on the real API server, a Job
// the builder's ServiceAccount creates in the build's shape is admitted
// (every build of the suite is, too), and one that mounts another Secret,
// runs another image (or the configured one by tag, not digest), asks for
// a token, is privileged, or has an unbounded emptyDir is refused
// (dry-run creates: nothing is left). The policy holds the whole build
// namespace: a cluster admin's own Job or pod there is refused too, and
// the system namespace is not its business.
func TestAdmissionPolicyHoldsTheBuildShape(t *testing.T) {
	ctx := context.Background()
	sa := saClient(t)
	plan := buildPlan(t)
	create := func(edit func(*corev1.PodSpec)) error {
		job := plan.Job()
		if edit != nil {
			edit(&job.Spec.Template.Spec)
		}
		_, err := sa.BatchV1().Jobs(bns).Create(ctx, job, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	require.NoError(t, create(nil), "the builder's own shape is admitted")
	refused := map[string]func(*corev1.PodSpec){
		"another Secret": func(s *corev1.PodSpec) {
			s.Volumes = append(s.Volumes, corev1.Volume{Name: "loot", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "couchdb-admin"}}})
		},
		"the registry Secret in the daemon": func(s *corev1.PodSpec) {
			d := podStep(s, names.DaemonContainer)
			d.VolumeMounts = append(d.VolumeMounts, corev1.VolumeMount{Name: "docker-config", MountPath: "/tmp/x"})
		},
		"the registry Secret in the build step": func(s *corev1.PodSpec) {
			b := podStep(s, names.ContainerName)
			b.VolumeMounts = append(b.VolumeMounts, corev1.VolumeMount{Name: "docker-config", MountPath: "/tmp/x"})
		},
		"another image":          func(s *corev1.PodSpec) { s.Containers[0].Image = "busybox:1" },
		"the image by tag":       func(s *corev1.PodSpec) { podStep(s, names.ContainerName).Image = config.DefaultBuildkitImage },
		"the crane image by tag": func(s *corev1.PodSpec) { podStep(s, names.StepPush).Image = config.DefaultCraneImage },
		"crane running a shell": func(s *corev1.PodSpec) {
			podStep(s, names.StepPush).Command = []string{"sh", "-c", "cat /registry-auth/config.json"}
		},
		"a token":            func(s *corev1.PodSpec) { s.AutomountServiceAccountToken = nil },
		"privilege":          func(s *corev1.PodSpec) { p := true; podStep(s, names.DaemonContainer).SecurityContext.Privileged = &p },
		"the host's network": func(s *corev1.PodSpec) { s.HostNetwork = true },
		"a hostPath": func(s *corev1.PodSpec) {
			s.Volumes = append(s.Volumes, corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
		},
		"an unbounded emptyDir": func(s *corev1.PodSpec) {
			s.Volumes = append(s.Volumes, corev1.Volume{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		},
		"environment from a Secret": func(s *corev1.PodSpec) {
			s.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "couchdb-admin"}}}}
		},
	}
	for what, edit := range refused {
		// The policy takes a moment to load after the stack applies it.
		require.Eventually(t, func() bool { return create(edit) != nil }, 10*time.Second, 100*time.Millisecond, "%s is refused", what)
		err := create(edit)
		assert.True(t, apierrors.IsInvalid(err) || apierrors.IsForbidden(err), "%s: %v", what, err)
		assert.Contains(t, err.Error(), "openserverless-builder-jobs", what)
	}

	// Whoever creates them: a cluster admin's Job and pod in the build
	// namespace are held to the shape, while the system namespace is not
	// the policy's business.
	admin := stack.kube.Client
	job := plan.Job()
	job.Spec.Template.Spec.Containers[0].Image = "busybox:1"
	_, err := admin.BatchV1().Jobs(bns).Create(ctx, job, dry)
	assert.ErrorContains(t, err, "openserverless-builder-jobs", "an admin's Job of another image in the build namespace")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "stray"}, Spec: *job.Spec.Template.Spec.DeepCopy()}
	_, err = admin.CoreV1().Pods(bns).Create(ctx, pod, dry)
	assert.ErrorContains(t, err, "openserverless-builder-jobs", "an admin's pod of another image in the build namespace")
	job.Namespace = ns
	_, err = admin.BatchV1().Jobs(ns).Create(ctx, job, dry)
	assert.NoError(t, err, "the system namespace is not the policy's")
}

// podStep is the container of s named name, init containers included.
func podStep(s *corev1.PodSpec, name string) *corev1.Container {
	for i := range s.InitContainers {
		if s.InitContainers[i].Name == name {
			return &s.InitContainers[i]
		}
	}
	for i := range s.Containers {
		if s.Containers[i].Name == name {
			return &s.Containers[i]
		}
	}
	panic("no step " + name)
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
	_, err = cms.Create(ctx, buildContext, metav1.CreateOptions{})
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
