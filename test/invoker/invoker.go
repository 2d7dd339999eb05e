// Package invoker runs an action zip the way the OpenWhisk Go runtime does,
// for tests: it unzips it, checks exec and exec.env, starts exec with only
// __OW_* variables and the init env plus fd 3, waits for the ack, then sends
// one activation line at a time and reads one result line for each.
package invoker

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultExecutionEnv is what the OpenServerless Go runtime expects in
// exec.env.
const DefaultExecutionEnv = "apacheopenserverless/runtime-golang-v1.22"

// Options configure Start.
type Options struct {
	// Dir receives the unzipped action; it must exist.
	Dir string
	// ExecutionEnv is the runtime's OW_EXECUTION_ENV; "" skips the check,
	// as the runtime does.
	ExecutionEnv string
	// InitEnv is the env of the /init request, passed to exec.
	InitEnv map[string]string
	// Timeout bounds the ack and each activation (default 30 s).
	Timeout time.Duration
	// Bound are the parameters the deployment binds to the action (its
	// package's inputs and its own). Every builder action is final: as
	// OpenWhisk's controller does, Run refuses an activation whose request
	// names one of them (ErrFinal), and merges the rest over them.
	Bound map[string]any
}

// ErrFinal is OpenWhisk's refusal (400) of a request that sets a parameter
// the deployment bound to a final action.
//
//lint:ignore ST1005 OpenWhisk's own message, word for word.
var ErrFinal = errors.New("Request defines parameters that are not allowed (e.g., reserved properties).")

// Process is a running exec.
type Process struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	results *bufio.Reader
	resultR *os.File
	logs    *lockedBuffer
	timeout time.Duration
	done    chan struct{}
	waitErr error
	ackTime time.Duration
	bound   map[string]any
}

// Start unzips zipPath into o.Dir and starts its exec as the runtime does.
// The caller must Stop it.
func Start(zipPath string, o Options) (*Process, error) {
	data, err := os.ReadFile(zipPath)
	if err != nil {
		return nil, err
	}
	return start(data, o)
}

// InitBody is the runtime's /init request for a zip, as the invoker sends
// it: the zip base64-encoded in a JSON document.
func InitBody(zipData []byte) ([]byte, error) {
	return json.Marshal(map[string]any{"value": map[string]any{
		"name": "action", "main": "main", "binary": true, "code": base64.StdEncoding.EncodeToString(zipData), "env": map[string]string{},
	}})
}

// StartInit starts an action from its /init request, paying what the Go
// runtime pays on a cold start: the JSON decode, the base64 decode, the
// unzip, the start of exec and its ack. The init's env is passed to exec.
func StartInit(body []byte, o Options) (*Process, error) {
	var init struct {
		Value struct {
			Code   string            `json:"code"`
			Binary bool              `json:"binary"`
			Env    map[string]string `json:"env"`
		} `json:"value"`
	}
	if err := json.Unmarshal(body, &init); err != nil {
		return nil, fmt.Errorf("decoding the init request: %w", err)
	}
	if !init.Value.Binary {
		return nil, errors.New("the init request carries no binary")
	}
	data, err := base64.StdEncoding.DecodeString(init.Value.Code)
	if err != nil {
		return nil, fmt.Errorf("decoding the code: %w", err)
	}
	env := map[string]string{}
	for _, m := range []map[string]string{o.InitEnv, init.Value.Env} {
		for k, v := range m {
			env[k] = v
		}
	}
	o.InitEnv = env
	return start(data, o)
}

func start(zipData []byte, o Options) (*Process, error) {
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if err := unzip(zipData, o.Dir); err != nil {
		return nil, fmt.Errorf("unzipping: %w", err)
	}
	execPath := filepath.Join(o.Dir, "exec")
	info, err := os.Stat(execPath)
	if err != nil {
		return nil, fmt.Errorf("the zip has no exec: %w", err)
	}
	if info.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("exec is not executable (mode %v)", info.Mode())
	}
	if o.ExecutionEnv != "" {
		env, err := os.ReadFile(filepath.Join(o.Dir, "exec.env"))
		if err != nil {
			return nil, fmt.Errorf("the zip has no exec.env: %w", err)
		}
		if got := strings.TrimSpace(string(env)); got != o.ExecutionEnv {
			return nil, fmt.Errorf("execution environment mismatch: exec.env says %q, the runtime is %q", got, o.ExecutionEnv)
		}
	}
	resultR, resultW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	logs := &lockedBuffer{}
	var cmd *exec.Cmd
	var stdin io.WriteCloser
	for attempt := 0; ; attempt++ {
		cmd = exec.Command(execPath)
		cmd.Dir = o.Dir
		// Only what the runtime passes: no PATH, HOME or KUBERNETES_*.
		cmd.Env = []string{"__OW_WAIT_FOR_ACK=1"}
		for k, v := range o.InitEnv {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.ExtraFiles = []*os.File{resultW}
		cmd.Stdout, cmd.Stderr = logs, logs
		if stdin, err = cmd.StdinPipe(); err != nil {
			return nil, err
		}
		err = cmd.Start()
		// A process forked meanwhile by another goroutine (parallel tests
		// start zips at once) holds exec open, from its unzipping, until it
		// execs itself: ETXTBSY for that moment.
		if errors.Is(err, syscall.ETXTBSY) && attempt < 50 {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		break
	}
	if err != nil {
		resultR.Close()
		resultW.Close()
		return nil, fmt.Errorf("starting exec: %w", err)
	}
	started := time.Now()
	resultW.Close() // the child holds its end
	p := &Process{cmd: cmd, stdin: stdin, results: bufio.NewReader(resultR), resultR: resultR, logs: logs, timeout: o.Timeout, done: make(chan struct{}), bound: o.Bound}
	go func() { p.waitErr = cmd.Wait(); close(p.done) }()

	line, err := p.readLine()
	if err != nil {
		p.Stop()
		return nil, fmt.Errorf("waiting for the ack: %w (log: %s)", err, logs.String())
	}
	var ack struct {
		OK bool `json:"ok"`
	}
	if json.Unmarshal(line, &ack) != nil || !ack.OK {
		p.Stop()
		return nil, fmt.Errorf("bad ack %q", line)
	}
	p.ackTime = time.Since(started)
	return p, nil
}

// Activation is the body of a /run request.
type Activation struct {
	Value        map[string]any `json:"value"`
	Namespace    string         `json:"namespace,omitempty"`
	ActionName   string         `json:"action_name,omitempty"`
	ActivationID string         `json:"activation_id,omitempty"`
	Deadline     string         `json:"deadline,omitempty"`
	APIKey       string         `json:"api_key,omitempty"`
}

// Run sends one activation and returns its result line. The activation's
// Value is the request's parameters (and the __ow_* fields of a web
// request): Run refuses one that names a bound parameter, and merges the
// bound ones under it, as the controller does before the runtime sees it.
func (p *Process) Run(a Activation) (json.RawMessage, error) {
	for k := range a.Value {
		if _, ok := p.bound[k]; ok {
			return nil, fmt.Errorf("%w: %q is bound", ErrFinal, k)
		}
	}
	a.Value = Merge(p.bound, a.Value)
	if a.Deadline == "" {
		a.Deadline = fmt.Sprint(time.Now().Add(p.timeout).UnixMilli())
	}
	body, err := json.MarshalIndent(a, "", " ")
	if err != nil {
		return nil, err
	}
	// The runtime removes the newlines of the /run body, then sends it as
	// one line.
	body = bytes.ReplaceAll(body, []byte("\n"), nil)
	if _, err := p.stdin.Write(append(body, '\n')); err != nil {
		return nil, fmt.Errorf("sending the activation: %w", err)
	}
	line, err := p.readLine()
	if err != nil {
		return nil, fmt.Errorf("reading the result: %w (log: %s)", err, p.logs.String())
	}
	return json.RawMessage(bytes.TrimSuffix(line, []byte("\n"))), nil
}

// RunValue is Run with the result decoded into an object.
func (p *Process) RunValue(a Activation) (map[string]any, error) {
	raw, err := p.Run(a)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("the result %q is not a JSON object: %w", raw, err)
	}
	return m, nil
}

func (p *Process) readLine() ([]byte, error) {
	type res struct {
		line []byte
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		line, err := p.results.ReadBytes('\n')
		ch <- res{line, err}
	}()
	select {
	case r := <-ch:
		return r.line, r.err
	case <-p.done:
		return nil, fmt.Errorf("exec exited: %v", p.waitErr)
	case <-time.After(p.timeout):
		return nil, errors.New("timed out")
	}
}

// AckTime is how long exec took from its start to its ack.
func (p *Process) AckTime() time.Duration { return p.ackTime }

// Logs is what exec wrote to stdout and stderr so far.
func (p *Process) Logs() string { return p.logs.String() }

// Exited reports whether exec has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Pid is exec's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop kills exec by its PID and waits for it.
func (p *Process) Stop() {
	if !p.Exited() {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.resultR.Close()
}

func unzip(data []byte, dir string) error {
	r, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	for _, f := range r.File {
		target := filepath.Join(dir, f.Name)
		if !strings.HasPrefix(target, filepath.Clean(dir)+string(os.PathSeparator)) {
			return fmt.Errorf("entry %q escapes the directory", f.Name)
		}
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := extract(f, target); err != nil {
			return err
		}
	}
	return nil
}

func extract(f *zip.File, target string) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, f.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// lockedBuffer collects the child's output from two pipes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
