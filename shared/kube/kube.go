// Package kube builds the Kubernetes clients the actions use: REST clients
// for the core/v1 and batch/v1 groups only, with a scheme of those two
// groups, from a kubeconfig parameter, the service-account files, or
// KUBECONFIG (docs/contract.md, "Configuration").
//
// It does not use client-go's typed clientset: that imports
// kubernetes/scheme, whose initialisation registers every built-in API
// group, and keeps all of their code in each action's exec.
package kube

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	jsonserializer "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/apache/openserverless-builder/shared/apperr"
)

// The verbs the builder uses, per resource: client-go's typed clients and
// fakes have them too.
type (
	ConfigMaps interface {
		Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.ConfigMap, error)
		List(ctx context.Context, opts metav1.ListOptions) (*corev1.ConfigMapList, error)
		Create(ctx context.Context, cm *corev1.ConfigMap, opts metav1.CreateOptions) (*corev1.ConfigMap, error)
		Update(ctx context.Context, cm *corev1.ConfigMap, opts metav1.UpdateOptions) (*corev1.ConfigMap, error)
		Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
	}
	Secrets interface {
		Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Secret, error)
		Create(ctx context.Context, s *corev1.Secret, opts metav1.CreateOptions) (*corev1.Secret, error)
	}
	Pods interface {
		List(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error)
		GetLogs(name string, opts *corev1.PodLogOptions) *rest.Request
		Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
	}
	Jobs interface {
		Get(ctx context.Context, name string, opts metav1.GetOptions) (*batchv1.Job, error)
		List(ctx context.Context, opts metav1.ListOptions) (*batchv1.JobList, error)
		Create(ctx context.Context, job *batchv1.Job, opts metav1.CreateOptions) (*batchv1.Job, error)
		Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*batchv1.Job, error)
		Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
	}
)

// Core is the core/v1 group; Batch the batch/v1 group.
type (
	Core interface {
		ConfigMaps(namespace string) ConfigMaps
		Secrets(namespace string) Secrets
		Pods(namespace string) Pods
	}
	Batch interface {
		Jobs(namespace string) Jobs
	}
)

// Clients are the API groups the builder talks to.
type Clients struct {
	Core  Core
	Batch Batch
}

// NewClients builds the clients for cfg. They share one HTTP client, so
// connections are reused across the activations of a warm container.
func NewClients(cfg *rest.Config) (*Clients, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the Kubernetes HTTP client: %w", err)
	}
	s, err := newScheme()
	if err != nil {
		return nil, err
	}
	core, err := restClient(cfg, hc, s, "/api", corev1.SchemeGroupVersion)
	if err != nil {
		return nil, fmt.Errorf("building the core/v1 client: %w", err)
	}
	batch, err := restClient(cfg, hc, s, "/apis", batchv1.SchemeGroupVersion)
	if err != nil {
		return nil, fmt.Errorf("building the batch/v1 client: %w", err)
	}
	params := runtime.NewParameterCodec(s)
	return &Clients{Core: coreClient{core, params}, Batch: batchClient{batch, params}}, nil
}

// newScheme knows core/v1, batch/v1 and the options and status of meta/v1.
func newScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, batchv1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("building the API scheme: %w", err)
		}
	}
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	return s, nil
}

func restClient(cfg *rest.Config, hc *http.Client, s *runtime.Scheme, apiPath string, gv schema.GroupVersion) (*rest.RESTClient, error) {
	c := rest.CopyConfig(cfg)
	c.APIPath = apiPath
	c.GroupVersion = &gv
	c.ContentType = runtime.ContentTypeJSON
	c.AcceptContentTypes = runtime.ContentTypeJSON
	c.NegotiatedSerializer = jsonOnly(s)
	return rest.RESTClientForConfigAndClient(c, hc)
}

// jsonSerializer speaks JSON only, without conversion: what the builder
// sends and accepts. (serializer.NewCodecFactory would link the protobuf
// and CBOR serializers too, into every exec.)
type jsonSerializer struct {
	runtime.NegotiatedSerializer
	typer runtime.ObjectTyper
}

func jsonOnly(s *runtime.Scheme) jsonSerializer {
	js := jsonserializer.NewSerializerWithOptions(jsonserializer.DefaultMetaFactory, s, s, jsonserializer.SerializerOptions{})
	return jsonSerializer{
		NegotiatedSerializer: runtime.NewSimpleNegotiatedSerializer(runtime.SerializerInfo{
			MediaType: runtime.ContentTypeJSON, MediaTypeType: "application", MediaTypeSubType: "json",
			EncodesAsText: true, Serializer: js,
			StreamSerializer: &runtime.StreamSerializerInfo{EncodesAsText: true, Serializer: js, Framer: jsonserializer.Framer},
		}),
		typer: s,
	}
}

// EncoderForVersion sets apiVersion and kind on what it encodes.
func (j jsonSerializer) EncoderForVersion(e runtime.Encoder, gv runtime.GroupVersioner) runtime.Encoder {
	return runtime.WithVersionEncoder{Version: gv, Encoder: e, ObjectTyper: j.typer}
}

// DecoderToVersion decodes into the object as it is, with no conversion.
func (j jsonSerializer) DecoderToVersion(d runtime.Decoder, _ runtime.GroupVersioner) runtime.Decoder {
	return runtime.WithoutVersionDecoder{Decoder: d}
}

type coreClient struct {
	c      rest.Interface
	params runtime.ParameterCodec
}

func (c coreClient) ConfigMaps(ns string) ConfigMaps {
	return Resource[corev1.ConfigMap, corev1.ConfigMapList, *corev1.ConfigMap, *corev1.ConfigMapList]{c.c, c.params, ns, "configmaps"}
}

func (c coreClient) Secrets(ns string) Secrets {
	return Resource[corev1.Secret, corev1.SecretList, *corev1.Secret, *corev1.SecretList]{c.c, c.params, ns, "secrets"}
}

func (c coreClient) Pods(ns string) Pods {
	return PodResource{Resource[corev1.Pod, corev1.PodList, *corev1.Pod, *corev1.PodList]{c.c, c.params, ns, "pods"}}
}

type batchClient struct {
	c      rest.Interface
	params runtime.ParameterCodec
}

func (c batchClient) Jobs(ns string) Jobs {
	return Resource[batchv1.Job, batchv1.JobList, *batchv1.Job, *batchv1.JobList]{c.c, c.params, ns, "jobs"}
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

// InCluster is the value of the kubeconfig parameter that asks for the
// action container's own service-account token. Never a default: on a
// shared cluster that token is the one every user's action code runs
// with, so binding the builder's Role to it hands the builder's rights to
// every tenant.
const InCluster = "in-cluster"

// RESTConfig returns the configuration from kubeconfig (YAML text) when
// set; from the service-account files only when kubeconfig is InCluster;
// else from KUBECONFIG (local runs).
func (l Loader) RESTConfig(kubeconfig string) (*rest.Config, error) {
	switch {
	case kubeconfig == InCluster:
		token := filepath.Join(l.ServiceAccountDir, "token")
		if _, err := os.Stat(token); err != nil {
			return nil, apperr.New(500, "the kubeconfig parameter is %q, but %s holds no service-account token", InCluster, l.ServiceAccountDir)
		}
		return withUserAgent(&rest.Config{
			Host:            InClusterHost,
			BearerTokenFile: token,
			TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(l.ServiceAccountDir, "ca.crt")},
		}), nil
	case kubeconfig != "":
		cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kubeconfig))
		if err != nil {
			// The parser's message may quote the document: keep it out.
			return nil, apperr.New(500, "the kubeconfig parameter is not a usable kubeconfig; check the value bound to the builder package")
		}
		return withUserAgent(cfg), nil
	}
	if path := l.Getenv("KUBECONFIG"); path != "" {
		rules := &clientcmd.ClientConfigLoadingRules{Precedence: filepath.SplitList(path)}
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			return nil, apperr.New(500, "KUBECONFIG does not name a usable kubeconfig")
		}
		return withUserAgent(cfg), nil
	}
	return nil, apperr.New(500, "no Kubernetes credentials: bind the kubeconfig parameter to the builder's own ServiceAccount (README, Deploying)")
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
