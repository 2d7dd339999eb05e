package localstack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeName is the name the local node registers.
const NodeName = "osb-node"

// StartNode starts the local node (hack/node) against k: a Kubernetes node
// that runs the builder's pods with the local BuildKit, and serves their
// logs. It returns once the node is Ready.
func (k *Kube) StartNode(ctx context.Context, tools Tools) error {
	p, err := k.startNode(ctx, tools, NodeName, false)
	if err != nil {
		return err
	}
	k.node = p
	return nil
}

// WitnessName is the name of the node StartWitness registers.
const WitnessName = "osb-witness"

// StartWitness starts a second, cordoned node that runs no pod. Kubernetes
// takes pods away from a lost node only while some other node is Ready (a
// cluster whose every node is lost looks to it like its own disconnection),
// so a test that loses the local node starts a witness first. stop ends it
// by its PID and removes its Node object.
func (k *Kube) StartWitness(ctx context.Context, tools Tools) (stop func(context.Context) error, err error) {
	p, err := k.startNode(ctx, tools, WitnessName, true)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		p.stop()
		k.forget(p)
		if err := k.Client.CoreV1().Nodes().Delete(ctx, WitnessName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("removing node %s: %w", WitnessName, err)
		}
		return nil
	}, nil
}

// startNode starts hack/node as node name, and waits until it is Ready.
func (k *Kube) startNode(ctx context.Context, tools Tools, name string, cordoned bool) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	transfer, err := k.transferBinary(ctx)
	if err != nil {
		return nil, err
	}
	work := filepath.Join(k.Dir, name)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	p, err := start(k.Dir, name, tools.node(),
		"-kubeconfig", filepath.Join(k.Dir, "admin.kubeconfig"),
		"-name", name,
		"-cordoned="+strconv.FormatBool(cordoned),
		"-port", strconv.Itoa(port),
		"-buildkitd", tools.buildkit("buildkitd"),
		"-buildctl", tools.buildkit("buildctl"),
		"-transfer", transfer,
		"-workdir", work)
	if err != nil {
		return nil, err
	}
	k.procs = append(k.procs, p)
	wait, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		n, err := k.Client.CoreV1().Nodes().Get(wait, name, metav1.GetOptions{})
		if err == nil && ready(n) {
			return p, nil
		}
		if p.exited() {
			return nil, fmt.Errorf("%s exited; its log ends:\n%s", name, p.tail())
		}
		select {
		case <-wait.Done():
			return nil, fmt.Errorf("node %s not ready: %w; its log ends:\n%s", name, wait.Err(), p.tail())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// transferBinary builds cmd/transfer once for k, which the node runs for
// the transfer image: this commit's code, unlike the cached tools.
func (k *Kube) transferBinary(ctx context.Context) (string, error) {
	if k.transfer != "" {
		return k.transfer, nil
	}
	out := filepath.Join(k.Dir, "transfer")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/apache/openserverless-builder/cmd/transfer")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building cmd/transfer: %w\n%s", err, b)
	}
	k.transfer = out
	return out, nil
}

// forget removes p, stopped, from the processes Stop ends.
func (k *Kube) forget(p *proc) {
	for i, q := range k.procs {
		if q == p {
			k.procs = append(k.procs[:i], k.procs[i+1:]...)
			return
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

// LoseNode ends the local node as a machine that loses its power: the node
// and every process it started (each build's daemon and steps) are killed
// at once, by PID, and report nothing. Its Node object stays and its lease
// is no longer renewed, so the control plane finds it unreachable and
// takes its pods away. StartNode brings a node back under the same name.
func (k *Kube) LoseNode() error {
	p := k.node
	if p == nil || p.exited() {
		return fmt.Errorf("the local node is not running")
	}
	pid := p.cmd.Process.Pid
	// Stopped first, so that it starts nothing while its tree is read.
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("stopping the local node: %w", err)
	}
	children := descendants(pid)
	for _, child := range children {
		_ = syscall.Kill(child, syscall.SIGKILL)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing the local node: %w", err)
	}
	<-p.done
	k.forget(p)
	k.node = nil
	// A killed process takes a moment to die: the node is lost once
	// none of them runs.
	for deadline := time.Now().Add(10 * time.Second); ; {
		alive := 0
		for _, child := range children {
			if running(child) {
				alive++
			}
		}
		if alive == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d processes of the local node still run 10 s after they were killed", alive)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// running reports whether pid is a process that has not exited (a zombie,
// which waits only to be reaped, has).
func running(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z' && stat[i+2] != 'X'
}
