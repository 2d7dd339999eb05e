package buildspec

import (
	"slices"
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
		Base:    Base{Digest: "sha256:" + strings.Repeat("1", 64), Fetch: "mirror:5000/library/busybox@sha256:" + strings.Repeat("1", 64)},
		ID:      "0123456789", User: "devel", Namespace: "nuvolaris", Image: "registry:5000/devel:v1",
		Insecure: true, Secret: "registry-pull-secret", Buildkit: "moby/buildkit:v0.34.2-rootless",
		Transfer: "ghcr.io/apache/openserverless-builder/transfer:v0.1.0", Timeout: time.Hour, Privileged: privileged,
		Cache: "registry:5000/devel/buildcache:python",
	}
}

// steps is the pod's containers in the order they start.
func steps(pod corev1.PodSpec) []corev1.Container {
	return append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...)
}

// TestJobShape pins who holds the credential: the Secret is mounted only
// in the transfer image's fetch and push steps, DOCKER_CONFIG is set nowhere else, the
// source is fetched anonymously unless send said otherwise, and the steps
// run in order: fetch, [fetch-cache], the daemon, build, then push and
// push-cache.
func TestJobShape(t *testing.T) {
	cacheDigest := "sha256:" + strings.Repeat("2", 64)
	cases := map[string]struct {
		privileged, clusterSource bool
		cacheDigest               string
		order                     []string
		holders                   []string
	}{
		"outside source, no cache yet": {
			order:   []string{names.StepFetch, names.StepDaemon, names.StepBuild, names.StepPush, names.StepPushCache},
			holders: []string{names.StepPush, names.StepPushCache},
		},
		"outside source, cache": {
			cacheDigest: cacheDigest,
			order:       []string{names.StepFetch, names.StepFetchCache, names.StepDaemon, names.StepBuild, names.StepPush, names.StepPushCache},
			holders:     []string{names.StepFetchCache, names.StepPush, names.StepPushCache},
		},
		"cluster source, privileged daemon": {
			privileged: true, clusterSource: true, cacheDigest: cacheDigest,
			order:   []string{names.StepFetch, names.StepFetchCache, names.StepDaemon, names.StepBuild, names.StepPush, names.StepPushCache},
			holders: []string{names.StepFetch, names.StepFetchCache, names.StepPush, names.StepPushCache},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := testPlan(tc.privileged)
			p.Base.Credential, p.CacheDigest = tc.clusterSource, tc.cacheDigest
			pod := p.Job().Spec.Template.Spec
			require.NotNil(t, pod.ShareProcessNamespace)
			assert.False(t, *pod.ShareProcessNamespace)
			assert.False(t, *pod.AutomountServiceAccountToken)
			secrets := map[string]bool{}
			for _, v := range pod.Volumes {
				if v.Secret != nil || v.Projected != nil {
					secrets[v.Name] = true
				}
			}
			require.NotEmpty(t, secrets)
			var order, holders []string
			for _, c := range steps(pod) {
				order = append(order, c.Name)
				mounts := false
				for _, m := range c.VolumeMounts {
					mounts = mounts || secrets[m.Name]
				}
				config := false
				for _, e := range c.Env {
					config = config || e.Name == "DOCKER_CONFIG"
				}
				assert.Empty(t, c.EnvFrom, c.Name)
				assert.Equal(t, mounts, config, "%s: DOCKER_CONFIG goes with the Secret", c.Name)
				if mounts {
					holders = append(holders, c.Name)
					assert.Equal(t, p.Transfer, c.Image, "%s holds the credential: it runs transfer", c.Name)
					assert.Equal(t, []string{"transfer"}, c.Command, c.Name)
				}
				if c.Image == p.Buildkit {
					assert.False(t, mounts, "%s runs BuildKit and holds the credential", c.Name)
				}
			}
			assert.Equal(t, tc.order, order)
			assert.Equal(t, tc.holders, holders)
			daemon := pod.InitContainers[slices.IndexFunc(pod.InitContainers, func(c corev1.Container) bool { return c.Name == names.StepDaemon })]
			require.NotNil(t, daemon.RestartPolicy, "the daemon is a native sidecar")
			assert.Equal(t, corev1.ContainerRestartPolicyAlways, *daemon.RestartPolicy)
			require.NotNil(t, daemon.StartupProbe, "the build waits for the daemon's startup probe")
			assert.Equal(t, []string{"buildctl", "--addr", DaemonAddress, "debug", "workers"}, daemon.StartupProbe.Exec.Command)
			for _, c := range steps(pod) {
				if c.Name == names.StepDaemon {
					continue
				}
				assert.Nil(t, c.RestartPolicy, "%s runs to its end", c.Name)
				assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation, c.Name)
				assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem, c.Name)
				assert.Nil(t, c.SecurityContext.Privileged, c.Name)
				for _, a := range append(append([]string{}, c.Command...), c.Args...) {
					assert.NotContains(t, a, "sleep")
					assert.NotContains(t, a, " ", "argv only")
				}
			}
		})
	}
}

// TestJobStepsArguments: the fetch fetches the pinned source where send
// resolved it; buildctl builds FROM it in the layout under the name the
// Dockerfile frontend looks up, never from a registry, and writes into the
// same layout; the pushes push from it, mounting the source's layers only
// when send found the source on the cluster registry, the cache's for the
// image.
func TestJobStepsArguments(t *testing.T) {
	cacheDigest := "sha256:" + strings.Repeat("2", 64)
	cache := "registry:5000/devel/buildcache@" + cacheDigest
	tests := []struct {
		name                string
		clusterSource       bool
		cacheDigest         string
		fetch, fetchCache   []string
		push, pushCache     []string
		importCache, cached bool
	}{
		{
			name:      "source elsewhere, no cache yet",
			fetch:     []string{"fetch", "--layout", "/layouts", "mirror:5000/library/busybox@sha256:" + strings.Repeat("1", 64)},
			push:      []string{"push", "--insecure", "--layout", "/layouts", "registry:5000/devel:v1", "registry:5000/devel:v1"},
			pushCache: []string{"push", "--insecure", "--layout", "/layouts", "cache", "registry:5000/devel/buildcache:python"},
		},
		{
			name: "cluster source and cache", clusterSource: true, cacheDigest: cacheDigest,
			fetch:      []string{"fetch", "--layout", "/layouts", "mirror:5000/library/busybox@sha256:" + strings.Repeat("1", 64)},
			fetchCache: []string{"fetch", "--insecure", "--layout", "/layouts", cache},
			push: []string{"push", "--insecure", "--layout", "/layouts", "--mount", "mirror:5000/library/busybox@sha256:" + strings.Repeat("1", 64),
				"--mount", cache, "registry:5000/devel:v1", "registry:5000/devel:v1"},
			pushCache: []string{"push", "--insecure", "--layout", "/layouts", "--mount", "mirror:5000/library/busybox@sha256:" + strings.Repeat("1", 64),
				"cache", "registry:5000/devel/buildcache:python"},
			importCache: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlan(false)
			p.Base.Credential, p.CacheDigest = tt.clusterSource, tt.cacheDigest
			p.Provenance = true
			args := map[string][]string{}
			for _, c := range steps(p.Job().Spec.Template.Spec) {
				args[c.Name] = c.Args
			}
			assert.Equal(t, tt.fetch, args[names.StepFetch], "the source goes over HTTPS unless send resolved it over HTTP")
			assert.Equal(t, tt.fetchCache, args[names.StepFetchCache])
			assert.Equal(t, tt.push, args[names.StepPush])
			assert.Equal(t, tt.pushCache, args[names.StepPushCache])
			build := strings.Join(args[names.StepBuild], " ")
			assert.Contains(t, build, "--oci-layout source=/layouts ")
			assert.Contains(t, build, "--opt context:busybox:1@"+p.Base.Digest+"=oci-layout://source@"+p.Base.Digest)
			assert.Contains(t, build, "--output type=oci,tar=false,dest=/layouts,name="+p.Image+",")
			assert.Contains(t, build, "oci-artifact=false")
			if tt.importCache {
				assert.Contains(t, build, "--import-cache type=local,src=/layouts,digest="+cacheDigest)
			} else {
				assert.NotContains(t, build, "--import-cache")
			}
			assert.Contains(t, build, "--export-cache type=local,dest=/layouts,mode=max,image-manifest=true,oci-mediatypes=true,tag=cache")
			assert.Contains(t, build, "--opt attest:provenance=mode=min")
			assert.NotContains(t, build, "type=registry")
			assert.NotContains(t, build, "push=true")
		})
	}
}

// TestContextName: the named context's key is what BuildKit's Dockerfile
// frontend derives from the FROM (the familiar name, no :latest).
func TestContextName(t *testing.T) {
	d := "@sha256:" + strings.Repeat("3", 64)
	for from, want := range map[string]string{
		"docker.io/library/python:3.13" + d:              "python:3.13" + d,
		"python" + d:                                     "python" + d,
		"docker.io/apache/runtime:v1" + d:                "apache/runtime:v1" + d,
		"127.0.0.1:5000/alice/python:v1" + d:             "127.0.0.1:5000/alice/python:v1" + d,
		"nuvolaris-registry-svc:5000/runtimes/py:v3" + d: "nuvolaris-registry-svc:5000/runtimes/py:v3" + d,
	} {
		assert.Equal(t, want, contextName(from), from)
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
		if c.Name == names.StepDaemon {
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
	assert.Equal(t, 3, n)
	assert.True(t, *p.Job().Spec.Suspend, "created suspended: send resumes it once admitted")
}
