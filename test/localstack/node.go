package localstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeName is the name the local node registers.
const NodeName = "osb-node"

// StartNode starts the local node (hack/node) against k: a Kubernetes node
// that runs the builder's pods with the local BuildKit, and serves their
// logs. It returns once the node is Ready.
func (k *Kube) StartNode(ctx context.Context, tools Tools) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	work := filepath.Join(k.Dir, "node")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	p, err := start(k.Dir, "osb-node", tools.node(),
		"-kubeconfig", filepath.Join(k.Dir, "admin.kubeconfig"),
		"-name", NodeName,
		"-port", strconv.Itoa(port),
		"-buildkitd", tools.buildkit("buildkitd"),
		"-buildctl", tools.buildkit("buildctl"),
		"-crane", tools.crane(),
		"-workdir", work)
	if err != nil {
		return err
	}
	k.procs = append(k.procs, p)
	wait, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		n, err := k.Client.CoreV1().Nodes().Get(wait, NodeName, metav1.GetOptions{})
		if err == nil && ready(n) {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("osb-node exited; its log ends:\n%s", p.tail())
		}
		select {
		case <-wait.Done():
			return fmt.Errorf("node %s not ready: %w; its log ends:\n%s", NodeName, wait.Err(), p.tail())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
