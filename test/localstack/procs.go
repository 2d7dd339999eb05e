package localstack

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// process is a process on this machine, as /proc shows it.
type process struct {
	pid, ppid int
	args      []string
}

// processes lists this machine's processes from /proc; one that exits
// while it is read is left out.
func processes() []process {
	var out []process
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so the fields
		// are read after its closing parenthesis.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		out = append(out, process{pid: pid, ppid: ppid, args: strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")})
	}
	return out
}

// descendants are the PIDs of every process under pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	for _, p := range processes() {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	var out []int
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// podDir is the part of a path the local node gives everything of pod:
// its volumes, its daemon's state and socket (hack/node: <workdir>/pods/<uid>).
func podDir(pod *corev1.Pod) string {
	return "/pods/" + strings.ReplaceAll(string(pod.UID), "-", "")[:12] + "/"
}

// PodPIDs are the processes the local node runs for pod: its daemon and
// steps, whose command lines name the pod's directory.
func PodPIDs(pod *corev1.Pod) []int {
	var pids []int
	for _, p := range processes() {
		if strings.Contains(strings.Join(p.args, " "), podDir(pod)) {
			pids = append(pids, p.pid)
		}
	}
	return pids
}

// DaemonPID is the PID of the buildkitd the local node runs for pod (its
// state is the pod's), 0 when none runs.
func DaemonPID(pod *corev1.Pod) int {
	for _, p := range processes() {
		if strings.HasSuffix(p.args[0], "buildkitd") && strings.Contains(strings.Join(p.args, " "), podDir(pod)+"state") {
			return p.pid
		}
	}
	return 0
}
