//go:build e2e

// Package e2e is the integration suite: every action, through its zip and
// the invoker harness, against a real Kubernetes control plane and a real
// distribution registry started on 127.0.0.1 (make e2e).
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/test/invoker"
	"github.com/apache/openserverless-builder/test/localstack"
)

// ns is the system namespace (configuration, admins' activations); bns
// is where builds live.
const (
	ns  = localstack.Namespace
	bns = localstack.BuildNamespace
)

// stack is what TestMain started for every test.
var stack struct {
	kube         *localstack.Kube
	registry     *localstack.Registry // deletion enabled
	noDelete     *localstack.Registry // deletion disabled
	mirror       *localstack.Registry // anonymous, the cluster's Docker Hub mirror
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
	if _, err := invoker.ZipDir(root); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
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
	start := time.Now()
	s, err := localstack.Up(ctx, tools, dir, filepath.Join(root, "deploy", "rbac.yaml"))
	defer s.Down()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	stack.kube, stack.registry, stack.saKubeconfig = s.Kube, s.Registry, s.SAKubeconfig
	stack.noDelete, err = localstack.StartRegistry(ctx, tools, filepath.Join(dir, "nodelete"), localstack.RegistryOptions{DeleteDisabled: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the second registry:", err)
		return 1
	}
	defer stack.noDelete.Stop()
	stack.mirror, err = localstack.StartRegistry(ctx, tools, filepath.Join(dir, "mirror"), localstack.RegistryOptions{Anonymous: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the Docker Hub mirror:", err)
		return 1
	}
	defer stack.mirror.Stop()
	if _, err := stack.mirror.PushSeedSource(); err != nil {
		fmt.Fprintln(os.Stderr, "pushing the seed's source to the mirror:", err)
		return 1
	}
	// Every send resolves its source: the base runtimes are there first.
	goroot, err := localstack.GoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, _, err := stack.registry.PushRuntimes(goroot); err != nil {
		fmt.Fprintln(os.Stderr, "pushing the base runtimes:", err)
		return 1
	}
	// A Secret the builder must not read.
	if _, err := s.Kube.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "couchdb-admin"},
		StringData: map[string]string{"password": "not-for-the-builder"},
	}, metav1.CreateOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "local stack up in %s: API server %s, registry %s\n", time.Since(start).Round(time.Millisecond), stack.kube.Server, stack.registry.Host)
	return m.Run()
}

// bound are the package parameters a deployment binds: the builder's own
// ServiceAccount and the stack's (localstack.Params), with Docker Hub
// pulled through the mirror as an air-gapped cluster does; the registry
// comes from ConfigMap config.
func bound() map[string]any {
	return invoker.Deployment(invoker.Merge(localstack.Params(stack.saKubeconfig), map[string]any{"registry_mirrors": "docker.io=" + stack.mirror.Host}))
}

// action starts the zip of an action under the invoker harness, deployed
// with bound() and then config, bound too: a request cannot override them.
func action(t *testing.T, zip string, config ...map[string]any) *invoker.Process {
	t.Helper()
	return actionWithin(t, zip, 60*time.Second, config...)
}

// actionWithin is action with activations limited to timeout, as
// OpenWhisk limits them: the harness stops waiting for an answer then.
func actionWithin(t *testing.T, zip string, timeout time.Duration, config ...map[string]any) *invoker.Process {
	t.Helper()
	path := filepath.Join(stack.root, "build", zip+".zip")
	p, err := invoker.Start(path, invoker.Options{Dir: t.TempDir(), ExecutionEnv: invoker.DefaultExecutionEnv, Timeout: timeout,
		Bound: invoker.Merge(append([]map[string]any{bound()}, config...)...)})
	require.NoError(t, err, "run `make build` before the suite (make e2e does)")
	t.Cleanup(p.Stop)
	return p
}

// call runs one activation and returns the status (0 for a plain
// invocation's error, 200 for its success) and the body.
func call(t *testing.T, p *invoker.Process, a invoker.Activation) (int, map[string]any) {
	t.Helper()
	res, err := p.RunValue(a)
	if errors.Is(err, invoker.ErrFinal) {
		return 400, map[string]any{"error": err.Error()}
	}
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

// indexOf is user's build index on the real API server, with the admin's
// rights: what tests use to leave a build as send leaves it.
func indexOf(user string) builds.Index {
	c := stack.kube.Client
	return builds.Index{Jobs: c.BatchV1().Jobs(bns), Records: builds.Records{ConfigMaps: c.CoreV1().ConfigMaps(bns), Namespace: bns}, User: user}
}

// enter enters the build whose Job is jobName in user's index, as send
// does before it creates the Job.
func enter(t testing.TB, ctx context.Context, user, jobName string, created time.Time) {
	t.Helper()
	x := indexOf(user)
	h, err := x.Load(ctx)
	require.NoError(t, err)
	require.NoError(t, x.Add(ctx, h, builds.Entry{Job: jobName, Created: created.UTC()}, nil, func(builds.History) error { return nil }))
}
