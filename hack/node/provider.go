package main

import (
	"bufio"
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
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// Config says where the node's tools and files are.
type Config struct {
	Buildkitd, Buildctl string
	WorkDir             string
}

// Provider runs build pods with local BuildKit.
type Provider struct {
	cfg     Config
	cms     corev1listers.ConfigMapLister
	secrets corev1listers.SecretLister

	mu     sync.Mutex
	pods   map[string]*podRun
	notify func(*corev1.Pod)
}

// podRun is one pod on this node.
type podRun struct {
	mu     sync.Mutex
	pod    *corev1.Pod // replaced, never changed in place
	dir    string
	log    string
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *podRun) get() *corev1.Pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pod.DeepCopy()
}

// NewProvider returns a provider reading volumes through the listers.
func NewProvider(cfg Config, cms corev1listers.ConfigMapLister, secrets corev1listers.SecretLister) *Provider {
	return &Provider{cfg: cfg, cms: cms, secrets: secrets, pods: map[string]*podRun{}, notify: func(*corev1.Pod) {}}
}

func key(ns, name string) string { return ns + "/" + name }

// NotifyPods registers the pod controller's status callback.
func (p *Provider) NotifyPods(_ context.Context, f func(*corev1.Pod)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notify = f
}

func (p *Provider) update(r *podRun, change func(*corev1.Pod)) {
	r.mu.Lock()
	pod := r.pod.DeepCopy()
	change(pod)
	r.pod = pod
	r.mu.Unlock()
	p.mu.Lock()
	notify := p.notify
	p.mu.Unlock()
	notify(pod.DeepCopy())
}

// CreatePod starts the pod's build and returns at once.
func (p *Provider) CreatePod(_ context.Context, pod *corev1.Pod) error {
	k := key(pod.Namespace, pod.Name)
	p.mu.Lock()
	if _, ok := p.pods[k]; ok {
		p.mu.Unlock()
		return nil
	}
	// Short: the buildkitd socket inside must fit a unix socket path (104).
	dir := filepath.Join(p.cfg.WorkDir, "pods", strings.ReplaceAll(string(pod.UID), "-", "")[:12])
	ctx, cancel := context.WithCancel(context.Background())
	r := &podRun{pod: pod.DeepCopy(), dir: dir, log: filepath.Join(dir, "container.log"), cancel: cancel, done: make(chan struct{})}
	now := metav1.Now()
	r.pod.Status = corev1.PodStatus{
		Phase:     corev1.PodPending,
		HostIP:    "127.0.0.1",
		HostIPs:   []corev1.HostIP{{IP: "127.0.0.1"}},
		PodIP:     "127.0.0.1",
		PodIPs:    []corev1.PodIP{{IP: "127.0.0.1"}},
		StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
	}
	for _, c := range pod.Spec.Containers {
		r.pod.Status.ContainerStatuses = append(r.pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
		})
	}
	p.pods[k] = r
	p.mu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	go p.run(ctx, r)
	return nil
}

// UpdatePod has nothing to change in a running build.
func (p *Provider) UpdatePod(context.Context, *corev1.Pod) error { return nil }

// DeletePod stops the build (a deadline, a deleted Job) and reports the pod
// terminated.
func (p *Provider) DeletePod(_ context.Context, pod *corev1.Pod) error {
	k := key(pod.Namespace, pod.Name)
	p.mu.Lock()
	r, ok := p.pods[k]
	delete(p.pods, k)
	p.mu.Unlock()
	if !ok {
		return errdefs.NotFoundf("pod %s is not on this node", k)
	}
	r.cancel()
	<-r.done
	p.update(r, func(pod *corev1.Pod) {
		if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			pod.Status.Phase = corev1.PodFailed
			pod.Status.Reason = "Deleted"
		}
	})
	_ = os.RemoveAll(r.dir)
	return nil
}

func (p *Provider) lookup(ns, name string) (*podRun, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.pods[key(ns, name)]
	if !ok {
		return nil, errdefs.NotFoundf("pod %s/%s is not on this node", ns, name)
	}
	return r, nil
}

// GetPod returns a copy of the pod with its current status.
func (p *Provider) GetPod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	r, err := p.lookup(ns, name)
	if err != nil {
		return nil, err
	}
	return r.get(), nil
}

// GetPodStatus returns the pod's current status.
func (p *Provider) GetPodStatus(ctx context.Context, ns, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

// GetPods lists the pods on this node.
func (p *Provider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	runs := make([]*podRun, 0, len(p.pods))
	for _, r := range p.pods {
		runs = append(runs, r)
	}
	p.mu.Unlock()
	pods := make([]*corev1.Pod, 0, len(runs))
	for _, r := range runs {
		pods = append(pods, r.get())
	}
	return pods, nil
}

// GetContainerLogs serves a container's log (the build's, or the
// buildkitd sidecar's), for `kubectl logs` and
// the API server's pods/log.
func (p *Provider) GetContainerLogs(_ context.Context, ns, name, container string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	r, err := p.lookup(ns, name)
	if err != nil {
		return nil, err
	}
	path := r.log
	if container == "buildkitd" {
		path = filepath.Join(r.dir, "buildkitd.log")
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		data, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	if opts.Tail > 0 {
		lines := bytes.SplitAfter(data, []byte("\n"))
		if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
			lines = lines[:len(lines)-1]
		}
		if len(lines) > opts.Tail {
			lines = lines[len(lines)-opts.Tail:]
		}
		data = bytes.Join(lines, nil)
	}
	if opts.LimitBytes > 0 && len(data) > opts.LimitBytes {
		data = data[:opts.LimitBytes]
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

var errUnsupported = errdefs.InvalidInput("not supported on this node: it only runs builds")

// RunInContainer is not supported.
func (p *Provider) RunInContainer(context.Context, string, string, string, []string, api.AttachIO) error {
	return errUnsupported
}

// AttachToContainer is not supported.
func (p *Provider) AttachToContainer(context.Context, string, string, string, api.AttachIO) error {
	return errUnsupported
}

// PortForward is not supported.
func (p *Provider) PortForward(context.Context, string, string, int32, io.ReadWriteCloser) error {
	return errUnsupported
}

// GetStatsSummary reports no stats.
func (p *Provider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return &statsv1alpha1.Summary{}, nil
}

// GetMetricsResource reports no metrics.
func (p *Provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, nil
}

// Close stops every build.
func (p *Provider) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	runs := make([]*podRun, 0, len(p.pods))
	for _, r := range p.pods {
		runs = append(runs, r)
	}
	p.mu.Unlock()
	for _, r := range runs {
		r.cancel()
		<-r.done
	}
}

// run executes the pod and reports how it ended.
func (p *Provider) run(ctx context.Context, r *podRun) {
	defer close(r.done)
	logf, err := os.Create(r.log)
	if err != nil {
		p.finish(r, 1, "Error", err.Error())
		return
	}
	defer logf.Close()
	code, reason, msg := p.execute(ctx, r, logf)
	p.finish(r, code, reason, msg)
}

func (p *Provider) finish(r *podRun, code int32, reason, msg string) {
	now := metav1.Now()
	p.update(r, func(pod *corev1.Pod) {
		pod.Status.Phase = corev1.PodSucceeded
		if code != 0 {
			pod.Status.Phase = corev1.PodFailed
		}
		for i := range pod.Status.ContainerStatuses {
			cs := &pod.Status.ContainerStatuses[i]
			started := now
			if cs.State.Running != nil {
				started = cs.State.Running.StartedAt
			}
			cs.Ready = false
			cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: code, Reason: reason, Message: msg, StartedAt: started, FinishedAt: now,
			}}
		}
		setCondition(pod, corev1.PodReady, corev1.ConditionFalse, now)
		setCondition(pod, corev1.ContainersReady, corev1.ConditionFalse, now)
	})
}

func setCondition(pod *corev1.Pod, typ corev1.PodConditionType, status corev1.ConditionStatus, at metav1.Time) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == typ {
			pod.Status.Conditions[i].Status = status
			pod.Status.Conditions[i].LastTransitionTime = at
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: typ, Status: status, LastTransitionTime: at})
}

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

// container is a pod's container with its volumes on this machine.
type container struct {
	spec   corev1.Container
	mounts map[string]string // mount path → host path
}

// buildShape finds the daemon sidecar and the build container, refusing
// any other pod: this node runs nothing else.
func buildShape(pod *corev1.Pod) (daemon, client corev1.Container, err error) {
	if len(pod.Spec.InitContainers) != 1 || len(pod.Spec.Containers) != 1 {
		return daemon, client, errors.New("this node runs build pods: one buildkitd sidecar and one buildctl container")
	}
	daemon, client = pod.Spec.InitContainers[0], pod.Spec.Containers[0]
	if daemon.RestartPolicy == nil || *daemon.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		return daemon, client, errors.New("the buildkitd init container is not a native sidecar (restartPolicy: Always)")
	}
	cmd := daemon.Command
	if len(cmd) > 0 && cmd[0] == "rootlesskit" {
		cmd = cmd[1:]
	}
	if !isBuildkit(daemon.Image) || len(cmd) != 1 || cmd[0] != "buildkitd" {
		return daemon, client, fmt.Errorf("image %s cannot be pulled on this node: its sidecar must run buildkitd", daemon.Image)
	}
	if !isBuildkit(client.Image) || len(client.Command) != 1 || client.Command[0] != "buildctl" {
		return daemon, client, fmt.Errorf("image %s cannot be pulled on this node: its build container must run buildctl", client.Image)
	}
	if daemon.StartupProbe == nil || daemon.StartupProbe.Exec == nil {
		return daemon, client, errors.New("the buildkitd sidecar has no exec startup probe: the build container would race it")
	}
	return daemon, client, nil
}

func isBuildkit(image string) bool {
	repo := image
	if i := strings.LastIndexAny(repo, ":@"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return repo == "moby/buildkit" || strings.HasSuffix(repo, "/moby/buildkit")
}

// materialize writes the container's volumes under dir and returns mount
// path → host path. ConfigMaps and Secrets are waited for, as a kubelet
// waits to mount them, unless optional.
func (p *Provider) materialize(ctx context.Context, pod *corev1.Pod, c corev1.Container, dir string) (map[string]string, error) {
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			return nil, fmt.Errorf("volume %q is not in the pod", m.Name)
		}
		host := filepath.Join(dir, "volumes", m.Name)
		if err := os.MkdirAll(host, 0o755); err != nil {
			return nil, err
		}
		var files map[string][]byte
		var items []corev1.KeyToPath
		var err error
		switch {
		case v.EmptyDir != nil:
		case v.ConfigMap != nil:
			items = v.ConfigMap.Items
			files, err = waitFor(ctx, v.ConfigMap.Optional, func() (map[string][]byte, error) {
				cm, err := p.cms.ConfigMaps(pod.Namespace).Get(v.ConfigMap.Name)
				if err != nil {
					return nil, err
				}
				out := map[string][]byte{}
				for k, s := range cm.Data {
					out[k] = []byte(s)
				}
				for k, b := range cm.BinaryData {
					out[k] = b
				}
				return out, nil
			})
		case v.Secret != nil:
			items = v.Secret.Items
			files, err = waitFor(ctx, v.Secret.Optional, func() (map[string][]byte, error) {
				s, err := p.secrets.Secrets(pod.Namespace).Get(v.Secret.SecretName)
				if err != nil {
					return nil, err
				}
				return s.Data, nil
			})
		default:
			return nil, fmt.Errorf("volume %q: only configMap, secret and emptyDir volumes run here", m.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", m.Name, err)
		}
		if err := writeVolume(host, files, items); err != nil {
			return nil, err
		}
		mounts[m.MountPath] = host
	}
	return mounts, nil
}

func waitFor(ctx context.Context, optional *bool, get func() (map[string][]byte, error)) (map[string][]byte, error) {
	for {
		files, err := get()
		if err == nil {
			return files, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
		if optional != nil && *optional {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// writeVolume writes files (all of them, or the items' keys to their paths).
func writeVolume(dir string, files map[string][]byte, items []corev1.KeyToPath) error {
	if len(items) == 0 {
		for k := range files {
			items = append(items, corev1.KeyToPath{Key: k, Path: k})
		}
	}
	for _, it := range items {
		data, ok := files[it.Key]
		if !ok {
			continue
		}
		target := filepath.Join(dir, filepath.Clean("/"+it.Path))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(target, data, 0o600); err != nil {
			return err
		}
	}
	return nil
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

func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 20 {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n") + "\n"
}
