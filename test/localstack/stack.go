package localstack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/apache/openserverless-builder/shared/registry/registrytest"
)

const (
	// Namespace is where the builder runs, as on OpenServerless.
	Namespace = "nuvolaris"
	// BuildNamespace is where builds live (deploy/rbac.yaml creates it).
	BuildNamespace = "nuvolaris-builds"
	// BuildkitImage is the BuildKit image the stack deploys with, pinned
	// by digest as deploy/admission.yaml demands. The node pulls nothing:
	// it runs the buildkitd it built for any moby/buildkit image, so the
	// digest is zeros, naming no image anywhere: only its shape, that of
	// an operator's pinned reference, matters here.
	BuildkitImage = "moby/buildkit:v0.34.2-rootless@sha256:0000000000000000000000000000000000000000000000000000000000000000"
	// TransferImage is the transfer image of the fetch and push steps,
	// pinned the same way: the node runs the transfer it built for it
	// from this commit (Kube.transferBinary).
	TransferImage = "ghcr.io/apache/openserverless-builder/transfer:v0.1.0@sha256:0000000000000000000000000000000000000000000000000000000000000000"
)

// Params are the package parameters the stack deploys with besides the
// kubeconfig: the pinned BuildKit and transfer images, and the base runtimes
// under runtimes/ shared with every user.
func Params(kubeconfig string) map[string]any {
	return map[string]any{"kubeconfig": kubeconfig, "buildkit_image": BuildkitImage, "transfer_image": TransferImage, "shared_repositories": "runtimes"}
}

// Stack is a whole local OpenServerless cluster as the builder sees it: the
// control plane with a node that runs builds, the registry, the builder's
// RBAC, the registry Secret, and ConfigMap config naming the registry.
type Stack struct {
	Kube     *Kube
	Registry *Registry
	// SAKubeconfig is the builder ServiceAccount's (deploy/rbac.yaml): what
	// a deployment binds as the kubeconfig parameter.
	SAKubeconfig string
}

// AdmissionValues are the parameters of deploy/admission.yaml for the
// local stack: the builder's defaults.
var AdmissionValues = map[string]string{
	"BUILD_NAMESPACE": BuildNamespace, "BUILDKIT_IMAGE": BuildkitImage, "TRANSFER_IMAGE": TransferImage,
	"REGISTRY_SECRET": "registry-pull-secret", "ALLOW_PRIVILEGED": "false",
}

// Up starts a Stack with its files under dir; rbac is deploy/rbac.yaml.
// With rbac "" the cluster is one without the builder, what `builder
// admin install` starts from: OpenServerless's registry Secret and
// ConfigMap config, no build namespace, RBAC or policy. Stop it with
// Down, also when Up fails.
func Up(ctx context.Context, tools Tools, dir, rbac string) (*Stack, error) {
	s := &Stack{}
	for _, d := range []string{"kube", "registry"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return s, err
		}
	}
	var err error
	if s.Kube, err = StartKube(ctx, tools, filepath.Join(dir, "kube"), Namespace); err != nil {
		return s, fmt.Errorf("starting the control plane: %w", err)
	}
	if s.Registry, err = StartRegistry(ctx, tools, filepath.Join(dir, "registry"), RegistryOptions{}); err != nil {
		return s, fmt.Errorf("starting the registry: %w", err)
	}
	if err := s.setup(ctx, rbac); err != nil {
		return s, fmt.Errorf("setting up the cluster: %w", err)
	}
	if err := s.Kube.StartNode(ctx, tools); err != nil {
		return s, fmt.Errorf("starting the node: %w", err)
	}
	return s, nil
}

// Down stops everything Up started, by PID.
func (s *Stack) Down() {
	if s.Kube != nil {
		s.Kube.Stop()
	}
	if s.Registry != nil {
		s.Registry.Stop()
	}
}

func (s *Stack) setup(ctx context.Context, rbac string) error {
	namespaces := []string{Namespace}
	if rbac != "" {
		if err := s.Kube.ApplyWith(ctx, rbac, AdmissionValues); err != nil {
			return err
		}
		// The admission policy beside it, as an operator deploys it: every
		// build of the suite and the demo is admitted by it.
		if err := s.Kube.ApplyWith(ctx, filepath.Join(filepath.Dir(rbac), "admission.yaml"), AdmissionValues); err != nil {
			return err
		}
		namespaces = append(namespaces, BuildNamespace)
	}
	doc := registrytest.DockerConfig(s.Registry.Host, s.Registry.User, s.Registry.Password)
	core := s.Kube.Client.CoreV1()
	// The registry actions read the Secret in the system namespace; the
	// builds mount their copy in theirs, as the operator copies it there.
	for _, ns := range namespaces {
		if _, err := core.Secrets(ns).Create(ctx, registrytest.Secret("registry-pull-secret", ns, doc), metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	if _, err := core.ConfigMaps(Namespace).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "config", Annotations: map[string]string{"registry_host": s.Registry.Host}},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if rbac == "" {
		return nil
	}
	var err error
	s.SAKubeconfig, err = s.Kube.ServiceAccountKubeconfig(ctx, Namespace, "openserverless-builder")
	return err
}

// ApplyWith applies the file at path with its ${PARAMETERS} filled in from
// values, as envsubst does for an operator (deploy/admission.yaml).
func (k *Kube) ApplyWith(ctx context.Context, path string, values map[string]string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if values != nil {
		data = []byte(os.Expand(string(data), func(v string) string { return values[v] }))
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	c := k.Client
	for {
		var raw runtime.RawExtension
		if err := dec.Decode(&raw); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if len(bytes.TrimSpace(raw.Raw)) == 0 {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(raw.Raw, nil, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		switch o := obj.(type) {
		case *corev1.Namespace:
			wait, cancel := context.WithTimeout(ctx, time.Minute)
			err = k.ensureNamespace(wait, o.Name)
			cancel()
		case *corev1.ServiceAccount:
			_, err = c.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *corev1.Secret:
			_, err = c.CoreV1().Secrets(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.Role:
			_, err = c.RbacV1().Roles(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			_, err = c.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *admissionv1.ValidatingAdmissionPolicy:
			_, err = c.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, o, metav1.CreateOptions{})
		case *admissionv1.ValidatingAdmissionPolicyBinding:
			_, err = c.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, o, metav1.CreateOptions{})
		default:
			err = fmt.Errorf("%s: unexpected %T", path, obj)
		}
		if err != nil {
			return err
		}
	}
}
