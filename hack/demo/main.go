// Command demo runs the builder's whole story on a local stack (make demo):
// it starts the control plane, a node that runs builds, and the registry;
// builds a custom python runtime and a custom nodejs runtime with the send
// action; follows each build with logs; lists, inspects and deletes the
// images; and stops everything it
// started. Every action runs from its zip, as the Go runtime runs it.
package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/test/invoker"
	"github.com/apache/openserverless-builder/test/localstack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo failed: %v\n", err)
		os.Exit(1)
	}
}

type demo struct {
	root  string
	stack *localstack.Stack
	procs map[string]*invoker.Process
	tty   bool
	step  int
}

const steps = 9

func (d *demo) say(format string, args ...any) {
	d.step++
	fmt.Printf("\n[%d/%d] %s\n", d.step, steps, fmt.Sprintf(format, args...))
}

func detail(format string, args ...any) { fmt.Printf("      %s\n", fmt.Sprintf(format, args...)) }

func run(ctx context.Context) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	info, _ := os.Stdout.Stat()
	d := &demo{root: root, procs: map[string]*invoker.Process{}, tty: info != nil && info.Mode()&os.ModeCharDevice != 0}
	dir, err := os.MkdirTemp("", "osb-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fmt.Println("OpenServerless Builder: the seed scenario on a local stack")
	d.say("starting the local stack: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, a node running BuildKit, the registry")
	start := time.Now()
	d.stack, err = localstack.Up(ctx, localstack.DefaultTools(), dir, filepath.Join(root, "deploy", "rbac.yaml"))
	defer func() {
		fmt.Println("\nstopping everything the demo started")
		for _, p := range d.procs {
			p.Stop()
		}
		d.stack.Down()
	}()
	if err != nil {
		return err
	}
	detail("up in %s: API server %s, registry %s (htpasswd), node %s", time.Since(start).Round(time.Millisecond), d.stack.Kube.Server, d.stack.Registry.Host, localstack.NodeName)
	detail("the actions use the builder's ServiceAccount from deploy/rbac.yaml")

	d.say("pushing the python v3.13 and nodejs v21 runtime stand-ins (Debian's python3 and nodejs, docs/kinds.md), writing buildkitd.toml")
	tools := localstack.DefaultTools()
	python, err := d.stack.Registry.PushStandIn(tools, localstack.PythonV313())
	if err != nil {
		return err
	}
	nodejs, err := d.stack.Registry.PushStandIn(tools, localstack.NodejsV21())
	if err != nil {
		return err
	}
	detail("python: %s (with /bin/extend)", python)
	detail("nodejs: %s (without: npm installs)", nodejs)
	res, err := d.admin("updatetoml", "updatetoml", nil)
	if err != nil {
		return err
	}
	detail("%s", res["message"])
	// PyPI cannot be reached from here: a package index on 127.0.0.1
	// serves the wheel, as a user's own index would.
	index, err := localstack.StartPythonIndex(localstack.Wheel{Name: "greeting", Version: "1.0", Source: "def hello(name):\n    return 'hello ' + name\n"})
	if err != nil {
		return err
	}
	defer index.Close()

	var digests []string
	for _, b := range []struct{ kind, source, target, file string }{
		{"python", python, "devel:python3.13-custom", "--index-url " + index.URL + "\ngreeting==1.0\n"},
		{"nodejs", nodejs, "devel:nodejs21-custom", `{"dependencies": {"is-number": "7.0.0"}}` + "\n"},
	} {
		d.say("send, as user devel: build %s from %s and its %s", b.target, b.source, clip(strings.ReplaceAll(strings.TrimSpace(b.file), "\n", " "), 70))
		sent, err := d.user("send", "send", "POST", map[string]any{
			"source": b.source, "target": b.target, "kind": b.kind,
			"file": base64.StdEncoding.EncodeToString([]byte(b.file)),
		})
		if err != nil {
			return err
		}
		job := sent["job_name"].(string)
		detail("Job %s started; it will push %s", job, sent["image"])
		detail("logs: following the build")
		st, err := d.follow(ctx, job)
		if err != nil {
			return err
		}
		// What the package manager said: the install step's lines.
		for _, line := range strings.Split(st["logs"].(string), "\n") {
			for _, mark := range []string{"Extending", "Looking in indexes", "Successfully installed", "added "} {
				if strings.Contains(line, mark) {
					detail("│ %s", clip(strings.TrimSpace(line), 110))
					break
				}
			}
		}
		if st["status"] != types.Succeeded {
			return fmt.Errorf("the build %s: %v", st["status"], st["reason"])
		}
		digests = append(digests, st["digest"].(string))
		detail("succeeded; pushed %s", st["digest"])
	}
	digest := digests[0]

	d.say("list-images catalog=devel")
	res, err = d.user("registry", "list-images", "GET", map[string]any{"catalog": "devel"})
	if err != nil {
		return err
	}
	detail("tags of devel: %v", res["tags"])

	d.say("get-image devel:python3.13-custom")
	res, err = d.user("registry", "get-image", "GET", map[string]any{"image": "devel:python3.13-custom"})
	if err != nil {
		return err
	}
	cfg := res["config"].(map[string]any)
	match := "matches the build's"
	if res["digest"] != digest {
		match = "DIFFERS from the build's " + digest
	}
	detail("digest %s (%s)", res["digest"], match)
	detail("%s, %s/%s, %v layers, %.1f MB, runs as %v", res["media_type"], cfg["os"], cfg["architecture"], cfg["layers"], cfg["total_size"].(float64)/1e6, cfg["user"])
	detail("the image is at %s/devel:python3.13-custom", d.stack.Registry.Host)

	d.say("delete-image devel:python3.13-custom and devel:nodejs21-custom")
	for _, image := range []string{"devel:python3.13-custom", "devel:nodejs21-custom"} {
		res, err = d.user("registry", "delete-image", "DELETE", map[string]any{"image": image})
		if err != nil {
			return err
		}
		detail("%s", res["message"])
	}
	if _, err := d.user("registry", "get-image", "GET", map[string]any{"image": "devel:python3.13-custom"}); err != nil {
		detail("get-image now answers: %v", err)
	}

	d.say("cleanjobs max_age_hours=0, as user devel")
	res, err = d.user("cleanjobs", "cleanjobs", "POST", map[string]any{"max_age_hours": 0})
	if err != nil {
		return err
	}
	detail("%s", res["message"])

	d.say("builds, as user devel: the build outlives its Job in its record")
	res, err = d.user("logs", "builds", "GET", map[string]any{"limit": 5})
	if err != nil {
		return err
	}
	for _, x := range res["builds"].([]any) {
		b := x.(map[string]any)
		detail("%v  %v  %v  from %v  %.1fs  %v", b["id"], b["status"], b["target"], b["source_digest"], b["duration_s"], b["digest"])
	}
	return nil
}

// process starts an action's zip once and keeps it warm.
func (d *demo) process(zip string) (*invoker.Process, error) {
	if p, ok := d.procs[zip]; ok {
		return p, nil
	}
	dir, err := os.MkdirTemp("", "osb-demo-"+zip+"-")
	if err != nil {
		return nil, err
	}
	p, err := invoker.Start(filepath.Join(d.root, "build", zip+".zip"), invoker.Options{Dir: dir, ExecutionEnv: invoker.DefaultExecutionEnv, Bound: d.bound()})
	if err != nil {
		return nil, fmt.Errorf("%w (run `make build`)", err)
	}
	d.procs[zip] = p
	return p, nil
}

// bound are the package parameters, as an operator binds them: the
// builder's ServiceAccount, and the stock runtimes under runtimes/ shared
// with every user.
func (d *demo) bound() map[string]any {
	return invoker.Deployment(localstack.Params(d.stack.SAKubeconfig))
}

// user calls a web action as user devel.
func (d *demo) user(zip, action, method string, params map[string]any) (map[string]any, error) {
	p, err := d.process(zip)
	if err != nil {
		return nil, err
	}
	res, err := p.RunValue(invoker.Web(action, "devel", method, params))
	if err != nil {
		return nil, err
	}
	code, body, err := invoker.Response(res)
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("%s: %d %v", action, code, body["error"])
	}
	return body, nil
}

// admin invokes an action as the admin namespace does (ops action invoke).
func (d *demo) admin(zip, action string, params map[string]any) (map[string]any, error) {
	p, err := d.process(zip)
	if err != nil {
		return nil, err
	}
	res, err := p.RunValue(invoker.Plain(action, localstack.Namespace, params))
	if err != nil {
		return nil, err
	}
	if msg, failed := res["error"]; failed {
		return nil, fmt.Errorf("%s: %v", action, msg)
	}
	return res, nil
}

// follow polls logs until the build ends (any final status), showing its
// progress.
func (d *demo) follow(ctx context.Context, job string) (map[string]any, error) {
	start := time.Now()
	spin := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	last := ""
	for i := 0; ; i++ {
		st, err := d.user("logs", "logs", "GET", map[string]any{"job_name": job, "tail": 1})
		if err != nil {
			return nil, err
		}
		status := st["status"].(string)
		line := strings.TrimSpace(builds.LastLines(st["logs"].(string), 1))
		progress := fmt.Sprintf("%s %-9s %5.1fs  %s", spin[i%len(spin)], status, time.Since(start).Seconds(), clip(line, 70))
		if d.tty {
			fmt.Printf("\r      %-100s", progress)
		} else if status+line != last {
			detail("%s", progress)
			last = status + line
		}
		if types.Done(status) {
			if d.tty {
				fmt.Println()
			}
			return d.user("logs", "logs", "GET", map[string]any{"job_name": job})
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}
