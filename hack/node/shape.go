package main

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// role is what runs a container of a build pod on this machine.
type role int

const (
	daemonRole   role = iota // buildkitd, the native sidecar
	buildctlRole             // buildctl, to its end
	transferRole             // transfer (cmd/transfer), to its end
)

// container is a pod's container with its volumes on this machine.
type container struct {
	spec   corev1.Container
	mounts map[string]string // mount path → host path
	role   role
}

// buildShape maps the pod's init containers and containers to what runs
// them here, refusing any other pod, since this node pulls no image: the
// BuildKit image running buildkitd (a native sidecar with an exec startup
// probe, before any buildctl) or buildctl, and the transfer image running
// transfer.
func buildShape(pod *corev1.Pod) (init, main []container, err error) {
	sidecars := 0
	for _, c := range pod.Spec.InitContainers {
		r, err := roleOf(c)
		if err != nil {
			return nil, nil, err
		}
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		switch {
		case r == daemonRole && !sidecar:
			return nil, nil, fmt.Errorf("init container %s runs buildkitd but is not a native sidecar (restartPolicy: Always)", c.Name)
		case r != daemonRole && sidecar:
			return nil, nil, fmt.Errorf("init container %s is a sidecar: this node runs buildkitd sidecars only", c.Name)
		case r == daemonRole && (c.StartupProbe == nil || c.StartupProbe.Exec == nil):
			return nil, nil, fmt.Errorf("the buildkitd sidecar %s has no exec startup probe: the build would race it", c.Name)
		case r == buildctlRole && sidecars == 0:
			return nil, nil, fmt.Errorf("init container %s runs buildctl before any buildkitd sidecar", c.Name)
		case r == daemonRole:
			sidecars++
		}
		init = append(init, container{spec: c, role: r})
	}
	if sidecars != 1 {
		return nil, nil, errors.New("this node runs build pods: one buildkitd sidecar among the init containers")
	}
	if len(pod.Spec.Containers) == 0 {
		return nil, nil, errors.New("the pod has no container")
	}
	for _, c := range pod.Spec.Containers {
		r, err := roleOf(c)
		if err != nil {
			return nil, nil, err
		}
		if r == daemonRole {
			return nil, nil, fmt.Errorf("container %s runs buildkitd: only a sidecar may", c.Name)
		}
		main = append(main, container{spec: c, role: r})
	}
	return init, main, nil
}

// roleOf is what runs c here, by its image and command.
func roleOf(c corev1.Container) (role, error) {
	cmd := c.Command
	switch {
	case isImage(c.Image, "moby/buildkit"):
		if len(cmd) > 0 && cmd[0] == "rootlesskit" {
			cmd = cmd[1:]
		}
		if len(cmd) == 1 && cmd[0] == "buildkitd" {
			return daemonRole, nil
		}
		if len(c.Command) == 1 && c.Command[0] == "buildctl" {
			return buildctlRole, nil
		}
		return 0, fmt.Errorf("container %s: image %s runs buildkitd or buildctl on this node, not %q", c.Name, c.Image, c.Command)
	case isImage(c.Image, "openserverless-builder/transfer"):
		if len(cmd) == 1 && cmd[0] == "transfer" {
			return transferRole, nil
		}
		return 0, fmt.Errorf("container %s: image %s runs transfer on this node, not %q", c.Name, c.Image, c.Command)
	}
	return 0, fmt.Errorf("container %s: image %s cannot be pulled on this node: it runs BuildKit and transfer only", c.Name, c.Image)
}

// isImage reports whether image is repository repo, on any registry, by
// tag or digest.
func isImage(image, repo string) bool {
	name, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name == repo || strings.HasSuffix(name, "/"+repo)
}
