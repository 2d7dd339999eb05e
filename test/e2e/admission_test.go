//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/test/localstack"
	"github.com/apache/openserverless-builder/test/policycases"
)

// TestAdmissionPolicyHoldsTheBuildShape: on the real API server, a Job
// the builder's ServiceAccount creates in the build's shape is admitted
// (every build of the suite is, too), and each case of test/policycases
// is refused by the policy, with a message that names what it refused
// (dry-run creates: nothing is left). The policy holds the whole build
// namespace: a cluster admin's own Job or pod there is refused too, and so
// is an ephemeral container added to a build pod; the system namespace is
// not its business.
func TestAdmissionPolicyHoldsTheBuildShape(t *testing.T) {
	ctx := context.Background()
	sa := saClient(t)
	plan := buildPlan(t)
	// With build secrets: the cases change their volume and mount too.
	plan.Secrets = map[string][]byte{"netrc": []byte("machine 127.0.0.1 login a password b")}
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	create := func(edit func(*batchv1.Job)) error {
		job := plan.Job()
		if edit != nil {
			edit(job)
		}
		_, err := sa.BatchV1().Jobs(bns).Create(ctx, job, dry)
		return err
	}
	require.NoError(t, create(nil), "the builder's own shape is admitted")
	for _, c := range policycases.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			if c.Server != "" {
				// The server refuses the Job itself, or drops the field:
				// either way what runs is the builder's shape.
				job := plan.Job()
				c.Edit(job)
				made, err := sa.BatchV1().Jobs(bns).Create(ctx, job, dry)
				if err == nil {
					plain, err := sa.BatchV1().Jobs(bns).Create(ctx, plan.Job(), dry)
					require.NoError(t, err)
					assert.Equal(t, plain.Spec.Template.Spec, made.Spec.Template.Spec, "%s: the change is dropped", c.Server)
					made.Spec.Template, plain.Spec.Template = corev1.PodTemplateSpec{}, corev1.PodTemplateSpec{}
					made.Spec.Selector, plain.Spec.Selector = nil, nil
					assert.Equal(t, plain.Spec, made.Spec, "%s: the change is dropped", c.Server)
				}
				return
			}
			// The policy takes a moment to load after the stack applies it.
			require.Eventually(t, func() bool { return create(c.Edit) != nil }, 10*time.Second, 100*time.Millisecond, "refused")
			err := create(c.Edit)
			require.True(t, apierrors.IsInvalid(err) || apierrors.IsForbidden(err), "%v", err)
			assert.Contains(t, err.Error(), "openserverless-builder-jobs", "refused by the policy, not by the API's validation")
			assert.Contains(t, err.Error(), c.Says)
		})
	}

	// Whoever creates them: a cluster admin's Job and pod in the build
	// namespace are held to the shape, while the system namespace is not
	// the policy's business.
	admin := stack.kube.Client
	job := plan.Job()
	job.Spec.Template.Spec.Containers[0].Image = "busybox:1"
	_, err := admin.BatchV1().Jobs(bns).Create(ctx, job, dry)
	assert.ErrorContains(t, err, "openserverless-builder-jobs", "an admin's Job of another image in the build namespace")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "stray", Labels: job.Spec.Template.Labels}, Spec: *job.Spec.Template.Spec.DeepCopy()}
	_, err = admin.CoreV1().Pods(bns).Create(ctx, pod, dry)
	assert.ErrorContains(t, err, "openserverless-builder-jobs", "an admin's pod of another image in the build namespace")
	job.Namespace = ns
	_, err = admin.BatchV1().Jobs(ns).Create(ctx, job, dry)
	assert.NoError(t, err, "the system namespace is not the policy's")

	// An ephemeral container (kubectl debug) in a pod of the build's
	// shape, which the API server admits as the Job controller's.
	shaped := plan.Job().Spec.Template
	shaped.Labels[names.LabelJobName] = plan.Name()
	pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "shaped-" + plan.ID, Labels: shaped.Labels}, Spec: shaped.Spec}
	pod, err = admin.CoreV1().Pods(bns).Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err, "a pod of the build's shape is admitted")
	t.Cleanup(func() {
		zero := int64(0)
		_ = admin.CoreV1().Pods(bns).Delete(context.Background(), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
	debug := []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debug", Image: localstack.BuildkitImage, Command: []string{"sh"}, TerminationMessagePolicy: corev1.TerminationMessageReadFile}}}
	require.Eventually(t, func() bool { // on the latest version: the node updates the pod's status
		latest, gerr := admin.CoreV1().Pods(bns).Get(ctx, pod.Name, metav1.GetOptions{})
		if gerr != nil {
			return false
		}
		latest.Spec.EphemeralContainers = debug
		_, err = admin.CoreV1().Pods(bns).UpdateEphemeralContainers(ctx, pod.Name, latest, metav1.UpdateOptions{})
		return !apierrors.IsConflict(err)
	}, 20*time.Second, 50*time.Millisecond)
	require.Error(t, err)
	assert.ErrorContains(t, err, "openserverless-builder-jobs")
	assert.ErrorContains(t, err, "ephemeral")
}

// TestBuilderCreatesAndDeletesOnlyItsConfigMaps: the builder's
// ServiceAccount may create and delete ConfigMaps in the build namespace,
// and deploy/admission.yaml holds it to its own kinds: a build context
// that no Job owns, or that could be rewritten, or any other name, is
// refused; a context its Job owns cannot be deleted (and so not made
// again with other content) until the garbage collector removes it with
// the Job.
func TestBuilderCreatesAndDeletesOnlyItsConfigMaps(t *testing.T) {
	ctx := context.Background()
	sa := saClient(t)
	cms := sa.CoreV1().ConfigMaps(bns)
	plan := buildPlan(t)
	plan.ID = "cm01234567"
	job, err := sa.BatchV1().Jobs(bns).Create(ctx, plan.Job(), metav1.CreateOptions{})
	require.NoError(t, err, "a suspended build Job: no pod runs")
	bg := metav1.DeletePropagationBackground
	t.Cleanup(func() {
		_ = stack.kube.Client.BatchV1().Jobs(bns).Delete(context.Background(), job.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
	})
	files := plan.Context()
	variant := func(edit func(*corev1.ConfigMap)) *corev1.ConfigMap {
		cm := plan.ConfigMap(files, job)
		edit(cm)
		return cm
	}
	refused := map[string]*corev1.ConfigMap{
		"a context no Job owns":            variant(func(cm *corev1.ConfigMap) { cm.OwnerReferences = nil }),
		"a context that can be rewritten":  variant(func(cm *corev1.ConfigMap) { cm.Immutable = nil }),
		"a context owned by another build": variant(func(cm *corev1.ConfigMap) { cm.OwnerReferences[0].Name = "build-victim-0123456789" }),
		"a context without the labels":     variant(func(cm *corev1.ConfigMap) { cm.Labels = nil }),
		"another name":                     {ObjectMeta: metav1.ObjectMeta{Name: "operator-settings-2"}, Data: map[string]string{"mode": "open"}},
	}
	for what, cm := range refused {
		_, err := cms.Create(ctx, cm, metav1.CreateOptions{})
		require.Error(t, err, what)
		assert.True(t, apierrors.IsForbidden(err), "%s: %v", what, err)
		assert.ErrorContains(t, err, "openserverless-builder-configmaps", what)
	}
	_, err = cms.Create(ctx, plan.ConfigMap(files, job), metav1.CreateOptions{})
	require.NoError(t, err, "the builder's own context")

	err = cms.Delete(ctx, job.Name, metav1.DeleteOptions{})
	require.Error(t, err, "a context its Job owns is not deleted by the builder")
	assert.ErrorContains(t, err, "openserverless-builder-configmaps")
	_, err = cms.Get(ctx, job.Name, metav1.GetOptions{})
	require.NoError(t, err, "the context is still there")

	require.NoError(t, sa.BatchV1().Jobs(bns).Delete(ctx, job.Name, metav1.DeleteOptions{PropagationPolicy: &bg}))
	require.Eventually(t, func() bool {
		_, err := cms.Get(ctx, job.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, 60*time.Second, 200*time.Millisecond, "the garbage collector removes it with its Job")
}

// TestBuilderCreatesOnlyBuildSecrets: the builder's right to create
// Secrets in the build namespace (deploy/rbac.yaml) makes nothing but a
// build's own secrets, on the real API server: a service-account token, a
// registry credential, a Secret no Job owns or owned by another build,
// one that can be rewritten, one with a key no kind reads, or by another
// name are refused by the policy; the builder reads, updates and deletes
// none; the garbage collector removes the build's with its Job.
func TestBuilderCreatesOnlyBuildSecrets(t *testing.T) {
	ctx := context.Background()
	sa := saClient(t)
	secrets := sa.CoreV1().Secrets(bns)
	plan := buildPlan(t)
	plan.ID = "se01234567"
	plan.Secrets = map[string][]byte{"netrc": []byte("machine 127.0.0.1 login a password b")}
	job, err := sa.BatchV1().Jobs(bns).Create(ctx, plan.Job(), metav1.CreateOptions{})
	require.NoError(t, err, "a suspended build Job: no pod runs")
	bg := metav1.DeletePropagationBackground
	t.Cleanup(func() {
		_ = stack.kube.Client.BatchV1().Jobs(bns).Delete(context.Background(), job.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
	})
	variant := func(edit func(*corev1.Secret)) *corev1.Secret {
		s := plan.SecretsObject(job)
		edit(s)
		return s
	}
	refused := map[string]*corev1.Secret{
		"a service-account token": variant(func(s *corev1.Secret) {
			s.Type = corev1.SecretTypeServiceAccountToken
			s.Annotations = map[string]string{corev1.ServiceAccountNameKey: "openserverless-builder"}
			s.Data = nil
		}),
		"a registry credential": variant(func(s *corev1.Secret) {
			s.Type = corev1.SecretTypeDockerConfigJson
			s.Data = map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{}}`)}
		}),
		"no owner":                   variant(func(s *corev1.Secret) { s.OwnerReferences = nil }),
		"owned by another build":     variant(func(s *corev1.Secret) { s.OwnerReferences[0].Name = "build-victim-0123456789" }),
		"mutable":                    variant(func(s *corev1.Secret) { s.Immutable = nil }),
		"a key no kind reads":        variant(func(s *corev1.Secret) { s.Data = map[string][]byte{"id_rsa": []byte("k")} }),
		"without the builder labels": variant(func(s *corev1.Secret) { s.Labels = nil }),
		"another name":               variant(func(s *corev1.Secret) { s.Name = "couchdb-admin" }),
	}
	for what, s := range refused {
		_, err := secrets.Create(ctx, s, metav1.CreateOptions{})
		require.Error(t, err, what)
		assert.True(t, apierrors.IsForbidden(err), "%s: %v", what, err)
		assert.ErrorContains(t, err, "openserverless-builder-secrets", what)
	}
	_, err = secrets.Create(ctx, plan.SecretsObject(job), metav1.CreateOptions{})
	require.NoError(t, err, "the build's own secrets")

	_, err = secrets.Get(ctx, plan.SecretName(), metav1.GetOptions{})
	assert.True(t, apierrors.IsForbidden(err), "the builder reads no build secret back: %v", err)
	err = secrets.Delete(ctx, plan.SecretName(), metav1.DeleteOptions{})
	assert.True(t, apierrors.IsForbidden(err), "nor deletes one: %v", err)

	require.NoError(t, sa.BatchV1().Jobs(bns).Delete(ctx, job.Name, metav1.DeleteOptions{PropagationPolicy: &bg}))
	require.Eventually(t, func() bool {
		_, err := stack.kube.Client.CoreV1().Secrets(bns).Get(ctx, plan.SecretName(), metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, 60*time.Second, 200*time.Millisecond, "the garbage collector removes it with its Job")
}
