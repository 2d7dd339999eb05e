//go:build e2e

// Package e2e is the integration suite: every action, through its zip and
// the invoker harness, against a real Kubernetes control plane and a real
// distribution registry started on 127.0.0.1 (make e2e).
package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/apache/openserverless-builder/test/invoker"
	"github.com/apache/openserverless-builder/test/localstack"
)

const ns = "nuvolaris"

// stack is what TestMain started for every test.
var stack struct {
	kube         *localstack.Kube
	registry     *localstack.Registry // deletion enabled
	noDelete     *localstack.Registry // deletion disabled
	saKubeconfig string               // the builder ServiceAccount's, from deploy/rbac.yaml
	root         string
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	root, err := filepath.Abs("../..")
	if err != nil {
		panic(err)
	}
	stack.root = root
	tools := localstack.DefaultTools()
	if err := tools.Check(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "osb-e2e-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"kube", "registry", "nodelete"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			panic(err)
		}
	}
	start := time.Now()
	stack.kube, err = localstack.StartKube(ctx, tools, filepath.Join(dir, "kube"), ns)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the control plane:", err)
		return 1
	}
	defer stack.kube.Stop()
	stack.registry, err = localstack.StartRegistry(ctx, tools, filepath.Join(dir, "registry"), localstack.RegistryOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the registry:", err)
		return 1
	}
	defer stack.registry.Stop()
	stack.noDelete, err = localstack.StartRegistry(ctx, tools, filepath.Join(dir, "nodelete"), localstack.RegistryOptions{DeleteDisabled: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the second registry:", err)
		return 1
	}
	defer stack.noDelete.Stop()
	if err := setupCluster(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "setting up the cluster:", err)
		return 1
	}
	if err := stack.kube.StartNode(ctx, tools); err != nil {
		fmt.Fprintln(os.Stderr, "starting the node:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "local stack up in %s: API server %s, registry %s\n", time.Since(start).Round(time.Millisecond), stack.kube.Server, stack.registry.Host)
	return m.Run()
}

// setupCluster applies deploy/rbac.yaml, and adds what an OpenServerless
// cluster has: the registry Secret and ConfigMap config naming the registry.
func setupCluster(ctx context.Context) error {
	if err := apply(ctx, filepath.Join(stack.root, "deploy", "rbac.yaml")); err != nil {
		return err
	}
	auth := base64.StdEncoding.EncodeToString([]byte(stack.registry.User + ":" + stack.registry.Password))
	doc := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, stack.registry.Host, auth)
	core := stack.kube.Client.CoreV1()
	if _, err := core.Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "registry-pull-secret"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(doc)},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	// A Secret the builder must not read.
	if _, err := core.Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "couchdb-admin"},
		StringData: map[string]string{"password": "not-for-the-builder"},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := core.ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "config", Annotations: map[string]string{"registry_host": stack.registry.Host}},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	var err error
	stack.saKubeconfig, err = stack.kube.ServiceAccountKubeconfig(ctx, ns, "openserverless-builder")
	return err
}

// apply creates the objects of a multi-document YAML file.
func apply(ctx context.Context, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	c := stack.kube.Client
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
		case *corev1.ServiceAccount:
			_, err = c.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *corev1.Secret:
			_, err = c.CoreV1().Secrets(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.Role:
			_, err = c.RbacV1().Roles(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			_, err = c.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		default:
			err = fmt.Errorf("%s: unexpected %T", path, obj)
		}
		if err != nil {
			return err
		}
	}
}

// bound are the package parameters a deployment binds: the builder's own
// ServiceAccount, nothing else (the registry comes from ConfigMap config).
func bound() map[string]any {
	return map[string]any{"kubeconfig": stack.saKubeconfig}
}

// action starts the zip of an action under the invoker harness.
func action(t *testing.T, zip string) *invoker.Process {
	t.Helper()
	path := filepath.Join(stack.root, "build", zip+".zip")
	p, err := invoker.Start(path, invoker.Options{Dir: t.TempDir(), ExecutionEnv: invoker.DefaultExecutionEnv, Timeout: 60 * time.Second})
	require.NoError(t, err, "run `make build` before the suite (make e2e does)")
	t.Cleanup(p.Stop)
	return p
}

// call runs one activation and returns the status (0 for a plain
// invocation's error, 200 for its success) and the body.
func call(t *testing.T, p *invoker.Process, a invoker.Activation) (int, map[string]any) {
	t.Helper()
	res, err := p.RunValue(a)
	require.NoError(t, err)
	if _, isWeb := a.Value["__ow_method"]; isWeb {
		code, body, err := invoker.Response(res)
		require.NoError(t, err)
		return code, body
	}
	if _, failed := res["error"]; failed {
		return 0, res
	}
	return 200, res
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
