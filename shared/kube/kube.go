// Package kube builds the Kubernetes clients the actions use: typed clients
// for the core and batch groups only, from a kubeconfig parameter, the
// service-account files, or KUBECONFIG (SPEC §4).
package kube

import (
	"fmt"
	"os"
	"path/filepath"

	batchv1 "k8s.io/client-go/kubernetes/typed/batch/v1"
	corev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/apache/openserverless-builder/shared/apperr"
)

// Clients are the API groups the builder talks to.
type Clients struct {
	Core  corev1.CoreV1Interface
	Batch batchv1.BatchV1Interface
}

// NewClients builds the typed clients for cfg. They share one HTTP client,
// so connections are reused across the activations of a warm container.
func NewClients(cfg *rest.Config) (*Clients, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the Kubernetes HTTP client: %w", err)
	}
	core, err := corev1.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("building the core/v1 client: %w", err)
	}
	batch, err := batchv1.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("building the batch/v1 client: %w", err)
	}
	return &Clients{Core: core, Batch: batch}, nil
}

// ServiceAccountDir is where Kubernetes mounts a pod's service-account token.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// InClusterHost is the API server as seen from a pod; the runtime passes no
// KUBERNETES_SERVICE_HOST, so the service name is used.
const InClusterHost = "https://kubernetes.default.svc"

// Loader finds the REST configuration.
type Loader struct {
	ServiceAccountDir string
	Getenv            func(string) string
}

// DefaultLoader looks where a deployed action and a local run find them.
func DefaultLoader() Loader {
	return Loader{ServiceAccountDir: ServiceAccountDir, Getenv: os.Getenv}
}

// RESTConfig returns the configuration from kubeconfig (YAML text) when set,
// else from the service-account files, else from KUBECONFIG.
func (l Loader) RESTConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kubeconfig))
		if err != nil {
			// The parser's message may quote the document: keep it out.
			return nil, apperr.New(500, "the kubeconfig parameter is not a usable kubeconfig; check the value bound to the builder package")
		}
		return withUserAgent(cfg), nil
	}
	token := filepath.Join(l.ServiceAccountDir, "token")
	if _, err := os.Stat(token); err == nil {
		return withUserAgent(&rest.Config{
			Host:            InClusterHost,
			BearerTokenFile: token,
			TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(l.ServiceAccountDir, "ca.crt")},
		}), nil
	}
	if path := l.Getenv("KUBECONFIG"); path != "" {
		rules := &clientcmd.ClientConfigLoadingRules{Precedence: filepath.SplitList(path)}
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			return nil, apperr.New(500, "KUBECONFIG does not name a usable kubeconfig")
		}
		return withUserAgent(cfg), nil
	}
	return nil, apperr.New(500, "no Kubernetes credentials: bind the kubeconfig parameter, or run where %s has a token", l.ServiceAccountDir)
}

// Client-side rate limit. client-go's default (5 per second) would make a
// cleanup of thousands of Jobs take many minutes; the API server's own
// priority and fairness protects it.
const (
	qps   = 500
	burst = 1000
)

func withUserAgent(cfg *rest.Config) *rest.Config {
	cfg.UserAgent = "openserverless-builder"
	cfg.QPS, cfg.Burst = qps, burst
	return cfg
}
