package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestSidecarRestarts: the sidecar killed while its pod runs is started
// again on its state, as a kubelet restarts a restartable init container:
// its status has the killed one's exit code as its last state and one
// restart, the killed one's log is the previous log, and stop ends the
// new one by its PID.
func TestSidecarRestarts(t *testing.T) {
	dir := t.TempDir()
	// A daemon that says which it is, then waits to be stopped.
	daemon := filepath.Join(dir, "buildkitd")
	require.NoError(t, os.WriteFile(daemon, []byte("#!/bin/sh\necho \"daemon $$\"\nexec sleep 600\n"), 0o755))
	p := NewProvider(Config{Buildkitd: daemon, Buildctl: "/bin/true", WorkDir: dir}, nil, nil)
	spec := corev1.Container{
		Name: "buildkitd",
		Args: []string{"--addr", "unix://" + filepath.Join(dir, "run", "buildkitd.sock")},
		StartupProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"buildctl", "debug", "workers"}}},
			PeriodSeconds: 1, FailureThreshold: 3},
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "p"}, Spec: corev1.PodSpec{InitContainers: []corev1.Container{spec}},
		Status: corev1.PodStatus{InitContainerStatuses: []corev1.ContainerStatus{{Name: "buildkitd"}}}}
	r := &podRun{pod: pod, dir: filepath.Join(dir, "pod"), cancel: func() {}, done: make(chan struct{})}
	require.NoError(t, os.MkdirAll(filepath.Join(r.dir, "logs"), 0o755))
	p.pods[key("b", "p")] = r
	c := container{spec: spec, mounts: map[string]string{}, role: daemonRole}

	first, err := p.startDaemon(context.Background(), r, c)
	require.NoError(t, err)
	p.setState(r, "buildkitd", running())
	s := p.keepAlive(context.Background(), r, c, first)
	logOf := func(previous bool) string {
		rc, err := p.GetContainerLogs(context.Background(), "b", "p", "buildkitd", api.ContainerLogOpts{Previous: previous})
		if err != nil {
			return "error: " + err.Error()
		}
		defer rc.Close()
		data, _ := io.ReadAll(rc)
		return string(data)
	}
	require.Eventually(t, func() bool { return logOf(false) != "" }, 5*time.Second, 20*time.Millisecond)
	assert.Contains(t, logOf(true), "has not restarted", "no previous log before a restart")
	killed := first.cmd.Process.Pid
	require.NoError(t, syscall.Kill(killed, syscall.SIGKILL))

	status := func() corev1.ContainerStatus { return r.get().Status.InitContainerStatuses[0] }
	require.Eventually(t, func() bool { return status().State.Running != nil && status().RestartCount == 1 }, 10*time.Second, 50*time.Millisecond, "restarted: %+v", status())
	cs := status()
	require.NotNil(t, cs.LastTerminationState.Terminated)
	assert.Equal(t, int32(128+9), cs.LastTerminationState.Terminated.ExitCode, "killed by SIGKILL")
	assert.Equal(t, "daemon "+itoa(killed)+"\n", logOf(true), "the killed one's log is the previous")
	require.Eventually(t, func() bool { return logOf(false) != "" }, 5*time.Second, 20*time.Millisecond)
	assert.NotContains(t, logOf(false), itoa(killed), "the current log is the new one's")

	d := <-s.current
	s.current <- d
	restarted := d.cmd.Process.Pid
	s.stop()
	assert.ErrorIs(t, syscall.Kill(restarted, 0), syscall.ESRCH, "stop ended the restarted daemon")
}

func itoa(n int) string { return strconv.Itoa(n) }
