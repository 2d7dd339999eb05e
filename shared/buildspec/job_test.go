package buildspec

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/names"
)

func testPlan(privileged bool) Plan {
	k, _ := kinds.Lookup("python")
	return Plan{
		Request: Request{Source: "busybox:1", Repo: "devel", Tag: "v1", Kind: k, File: []byte("x\n")},
		ID:      "0123456789", User: "devel", Namespace: "nuvolaris", Image: "registry:5000/devel:v1",
		Insecure: true, Secret: "registry-pull-secret", Buildkit: "moby/buildkit:v0.34.2-rootless",
		Timeout: time.Hour, Privileged: privileged,
	}
}

// TestJobKeepsTheCredentialFromTheDaemon: whatever the options, no
// container that runs buildkitd (and so the user's build steps) sees the
// registry credential, and the pod shares no process namespace.
func TestJobKeepsTheCredentialFromTheDaemon(t *testing.T) {
	for _, privileged := range []bool{false, true} {
		pod := testPlan(privileged).Job().Spec.Template.Spec
		require.NotNil(t, pod.ShareProcessNamespace)
		assert.False(t, *pod.ShareProcessNamespace)
		assert.False(t, *pod.AutomountServiceAccountToken)
		secrets := map[string]bool{}
		for _, v := range pod.Volumes {
			if v.Secret != nil || v.Projected != nil {
				secrets[v.Name] = true
			}
		}
		require.NotEmpty(t, secrets, "the push credential is mounted somewhere")
		all := append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...)
		daemons, clients := 0, 0
		for _, c := range all {
			runsDaemon := strings.Contains(strings.Join(c.Command, " "), "buildkitd")
			mountsSecret := false
			for _, m := range c.VolumeMounts {
				mountsSecret = mountsSecret || secrets[m.Name]
			}
			if runsDaemon {
				daemons++
				assert.False(t, mountsSecret, "%s runs buildkitd and mounts a Secret", c.Name)
				for _, e := range c.Env {
					assert.NotEqual(t, "DOCKER_CONFIG", e.Name)
				}
				assert.Empty(t, c.EnvFrom)
				require.NotNil(t, c.RestartPolicy, "the daemon is a native sidecar")
				assert.Equal(t, corev1.ContainerRestartPolicyAlways, *c.RestartPolicy)
				require.NotNil(t, c.StartupProbe, "the build waits for the daemon's startup probe")
				assert.Equal(t, []string{"buildctl", "--addr", DaemonAddress, "debug", "workers"}, c.StartupProbe.Exec.Command)
			} else {
				clients++
				assert.True(t, mountsSecret, "buildctl holds the credential it hands BuildKit for the push")
				assert.Equal(t, []string{"buildctl"}, c.Command)
				assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
				assert.Nil(t, c.SecurityContext.Privileged)
			}
			for _, a := range append(append([]string{}, c.Command...), c.Args...) {
				assert.NotContains(t, a, "sleep")
				assert.NotContains(t, a, "daemonless")
			}
		}
		assert.Equal(t, 1, daemons)
		assert.Equal(t, 1, clients)
		assert.Equal(t, names.DaemonContainer, pod.InitContainers[0].Name)
		assert.Equal(t, names.ContainerName, pod.Containers[0].Name, "logs reads the build container")
	}
}

// TestJobBoundsItsDisk: every container requests and limits ephemeral
// storage, the daemon up to build_disk, and every emptyDir has a size
// limit, so no build step can fill a node.
func TestJobBoundsItsDisk(t *testing.T) {
	p := testPlan(false)
	p.Disk = resource.MustParse("30Gi")
	pod := p.Job().Spec.Template.Spec
	for _, c := range append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...) {
		req, lim := c.Resources.Requests[corev1.ResourceEphemeralStorage], c.Resources.Limits[corev1.ResourceEphemeralStorage]
		assert.False(t, req.IsZero(), "%s requests ephemeral storage", c.Name)
		assert.False(t, lim.IsZero(), "%s limits ephemeral storage", c.Name)
		if c.Name == names.DaemonContainer {
			assert.Equal(t, "30Gi", lim.String())
		}
	}
	n := 0
	for _, v := range pod.Volumes {
		if v.EmptyDir != nil {
			n++
			require.NotNil(t, v.EmptyDir.SizeLimit, "emptyDir %s is bounded", v.Name)
			assert.True(t, v.EmptyDir.SizeLimit.Cmp(p.Disk) <= 0, v.Name)
		}
	}
	assert.Equal(t, 2, n)
	assert.True(t, *p.Job().Spec.Suspend, "created suspended: send resumes it once admitted")
}
