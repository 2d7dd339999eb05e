package main

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Restart backoff of the sidecar: a kubelet restarts a restartable init
// container that exits while its pod runs, after a delay that doubles
// with each restart, up to five minutes.
const (
	firstRestart = time.Second
	maxRestart   = 5 * time.Minute
)

// sidecar is the buildkitd of a pod, kept running as a kubelet keeps a
// restartable init container (restartPolicy Always) running: when it
// exits before the pod's steps have ended, its status gets its last state
// and one restart more, its log becomes the previous container's
// (GetContainerLogs with Previous), and it starts again on the same state
// (its emptyDir outlives it).
type sidecar struct {
	quit, done chan struct{}
	current    chan *daemonProc // holds the running daemon
}

// keepAlive supervises d, the sidecar c started, until stop.
func (p *Provider) keepAlive(ctx context.Context, r *podRun, c container, d *daemonProc) *sidecar {
	s := &sidecar{quit: make(chan struct{}), done: make(chan struct{}), current: make(chan *daemonProc, 1)}
	s.current <- d
	go func() {
		defer close(s.done)
		wait := firstRestart
		for {
			select {
			case <-s.quit:
				return
			case <-ctx.Done():
				return
			case <-d.exited:
			}
			p.restarting(r, c.spec.Name, exitCode(d))
			_ = os.Rename(r.logPath(c.spec.Name), r.previousLogPath(c.spec.Name))
			select {
			case <-s.quit:
				return
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, maxRestart)
			next, err := p.startDaemon(ctx, r, c)
			if err != nil {
				// It stays down, as a container in back-off does; the
				// build step, if it runs, fails for it.
				continue
			}
			<-s.current
			s.current <- next
			d = next
			p.setState(r, c.spec.Name, running())
		}
	}()
	return s
}

// stop ends the supervision, then the daemon, by its PID.
func (s *sidecar) stop() {
	if s == nil {
		return
	}
	close(s.quit)
	<-s.done
	(<-s.current).stop()
}

// exitCode is how d ended, as a container runtime reports it: the exit
// status, or 128 plus the signal that killed it.
func exitCode(d *daemonProc) int32 {
	st := d.cmd.ProcessState
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int32(ws.Signal())
	}
	return int32(st.ExitCode())
}

// restarting records that the pod's container name exited with code and
// is to be restarted: its last state, one restart more, and a state that
// waits for the restart.
func (p *Provider) restarting(r *podRun, name string, code int32) {
	now := metav1.Now()
	p.update(r, func(pod *corev1.Pod) {
		for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
			for i := range list {
				cs := &list[i]
				if cs.Name != name {
					continue
				}
				last := &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Error", FinishedAt: now}
				if cs.State.Running != nil {
					last.StartedAt = cs.State.Running.StartedAt
				}
				cs.LastTerminationState = corev1.ContainerState{Terminated: last}
				cs.RestartCount++
				cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
				cs.Ready = false
				started := false
				cs.Started = &started
			}
		}
	})
}

// errNoPrevious is GetContainerLogs' error for a previous log of a
// container that has not restarted, in a kubelet's words.
var errNoPrevious = errors.New("previous terminated container not found")
