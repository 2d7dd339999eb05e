package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// Config says where the node's tools and files are.
type Config struct {
	Buildkitd, Buildctl, Transfer string
	WorkDir                       string
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
	cancel context.CancelFunc
	done   chan struct{}
	// evicted is why the node evicted the pod (guarded by mu); nil: it
	// was not.
	evicted *eviction
}

// evict records why the pod is evicted and stops it.
func (r *podRun) evict(e eviction) {
	r.mu.Lock()
	if r.evicted == nil {
		r.evicted = &e
	}
	r.mu.Unlock()
	r.cancel()
}

func (r *podRun) eviction() *eviction {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.evicted
}

// logPath is where the pod's container name logs.
func (r *podRun) logPath(name string) string {
	return filepath.Join(r.dir, "logs", name+".log")
}

// previousLogPath is where the log of the container name's previous
// instance is kept once it has restarted.
func (r *podRun) previousLogPath(name string) string {
	return filepath.Join(r.dir, "logs", name+".previous.log")
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
	r := &podRun{pod: pod.DeepCopy(), dir: dir, cancel: cancel, done: make(chan struct{})}
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
			{Type: corev1.PodInitialized, Status: corev1.ConditionFalse, LastTransitionTime: now},
		},
	}
	waiting := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}
	for _, c := range pod.Spec.InitContainers {
		r.pod.Status.InitContainerStatuses = append(r.pod.Status.InitContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image, State: waiting})
	}
	for _, c := range pod.Spec.Containers {
		r.pod.Status.ContainerStatuses = append(r.pod.Status.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image, State: waiting})
	}
	p.pods[k] = r
	p.mu.Unlock()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
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

// GetContainerLogs serves a container's log, for `kubectl logs` and the
// API server's pods/log; a container that has not started has none yet.
func (p *Provider) GetContainerLogs(_ context.Context, ns, name, container string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	r, err := p.lookup(ns, name)
	if err != nil {
		return nil, err
	}
	pod := r.get()
	known := false
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		known = known || c.Name == container
	}
	if !known {
		return nil, errdefs.InvalidInputf("container %s is not in pod %s/%s", container, ns, name)
	}
	path := r.logPath(container)
	if opts.Previous {
		path = r.previousLogPath(container)
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && opts.Previous:
		return nil, errdefs.InvalidInputf("%v: container %s in pod %s/%s has not restarted", errNoPrevious, container, ns, name)
	case errors.Is(err, os.ErrNotExist):
		data, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	if opts.Tail > 0 {
		data = lastLines(data, opts.Tail)
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
	watch, stopWatch := context.WithCancel(ctx)
	var watching sync.WaitGroup
	watching.Go(func() { watchDisk(watch, r, r.evict) })
	code, reason, msg := p.execute(ctx, r)
	stopWatch()
	watching.Wait()
	p.finish(r, code, reason, msg)
}

// finish sets the pod's phase from how it ended; a container still
// running (the sidecar, or a step of a deleted pod) ends with it.
func (p *Provider) finish(r *podRun, code int32, reason, msg string) {
	now := metav1.Now()
	evicted := r.eviction()
	p.update(r, func(pod *corev1.Pod) {
		pod.Status.Phase = corev1.PodSucceeded
		if code != 0 {
			pod.Status.Phase = corev1.PodFailed
			pod.Status.Message = msg
		}
		for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
			for i := range list {
				cs := &list[i]
				cs.Ready = false
				if cs.State.Running != nil {
					cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
						ExitCode: code, Reason: reason, StartedAt: cs.State.Running.StartedAt, FinishedAt: now,
					}}
				}
			}
		}
		setCondition(pod, corev1.PodReady, corev1.ConditionFalse, now)
		setCondition(pod, corev1.ContainersReady, corev1.ConditionFalse, now)
		if e := evicted; e != nil {
			// As a kubelet reports a pod it evicted.
			pod.Status.Phase = corev1.PodFailed
			pod.Status.Reason, pod.Status.Message = "Evicted", e.message
			setCondition(pod, corev1.DisruptionTarget, corev1.ConditionTrue, now)
			for i := range pod.Status.Conditions {
				if c := &pod.Status.Conditions[i]; c.Type == corev1.DisruptionTarget {
					c.Reason, c.Message = "TerminationByKubelet", e.message
				}
			}
		}
	})
}

// setState sets the state of the pod's container name.
func (p *Provider) setState(r *podRun, name string, state corev1.ContainerState) {
	p.update(r, func(pod *corev1.Pod) {
		for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
			for i := range list {
				if list[i].Name != name {
					continue
				}
				if t := state.Terminated; t != nil && list[i].State.Running != nil {
					t.StartedAt = list[i].State.Running.StartedAt
				}
				list[i].State = state
				list[i].Ready = state.Running != nil
				started := state.Running != nil
				list[i].Started = &started
			}
		}
	})
}

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
}

func terminated(code int32, reason string) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, FinishedAt: metav1.Now()}}
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
