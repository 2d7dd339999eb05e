// Package admin installs, upgrades, checks and removes the builder: the
// Kubernetes objects of deploy/ (server-side apply), the push Secret, the
// builder's kubeconfig, the OpenWhisk package of manifest.yaml and the
// default buildkitd.toml, all from one set of Values.
package admin

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Namespaces deploy/rbac.yaml creates and binds: the builder's identity
// lives in the system namespace, builds in their own.
const (
	KubeNamespace  = "nuvolaris"
	BuildNamespace = "nuvolaris-builds"
	// ServiceAccount and its long-lived token Secret, deploy/rbac.yaml's.
	ServiceAccount = "openserverless-builder"
	TokenSecret    = "openserverless-builder-token"
	// BuildkitdConf is the ConfigMap updatetoml writes.
	BuildkitdConf = "nuvolaris-buildkitd-conf"
	// FieldManager owns the fields install applies (kubectl diff shows
	// anything else that changed them).
	FieldManager = "openserverless-builder"
)

// Values are everything a deployment's parts must agree on: the admission
// policy and the package parameters are filled from the same fields.
type Values struct {
	RegistrySecret string // the dockerconfigjson Secret in KubeNamespace
	BuildkitImage  string // pinned by digest once resolved
	TransferImage  string
	Privileged     bool
	// APIServer is the Kubernetes API as the actions reach it, written in
	// the builder's kubeconfig.
	APIServer string
	// The NetworkPolicy's ranges and the registry's pods.
	PodCIDR, ServiceCIDR, NodeCIDR, LinkLocalCIDR string
	PrivateCIDRs                                  []string
	RegistryNamespace, RegistryApp                string
	RegistryPort                                  int
}

// Defaults are the values of an OpenServerless cluster.
func Defaults() Values {
	return Values{
		RegistrySecret: "registry-pull-secret",
		BuildkitImage:  "moby/buildkit:v0.34.2-rootless",
		TransferImage:  "ghcr.io/apache/openserverless-builder/transfer:v0.1.0",
		APIServer:      "https://kubernetes.default.svc",
		PodCIDR:        "10.244.0.0/16", ServiceCIDR: "10.96.0.0/12", NodeCIDR: "192.168.49.0/24",
		LinkLocalCIDR:     "169.254.0.0/16",
		PrivateCIDRs:      []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"},
		RegistryNamespace: KubeNamespace, RegistryApp: "nuvolaris-registry", RegistryPort: 5000,
	}
}

// Check refuses a value that is mistyped, naming it, before anything is
// changed.
func (v Values) Check() error {
	for flag, c := range map[string]string{"--pod-cidr": v.PodCIDR, "--service-cidr": v.ServiceCIDR, "--node-cidr": v.NodeCIDR, "--link-local-cidr": v.LinkLocalCIDR} {
		if _, _, err := net.ParseCIDR(c); err != nil {
			return fmt.Errorf("%s %q is not a CIDR range such as 10.96.0.0/12", flag, c)
		}
	}
	for _, c := range v.PrivateCIDRs {
		if _, _, err := net.ParseCIDR(c); err != nil {
			return fmt.Errorf("--private-cidrs: %q is not a CIDR range such as 10.0.0.0/8", c)
		}
	}
	if v.RegistryPort < 1 || v.RegistryPort > 65535 {
		return fmt.Errorf("--registry-port %d is not a port", v.RegistryPort)
	}
	for flag, s := range map[string]string{"--registry-secret": v.RegistrySecret, "--registry-namespace": v.RegistryNamespace, "--registry-app": v.RegistryApp} {
		if len(validation.IsDNS1123Label(s)) > 0 {
			return fmt.Errorf("%s %q is not a Kubernetes name", flag, s)
		}
	}
	if !strings.HasPrefix(v.APIServer, "https://") {
		return fmt.Errorf("--api-server %q must be an https:// URL", v.APIServer)
	}
	return nil
}

// Resolve pins BuildkitImage and TransferImage by digest: a reference that
// carries one is kept as it is (for machines that cannot reach the public
// registries), else the registry is asked for it.
func (v *Values) Resolve(ctx context.Context) error {
	for flag, ref := range map[string]*string{"--buildkit-image": &v.BuildkitImage, "--transfer-image": &v.TransferImage} {
		pinned, err := pin(ctx, *ref)
		if err != nil {
			return fmt.Errorf("%s %q: %w", flag, *ref, err)
		}
		*ref = pinned
	}
	return nil
}

func pin(ctx context.Context, ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("not an image reference: %w", err)
	}
	if _, ok := r.(name.Digest); ok {
		return ref, nil
	}
	if strings.Contains(ref, "@") {
		return "", fmt.Errorf("a digest must be sha256:<64 hex digits>")
	}
	d, err := crane.Digest(ref, crane.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("resolving its digest (pass the reference with @sha256:... where the registry cannot be reached): %w", err)
	}
	return ref + "@" + d, nil
}

// template are the ${NAMES} of deploy/admission.yaml and
// deploy/networkpolicy.yaml.
func (v Values) template() map[string]string {
	quoted := make([]string, len(v.PrivateCIDRs))
	for i, c := range v.PrivateCIDRs {
		quoted[i] = `"` + c + `"`
	}
	return map[string]string{
		"BUILD_NAMESPACE": BuildNamespace, "BUILDKIT_IMAGE": v.BuildkitImage, "TRANSFER_IMAGE": v.TransferImage,
		"REGISTRY_SECRET": v.RegistrySecret, "ALLOW_PRIVILEGED": fmt.Sprint(v.Privileged),
		"POD_CIDR": v.PodCIDR, "SERVICE_CIDR": v.ServiceCIDR, "NODE_CIDR": v.NodeCIDR, "LINK_LOCAL_CIDR": v.LinkLocalCIDR,
		"PRIVATE_CIDRS": strings.Join(quoted, ", "), "REGISTRY_NAMESPACE": v.RegistryNamespace, "REGISTRY_APP": v.RegistryApp,
		"REGISTRY_PORT": fmt.Sprint(v.RegistryPort),
	}
}

// Params are the package parameters that must agree with the Kubernetes
// objects; the manifest's others come from the environment as it says.
func (v Values) params(kubeconfig string) map[string]string {
	return map[string]string{
		"kube_namespace": KubeNamespace, "build_namespace": BuildNamespace, "kubeconfig": kubeconfig,
		"registry_secret": v.RegistrySecret, "buildkit_image": v.BuildkitImage, "transfer_image": v.TransferImage,
		"buildkit_privileged": fmt.Sprint(v.Privileged),
	}
}
