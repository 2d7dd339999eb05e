package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// execute runs the pod's build and returns the exit code of its build
// container. A build pod is two containers, as the builder makes it: a
// buildkitd native sidecar (an init container with restartPolicy Always)
// and a buildctl container, sharing the daemon's socket on an emptyDir.
// Each runs with its own mounts and environment only, as a kubelet would
// run them: the daemon never sees what the build container mounts.
func (p *Provider) execute(ctx context.Context, r *podRun, log io.Writer) (int32, string, string) {
	pod := r.get()
	daemon, client, err := buildShape(pod)
	if err != nil {
		return 1, "Unsupported", err.Error()
	}
	daemonMounts, err := p.materialize(ctx, pod, daemon, r.dir)
	if err != nil {
		return 1, "CreateContainerConfigError", err.Error()
	}
	clientMounts, err := p.materialize(ctx, pod, client, r.dir)
	if err != nil {
		return 1, "CreateContainerConfigError", err.Error()
	}
	now := metav1.Now()
	p.update(r, func(pod *corev1.Pod) {
		pod.Status.Phase = corev1.PodRunning
		for i := range pod.Status.ContainerStatuses {
			pod.Status.ContainerStatuses[i].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
			pod.Status.ContainerStatuses[i].Ready = true
			started := true
			pod.Status.ContainerStatuses[i].Started = &started
		}
		setCondition(pod, corev1.PodReady, corev1.ConditionTrue, now)
		setCondition(pod, corev1.ContainersReady, corev1.ConditionTrue, now)
	})
	return p.build(ctx, r.dir, container{daemon, daemonMounts}, container{client, clientMounts}, log)
}

// rewrite maps the container's paths in args to where they are on this
// machine, longest mount path first.
func rewrite(args []string, mounts map[string]string) []string {
	paths := make([]string, 0, len(mounts))
	for m := range mounts {
		paths = append(paths, m)
	}
	sort.Slice(paths, func(i, j int) bool { return len(paths[i]) > len(paths[j]) })
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		for _, m := range paths {
			switch {
			case a == m || strings.HasPrefix(a, m+"/"):
				out[i] = mounts[m] + strings.TrimPrefix(a, m)
			case strings.Contains(a, "="+m+"/") || strings.HasSuffix(a, "="+m):
				out[i] = strings.Replace(a, "="+m, "="+mounts[m], 1)
			case strings.HasPrefix(a, "unix://"+m+"/"):
				out[i] = "unix://" + mounts[m] + strings.TrimPrefix(a, "unix://"+m)
			default:
				continue
			}
			break
		}
	}
	return out
}

// env is the container's environment with its paths mapped, and a PATH and
// a HOME of its own on this machine.
func (p *Provider) env(c container, dir string) map[string]string {
	env := map[string]string{"PATH": os.Getenv("PATH"), "HOME": filepath.Join(dir, "home-"+c.spec.Name)}
	for _, e := range c.spec.Env {
		env[e.Name] = rewrite([]string{e.Value}, c.mounts)[0]
	}
	return env
}

// flagValue returns the value after name in args.
func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if strings.HasPrefix(a, name+"=") {
			return strings.TrimPrefix(a, name+"=")
		}
	}
	return ""
}

// build runs the pod as a kubelet runs it: the daemon sidecar with its own
// mounts (buildkitd.toml, state, the socket's emptyDir) and environment,
// its startup probe until it passes, then the build container's buildctl
// with its own. The daemon is the local buildkitd, which runs as root here
// and so keeps BuildKit's process sandbox: it drops the rootless-only
// --oci-worker-no-process-sandbox.
func (p *Provider) build(ctx context.Context, dir string, daemon, client container, log io.Writer) (int32, string, string) {
	daemonArgs := rewrite(daemon.spec.Args, daemon.mounts)
	addr := flagValue(daemonArgs, "--addr")
	if !strings.HasPrefix(addr, "unix://") {
		return 1, "Unsupported", "the buildkitd sidecar must listen on a unix socket in a shared emptyDir (--addr unix://...)"
	}
	args := []string{"--root", filepath.Join(dir, "state"), "--addr", addr,
		"--oci-worker-snapshotter", "native", "--oci-worker-net", "host"}
	if host, ok := daemon.mounts["/home/user/.config/buildkit"]; ok {
		if _, err := os.Stat(filepath.Join(host, "buildkitd.toml")); err == nil {
			args = append(args, "--config", filepath.Join(host, "buildkitd.toml"))
		}
	}
	for i := 0; i < len(daemonArgs); i++ {
		switch a := daemonArgs[i]; {
		case a == "--addr":
			i++
		case a == "--oci-worker-no-process-sandbox", strings.HasPrefix(a, "--addr="):
		default:
			args = append(args, a)
		}
	}
	daemonLog, err := os.Create(filepath.Join(dir, "buildkitd.log"))
	if err != nil {
		return 1, "Error", err.Error()
	}
	defer daemonLog.Close()
	d := command(p.cfg.Buildkitd, args, p.env(daemon, dir), daemonLog, daemonLog)
	if err := d.Start(); err != nil {
		return 1, "Error", "starting buildkitd: " + err.Error()
	}
	exited := make(chan struct{})
	go func() { _ = d.Wait(); close(exited) }()
	defer func() {
		stop(d, exited)
		_ = os.RemoveAll(filepath.Join(dir, "state"))
	}()

	if err := p.probe(ctx, daemon, dir, exited); err != nil {
		fmt.Fprintf(log, "buildkitd did not start: %v\n%s", err, tail(filepath.Join(dir, "buildkitd.log")))
		return 1, "Error", "buildkitd did not start"
	}
	cargs := rewrite(client.spec.Args, client.mounts)
	b := command(p.cfg.Buildctl, cargs, p.env(client, dir), log, log)
	if err := b.Start(); err != nil {
		return 1, "Error", "starting buildctl: " + err.Error()
	}
	done := make(chan error, 1)
	go func() { done <- b.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return int32(exit.ExitCode()), "Error", "buildctl failed"
		}
		if err != nil {
			return 1, "Error", err.Error()
		}
		return 0, "Completed", ""
	case <-ctx.Done():
		_ = syscall.Kill(-b.Process.Pid, syscall.SIGKILL)
		<-done
		return 137, "Killed", "the pod was deleted"
	}
}

// probe runs the sidecar's exec startup probe (its buildctl, mapped to this
// machine's) every periodSeconds until it passes or fails failureThreshold
// times, as a kubelet does before it starts the pod's containers.
func (p *Provider) probe(ctx context.Context, daemon container, dir string, exited chan struct{}) error {
	pr := daemon.spec.StartupProbe
	cmd := rewrite(pr.Exec.Command, daemon.mounts)
	if len(cmd) == 0 || cmd[0] != "buildctl" {
		return fmt.Errorf("startup probe %q: this node runs buildctl probes only", cmd)
	}
	period := time.Duration(max(pr.PeriodSeconds, 1)) * time.Second
	failures := max(pr.FailureThreshold, 1)
	for i := int32(0); i < failures; i++ {
		if command(p.cfg.Buildctl, cmd[1:], p.env(daemon, dir), io.Discard, io.Discard).Run() == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("buildkitd exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(period):
		}
	}
	return fmt.Errorf("startup probe failed %d times", failures)
}

func command(bin string, args []string, env map[string]string, stdout, stderr io.Writer) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// stop ends a daemon by PID: TERM, then KILL after 10 s.
func stop(cmd *exec.Cmd, exited chan struct{}) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
}

// tail is the end of the log at path, for a message.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(lastLines(data, 20))
}

// lastLines is the last n lines of data, each with its newline.
func lastLines(data []byte, n int) []byte {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return bytes.Join(lines, nil)
}
