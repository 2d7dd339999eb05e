package main

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// diskPeriod is how often a pod's disk is measured. A kubelet measures
// every 10 s; once a second makes the eviction come while the step that
// filled the disk still runs, as it would on a slower disk.
const diskPeriod = time.Second

// Where BuildKit keeps its state in the daemon's container: its rootless
// and its privileged data directory. This node runs the daemon with its
// state in the pod's state directory, so that directory is accounted to
// the volume mounted there, as a kubelet accounts it.
var daemonStatePaths = []string{"/home/user/.local/share/buildkit", "/var/lib/buildkit"}

// eviction is why a kubelet evicts a pod for its ephemeral storage.
type eviction struct{ message string }

// diskLimits is what a kubelet enforces on a pod's ephemeral storage: the
// sizeLimit of each emptyDir and the pod's total, from its containers'
// limits (as resource requirements add them up: the containers and
// sidecars together, or the largest regular init container if larger).
type diskLimits struct {
	emptyDirs map[string]resource.Quantity // volume name → sizeLimit
	pod       *resource.Quantity
}

func limitsOf(pod *corev1.Pod) diskLimits {
	l := diskLimits{emptyDirs: map[string]resource.Quantity{}}
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir != nil && v.EmptyDir.SizeLimit != nil && v.EmptyDir.Medium != corev1.StorageMediumMemory {
			l.emptyDirs[v.Name] = *v.EmptyDir.SizeLimit
		}
	}
	var sum, largestInit resource.Quantity
	limited := true
	add := func(c corev1.Container, into *resource.Quantity) {
		q, ok := c.Resources.Limits[corev1.ResourceEphemeralStorage]
		if !ok {
			limited = false
			return
		}
		into.Add(q)
	}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(c, &sum)
			continue
		}
		var q resource.Quantity
		add(c, &q)
		if q.Cmp(largestInit) > 0 {
			largestInit = q
		}
	}
	for _, c := range pod.Spec.Containers {
		add(c, &sum)
	}
	if limited {
		if largestInit.Cmp(sum) > 0 {
			sum = largestInit
		}
		l.pod = &sum
	}
	return l
}

// diskUsage is what r's pod uses of the node's disk, in bytes: each
// emptyDir (by volume name) and the pod's total (its emptyDirs, BuildKit's
// state, its containers' homes and logs), counting what is allocated.
func diskUsage(r *podRun, pod *corev1.Pod) (emptyDirs map[string]int64, total int64) {
	emptyDirs = map[string]int64{}
	seen := map[uint64]bool{}
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir != nil {
			emptyDirs[v.Name] = allocated(filepath.Join(r.dir, "volumes", v.Name), seen)
		}
	}
	state := allocated(filepath.Join(r.dir, "state"), seen)
	for _, c := range pod.Spec.InitContainers {
		for _, m := range c.VolumeMounts {
			for _, p := range daemonStatePaths {
				if m.MountPath == p {
					emptyDirs[m.Name] += state
				}
			}
		}
	}
	total = state + allocated(filepath.Join(r.dir, "logs"), seen)
	for _, n := range emptyDirs {
		total += n
	}
	entries, _ := filepath.Glob(filepath.Join(r.dir, "home-*"))
	for _, e := range entries {
		total += allocated(e, seen)
	}
	return emptyDirs, total
}

// allocated is the disk that the files under dir take, each inode once
// across calls that share seen (hard links, overlay snapshots).
func allocated(dir string, seen map[uint64]bool) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed while walked
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok || seen[st.Ino] {
			return nil
		}
		seen[st.Ino] = true
		n += st.Blocks * 512
		return nil
	})
	return n
}

// overLimit is the eviction r's pod has earned, in a kubelet's words
// (emptyDirs first, then the pod's total); nil while it is within limits.
func overLimit(r *podRun, pod *corev1.Pod, l diskLimits) *eviction {
	emptyDirs, total := diskUsage(r, pod)
	for name, limit := range l.emptyDirs {
		if emptyDirs[name] > limit.Value() {
			return &eviction{fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q. ", name, limit.String())}
		}
	}
	if l.pod != nil && total > l.pod.Value() {
		return &eviction{fmt.Sprintf("Pod ephemeral local storage usage exceeds the total limit of containers %s. ", l.pod.String())}
	}
	return nil
}

// watchDisk measures r's pod until ctx ends, and evicts it once it uses
// more disk than its limits allow: evict is called once, with the reason.
func watchDisk(ctx context.Context, r *podRun, evict func(eviction)) {
	pod := r.get()
	l := limitsOf(pod)
	if len(l.emptyDirs) == 0 && l.pod == nil {
		return
	}
	tick := time.NewTicker(diskPeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if e := overLimit(r, pod, l); e != nil {
			evict(*e)
			return
		}
	}
}
