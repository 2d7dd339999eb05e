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

// execute runs the pod as a kubelet runs it and returns how it ended: its
// init containers in order (the buildkitd sidecar started, and its
// startup probe passed, before the next), then its containers together,
// each with its own mounts, environment and log only: a step never sees
// what another mounts. The sidecar is restarted if it exits meanwhile
// (sidecar.go), and stops when the containers end.
func (p *Provider) execute(ctx context.Context, r *podRun) (int32, string, string) {
	pod := r.get()
	init, main, err := buildShape(pod)
	if err != nil {
		return 1, "Unsupported", err.Error()
	}
	for _, cs := range [][]container{init, main} {
		for i := range cs {
			if cs[i].mounts, err = p.materialize(ctx, pod, cs[i].spec, r.dir); err != nil {
				return 1, "CreateContainerConfigError", err.Error()
			}
		}
	}
	var daemon *sidecar
	defer func() { daemon.stop() }()
	for _, c := range init {
		p.setState(r, c.spec.Name, running())
		if c.role == daemonRole {
			d, err := p.startDaemon(ctx, r, c)
			if err != nil {
				p.setState(r, c.spec.Name, terminated(1, "Error"))
				return 1, "Error", err.Error()
			}
			daemon = p.keepAlive(ctx, r, c, d)
			continue
		}
		code, reason := p.runStep(ctx, r, c)
		p.setState(r, c.spec.Name, terminated(code, reason))
		if code != 0 {
			return code, reason, fmt.Sprintf("init container %s exited with code %d", c.spec.Name, code)
		}
	}
	p.update(r, func(pod *corev1.Pod) {
		pod.Status.Phase = corev1.PodRunning
		now := metav1.Now()
		setCondition(pod, corev1.PodInitialized, corev1.ConditionTrue, now)
		setCondition(pod, corev1.PodReady, corev1.ConditionTrue, now)
		setCondition(pod, corev1.ContainersReady, corev1.ConditionTrue, now)
	})
	type result struct {
		name   string
		code   int32
		reason string
	}
	results := make(chan result, len(main))
	for _, c := range main {
		p.setState(r, c.spec.Name, running())
		go func(c container) {
			code, reason := p.runStep(ctx, r, c)
			p.setState(r, c.spec.Name, terminated(code, reason))
			results <- result{c.spec.Name, code, reason}
		}(c)
	}
	var failed *result
	for range main {
		if res := <-results; res.code != 0 && failed == nil {
			failed = &res
		}
	}
	if failed != nil {
		return failed.code, failed.reason, fmt.Sprintf("container %s exited with code %d", failed.name, failed.code)
	}
	return 0, "Completed", ""
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
			case strings.Contains(a, "="+m+"/") || strings.Contains(a, "="+m+",") || strings.HasSuffix(a, "="+m):
				// a path in an option list: dest=/layouts,name=...
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

// daemonProc is a running buildkitd sidecar.
type daemonProc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	state  string
}

// startDaemon starts the buildkitd sidecar with its own mounts
// (buildkitd.toml, state, the socket's emptyDir), flags and environment,
// and runs its startup probe until it passes. The daemon is the local
// buildkitd, which runs as root here and so keeps BuildKit's process
// sandbox: it drops the rootless-only --oci-worker-no-process-sandbox.
func (p *Provider) startDaemon(ctx context.Context, r *podRun, c container) (*daemonProc, error) {
	daemonArgs := rewrite(c.spec.Args, c.mounts)
	addr := flagValue(daemonArgs, "--addr")
	if !strings.HasPrefix(addr, "unix://") {
		return nil, errors.New("the buildkitd sidecar must listen on a unix socket in a shared emptyDir (--addr unix://...)")
	}
	state := filepath.Join(r.dir, "state")
	// Each daemon its own trace socket, as each container has its own
	// /run: the default, /run/buildkit/otel-grpc.sock, is one for every
	// daemon on this machine, and a second daemon starting beside a first
	// fails to bind it.
	args := []string{"--root", state, "--addr", addr,
		"--otel-socket-path", filepath.Join(r.dir, "otel-grpc.sock"),
		"--oci-worker-snapshotter", "auto", "--oci-worker-net", "host"}
	if host, ok := c.mounts["/home/user/.config/buildkit"]; ok {
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
	logf, err := os.Create(r.logPath(c.spec.Name))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := command(p.cfg.Buildkitd, args, p.env(c, r.dir), logf, logf)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting buildkitd: %w", err)
	}
	d := &daemonProc{cmd: cmd, exited: make(chan struct{}), state: state}
	go func() { _ = cmd.Wait(); close(d.exited) }()
	if err := p.probe(ctx, c, r.dir, d.exited); err != nil {
		d.stop()
		return nil, fmt.Errorf("buildkitd did not start: %w\n%s", err, tail(r.logPath(c.spec.Name)))
	}
	return d, nil
}

// stop ends the daemon by its PID and removes its state.
func (d *daemonProc) stop() {
	if d == nil {
		return
	}
	stop(d.cmd, d.exited)
	_ = os.RemoveAll(d.state)
}

// runStep runs a container to its end with its own arguments, mounts and
// environment, logging to its own log; the pod's deletion kills it.
func (p *Provider) runStep(ctx context.Context, r *podRun, c container) (int32, string) {
	bin := p.cfg.Buildctl
	if c.role == transferRole {
		bin = p.cfg.Transfer
	}
	logf, err := os.Create(r.logPath(c.spec.Name))
	if err != nil {
		return 1, "Error"
	}
	defer logf.Close()
	cmd := command(bin, rewrite(c.spec.Args, c.mounts), p.env(c, r.dir), logf, logf)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(logf, "starting %s: %v\n", c.spec.Command[0], err)
		return 1, "Error"
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return int32(exit.ExitCode()), "Error"
		}
		if err != nil {
			return 1, "Error"
		}
		return 0, "Completed"
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return 137, "Killed"
	}
}

// probe runs the sidecar's exec startup probe (its buildctl, mapped to this
// machine's) every periodSeconds until it passes or fails failureThreshold
// times, as a kubelet does before it starts the pod's containers.
func (p *Provider) probe(ctx context.Context, daemon container, dir string, exited <-chan struct{}) error {
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
func stop(cmd *exec.Cmd, exited <-chan struct{}) {
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
