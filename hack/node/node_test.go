package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestRewrite(t *testing.T) {
	mounts := map[string]string{
		"/workspace":                  "/tmp/pod/volumes/workspace",
		"/run/buildkit":               "/tmp/pod/volumes/run",
		"/home/user/.config/buildkit": "/tmp/pod/volumes/conf",
		"/home/user":                  "/tmp/pod/volumes/home",
		"/layouts":                    "/tmp/pod/volumes/layouts",
	}
	for _, tt := range []struct{ in, want string }{
		{"/workspace", "/tmp/pod/volumes/workspace"},
		{"/workspace/Dockerfile", "/tmp/pod/volumes/workspace/Dockerfile"},
		{"context=/workspace", "context=/tmp/pod/volumes/workspace"},
		{"dockerfile=/workspace/sub", "dockerfile=/tmp/pod/volumes/workspace/sub"},
		{"unix:///run/buildkit/buildkitd.sock", "unix:///tmp/pod/volumes/run/buildkitd.sock"},
		{"type=oci,tar=false,dest=/layouts,name=r:5000/a:b", "type=oci,tar=false,dest=/tmp/pod/volumes/layouts,name=r:5000/a:b"},
		{"source=/layouts", "source=/tmp/pod/volumes/layouts"},
		// The longest mount wins over a mount that holds it.
		{"/home/user/.config/buildkit/buildkitd.toml", "/tmp/pod/volumes/conf/buildkitd.toml"},
		{"/home/user/.docker", "/tmp/pod/volumes/home/.docker"},
		// Only whole path components are mapped.
		{"/workspaces", "/workspaces"},
		{"dest=/layoutsX,name=a", "dest=/layoutsX,name=a"},
		{"--progress=plain", "--progress=plain"},
		{"build", "build"},
	} {
		assert.Equal(t, tt.want, rewrite([]string{tt.in}, mounts)[0], tt.in)
	}
}

func TestWriteVolume(t *testing.T) {
	files := map[string][]byte{"a": []byte("A"), "b": []byte("B"), ".dockerconfigjson": []byte("{}")}
	for _, tt := range []struct {
		name  string
		items []corev1.KeyToPath
		want  map[string]string
	}{
		{"every key by its name", nil, map[string]string{"a": "A", "b": "B", ".dockerconfigjson": "{}"}},
		{"items to their paths", []corev1.KeyToPath{{Key: ".dockerconfigjson", Path: "config.json"}}, map[string]string{"config.json": "{}"}},
		{"a missing key is skipped", []corev1.KeyToPath{{Key: "x", Path: "x"}, {Key: "a", Path: "sub/a"}}, map[string]string{"sub/a": "A"}},
		{"no path leaves the volume", []corev1.KeyToPath{{Key: "a", Path: "../../a"}}, map[string]string{"a": "A"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, writeVolume(dir, files, tt.items))
			got := map[string]string{}
			require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				data, err := os.ReadFile(p)
				rel, _ := filepath.Rel(dir, p)
				got[rel] = string(data)
				return err
			}))
			assert.Equal(t, tt.want, got)
		})
	}
}

// buildPod is a pod of the builder's shape, changed by edit.
func buildPod(edit func(*corev1.PodSpec)) *corev1.Pod {
	always := corev1.ContainerRestartPolicyAlways
	transfer := "ghcr.io/apache/openserverless-builder/transfer:v0.1.0"
	spec := corev1.PodSpec{
		InitContainers: []corev1.Container{
			{Name: "fetch", Image: transfer, Command: []string{"transfer"}},
			{
				Name: "buildkitd", Image: "moby/buildkit:v0.34.2-rootless", RestartPolicy: &always,
				Command:      []string{"rootlesskit", "buildkitd"},
				StartupProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"buildctl", "debug", "workers"}}}},
			},
			{Name: "build", Image: "docker.io/moby/buildkit:v0.34.2-rootless", Command: []string{"buildctl"}},
		},
		Containers: []corev1.Container{{Name: "push", Image: transfer, Command: []string{"transfer"}}},
	}
	if edit != nil {
		edit(&spec)
	}
	return &corev1.Pod{Spec: spec}
}

func TestBuildShape(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*corev1.PodSpec)
		err  string
	}{
		{"the builder's pod", nil, ""},
		{"privileged daemon without rootlesskit", func(s *corev1.PodSpec) { s.InitContainers[1].Command = []string{"buildkitd"} }, ""},
		{"no sidecar", func(s *corev1.PodSpec) { s.InitContainers = s.InitContainers[:1] }, "one buildkitd sidecar"},
		{"buildctl before the sidecar", func(s *corev1.PodSpec) {
			s.InitContainers[1], s.InitContainers[2] = s.InitContainers[2], s.InitContainers[1]
		}, "before any buildkitd sidecar"},
		{"no container", func(s *corev1.PodSpec) { s.Containers = nil }, "no container"},
		{"sidecar that is a plain init container", func(s *corev1.PodSpec) { s.InitContainers[1].RestartPolicy = nil }, "native sidecar"},
		{"transfer as a sidecar", func(s *corev1.PodSpec) { s.InitContainers[0].RestartPolicy = s.InitContainers[1].RestartPolicy }, "buildkitd sidecars only"},
		{"another image", func(s *corev1.PodSpec) { s.InitContainers[1].Image = "evil/buildkit:1" }, "cannot be pulled"},
		{"another command", func(s *corev1.PodSpec) { s.InitContainers[2].Command = []string{"sh", "-c", "id"} }, "buildkitd or buildctl"},
		{"transfer running a shell", func(s *corev1.PodSpec) { s.Containers[0].Command = []string{"sh"} }, "runs transfer"},
		{"daemon as a main container", func(s *corev1.PodSpec) { s.Containers[0] = s.InitContainers[1] }, "only a sidecar may"},
		{"no startup probe", func(s *corev1.PodSpec) { s.InitContainers[1].StartupProbe = nil }, "would race it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			init, main, err := buildShape(buildPod(tt.edit))
			if tt.err == "" {
				require.NoError(t, err)
				assert.Equal(t, []role{transferRole, daemonRole, buildctlRole}, []role{init[0].role, init[1].role, init[2].role})
				assert.Equal(t, transferRole, main[0].role)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
		})
	}
}

func TestLastLinesAndFlagValue(t *testing.T) {
	assert.Equal(t, "b\nc\n", string(lastLines([]byte("a\nb\nc\n"), 2)))
	assert.Equal(t, "a\n", string(lastLines([]byte("a\n"), 5)))
	args := []string{"--addr", "unix:///run/b.sock", "--config=/etc/b.toml"}
	assert.Equal(t, "unix:///run/b.sock", flagValue(args, "--addr"))
	assert.Equal(t, "/etc/b.toml", flagValue(args, "--config"))
	assert.Equal(t, "", flagValue(args, "--root"))
}

// TestIsImage: the images the node runs BuildKit and transfer for, by tag
// and by digest (deploy/admission.yaml admits only digests).
func TestIsImage(t *testing.T) {
	digest := "@sha256:" + strings.Repeat("0", 64)
	for _, tt := range []struct {
		image, repo string
		want        bool
	}{
		{"moby/buildkit:v0.34.2-rootless", "moby/buildkit", true},
		{"moby/buildkit:v0.34.2-rootless" + digest, "moby/buildkit", true},
		{"moby/buildkit" + digest, "moby/buildkit", true},
		{"docker.io/moby/buildkit:v0.34.2-rootless" + digest, "moby/buildkit", true},
		{"registry:5000/moby/buildkit:v1", "moby/buildkit", true},
		{"ghcr.io/apache/openserverless-builder/transfer:v0.1.0" + digest, "openserverless-builder/transfer", true},
		{"busybox:1", "moby/buildkit", false},
		{"evil/moby/buildkitx:v1" + digest, "moby/buildkit", false},
		{"moby/buildkit-fake:v1", "moby/buildkit", false},
		{"evil/transfer:v1", "openserverless-builder/transfer", false},
	} {
		assert.Equal(t, tt.want, isImage(tt.image, tt.repo), tt.image)
	}
}

func TestLimitsOf(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	disk := func(q string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse(q)}}
	}
	sized := resource.MustParse("1Gi")
	for _, tt := range []struct {
		name string
		pod  corev1.PodSpec
		want string // the pod's total; "" when it has none
		dirs int
	}{
		{"containers and sidecars add up", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "a", Resources: disk("256Mi")}, {Name: "d", RestartPolicy: &always, Resources: disk("1Gi")}},
			Containers:     []corev1.Container{{Name: "p", Resources: disk("256Mi")}, {Name: "q", Resources: disk("256Mi")}},
		}, "1536Mi", 0},
		{"a larger regular init container wins", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "a", Resources: disk("4Gi")}},
			Containers:     []corev1.Container{{Name: "p", Resources: disk("256Mi")}},
		}, "4Gi", 0},
		{"one container without a limit: no total", corev1.PodSpec{
			Containers: []corev1.Container{{Name: "p", Resources: disk("256Mi")}, {Name: "q"}},
		}, "", 0},
		{"sized emptyDirs, not memory ones", corev1.PodSpec{
			Volumes: []corev1.Volume{
				{Name: "s", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &sized}}},
				{Name: "m", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &sized}}},
				{Name: "u", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
			Containers: []corev1.Container{{Name: "p"}},
		}, "", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := limitsOf(&corev1.Pod{Spec: tt.pod})
			assert.Len(t, l.emptyDirs, tt.dirs)
			if tt.want == "" {
				assert.Nil(t, l.pod)
				return
			}
			require.NotNil(t, l.pod)
			assert.Zero(t, l.pod.Cmp(resource.MustParse(tt.want)), "got %s", l.pod)
		})
	}
}

// TestOverLimit writes files into a pod's directories as its steps would
// and checks the eviction a kubelet would decide, in its words.
func TestOverLimit(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	limit := resource.MustParse("1Mi")
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "buildkitd", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("0")}}, VolumeMounts: []corev1.VolumeMount{{Name: "state", MountPath: "/home/user/.local/share/buildkit"}}}},
		Containers:     []corev1.Container{{Name: "push", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("3Mi")}}}},
		Volumes: []corev1.Volume{
			{Name: "state", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &limit}}},
			{Name: "layouts", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
	}}
	for _, tt := range []struct {
		name  string
		files map[string]int // path under the pod's directory → MiB
		want  string
	}{
		{"within its limits", map[string]int{"state/a": 0, "volumes/layouts/a": 1}, ""},
		{"BuildKit's state over the emptyDir's limit", map[string]int{"state/snapshots/a": 2}, `Usage of EmptyDir volume "state" exceeds the limit "1Mi". `},
		{"the pod over its containers' total", map[string]int{"volumes/layouts/a": 2, "logs/push.log": 1, "home-push/x": 1}, "Pod ephemeral local storage usage exceeds the total limit of containers 3Mi. "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &podRun{pod: pod, dir: t.TempDir()}
			for p, mib := range tt.files {
				path := filepath.Join(r.dir, p)
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, make([]byte, mib<<20+1), 0o644))
			}
			e := overLimit(r, pod, limitsOf(pod))
			if tt.want == "" {
				assert.Nil(t, e)
				return
			}
			require.NotNil(t, e)
			assert.Equal(t, tt.want, e.message)
		})
	}
}
