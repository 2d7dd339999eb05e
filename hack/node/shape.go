package main

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

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
	repo, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return repo == "moby/buildkit" || strings.HasSuffix(repo, "/moby/buildkit")
}
