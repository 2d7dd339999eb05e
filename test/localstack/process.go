// Package localstack starts the servers the integration suite, the demo and
// the benchmarks run against, on 127.0.0.1: etcd and a Kubernetes control
// plane (kube-apiserver, kube-controller-manager, kube-scheduler), and the
// CNCF distribution registry. Everything it starts it stops by PID.
package localstack

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Tools says where the built servers are: hack/tools.sh builds each at the
// version its module under hack/ requires, and links <Dir>/<name> to it.
type Tools struct{ Dir string }

// DefaultTools is $OSB_TOOLS, else $HOME/.cache/osb-tools.
func DefaultTools() Tools {
	if d := os.Getenv("OSB_TOOLS"); d != "" {
		return Tools{Dir: d}
	}
	home, _ := os.UserHomeDir()
	return Tools{Dir: filepath.Join(home, ".cache", "osb-tools")}
}

func (t Tools) kube(name string) string {
	return filepath.Join(t.Dir, "kube", name)
}

func (t Tools) registry() string {
	return filepath.Join(t.Dir, "registry", "registry")
}

func (t Tools) buildkit(name string) string {
	return filepath.Join(t.Dir, "buildkit", name)
}

// RootFS is the root filesystem hack/runtimes.sh made for a stand-in of
// kind's runtimes, as one gzipped layer.
func (t Tools) RootFS(kind string) string {
	return filepath.Join(t.Dir, "runtimes", kind+".tar.gz")
}

// MavenRepository is what Maven fetched for the java stand-in's own build
// (hack/runtimes.sh), as one gzipped tar: the tests' Maven repository
// serves it in place of Maven Central.
func (t Tools) MavenRepository() string {
	return filepath.Join(t.Dir, "runtimes", "maven-repository.tar.gz")
}

// node is the local node (hack/node), rebuilt by every `make tools`.
func (t Tools) node() string { return filepath.Join(t.Dir, "bin", "osb-node") }

// Task is go-task, which `make tools` builds from hack/devtools: the suite
// runs the seed's tasks (Taskfile.yml) with it.
func (t Tools) Task() string { return filepath.Join(t.Dir, "bin", "task") }

// Check reports what is missing, with the command that provides it.
func (t Tools) Check() error {
	var missing []string
	for _, p := range []string{t.kube("kube-apiserver"), t.kube("kube-controller-manager"), t.kube("kube-scheduler"), t.registry(),
		t.buildkit("buildkitd"), t.buildkit("buildctl"), t.node(), t.RootFS("python"), t.RootFS("nodejs"), t.RootFS("php"), t.RootFS("java"), t.MavenRepository()} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	for bin, pkg := range map[string]string{"etcd": "etcd-server", "runc": "runc", "busybox": "busybox-static"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin+" (apt-get install "+pkg+")")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s: run `make tools` (or ./hack/setup.sh)", strings.Join(missing, ", "))
	}
	return nil
}

// proc is one started server.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// start runs bin with args, its output in dir/<name>.log, in a process
// group of its own so that stop reaches its children too.
func start(dir, name, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

// stop ends the process group by the PID: TERM, then KILL after 5 s.
func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tail is the end of the process's log, for errors.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// waitHTTP polls url until ok says yes, the process exits or ctx ends.
func (p *proc) waitHTTP(ctx context.Context, url string, header http.Header, ok func(int) bool) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if ok(resp.StatusCode) {
				return nil
			}
		}
		if p.exited() {
			return fmt.Errorf("%s exited; its log ends:\n%s", p.name, p.tail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s: %w; its log ends:\n%s", p.name, url, ctx.Err(), p.tail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freePort asks the kernel for a free port on loopback.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	seen := map[int]bool{}
	for len(ports) < n {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			ports = append(ports, p)
		}
	}
	return ports, nil
}

func execOutput(ctx context.Context, bin string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}
