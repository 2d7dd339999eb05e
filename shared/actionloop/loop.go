// Package actionloop speaks the OpenWhisk ActionLoop protocol, the way the Go
// runtime runs an `exec`: an optional ack on fd 3, then one JSON line per
// activation on stdin and exactly one JSON line per result on fd 3, forever.
package actionloop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Activation is one line of input: Value holds the parameters; Fields the
// other string fields (namespace, action_name, activation_id, deadline,
// api_key, ...), keyed by their names in the input.
type Activation struct {
	Value  map[string]any
	Fields map[string]string
	Log    *log.Logger
}

// Field returns a string field of the activation, "" when absent.
func (a Activation) Field(name string) string { return a.Fields[name] }

// Handler runs one activation and returns the result to encode as JSON.
type Handler func(ctx context.Context, act Activation) any

// Loop reads activations from In and writes results to Out.
type Loop struct {
	In      io.Reader
	Out     io.Writer
	Log     io.Writer
	Handler Handler
	// SetEnv exports the activation's fields as __OW_<UPPER>, as the
	// protocol promises; nil exports nothing (tests).
	SetEnv func(key, value string) error
}

// Run serves activations until In ends. It never returns between activations:
// a failed or panicking activation becomes an error result.
func (l *Loop) Run(ctx context.Context) error {
	in := bufio.NewReaderSize(l.In, 64<<10)
	logger := log.New(l.Log, "", 0)
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			result := l.serve(ctx, line, logger)
			if werr := writeLine(l.Out, result); werr != nil {
				return fmt.Errorf("writing result: %w", werr)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading activation: %w", err)
		}
	}
}

func (l *Loop) serve(ctx context.Context, line []byte, logger *log.Logger) (result any) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return map[string]any{"error": "the activation is not a JSON object"}
	}
	act := Activation{Value: map[string]any{}, Fields: map[string]string{}, Log: logger}
	for k, v := range raw {
		if k == "value" {
			// A non-object value is treated as no parameters.
			_ = json.Unmarshal(v, &act.Value)
			if act.Value == nil {
				act.Value = map[string]any{}
			}
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			act.Fields[k] = s
			if l.SetEnv != nil {
				_ = l.SetEnv("__OW_"+strings.ToUpper(k), s)
			}
		}
	}
	if ms, err := strconv.ParseInt(act.Fields["deadline"], 10, 64); err == nil && ms > 0 {
		// The handler's calls end AnswerMargin before OpenWhisk would end
		// the activation: a server that does not answer is then the
		// handler's own answer (a 503), not an activation killed without
		// one.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, time.UnixMilli(ms).Add(-AnswerMargin))
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			logger.Printf("panic in activation %s: %v", act.Fields["activation_id"], p)
			result = map[string]any{"error": "internal error; the action log has the details"}
		}
	}()
	return l.Handler(ctx, act)
}

// AnswerMargin is how long before an activation's deadline its handler's
// context ends: the time to map the failure and write the answer.
const AnswerMargin = 2 * time.Second

func writeLine(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // messages hold <repo>:<tag>; keep them readable
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		buf.WriteString(`{"error":"internal error: the result cannot be encoded"}` + "\n")
	}
	// Encode escapes newlines inside strings: buf is one line, newline-ended.
	_, err := w.Write(buf.Bytes())
	return err
}

// Main runs h under the Go runtime: it acks when __OW_WAIT_FOR_ACK is set,
// then serves stdin until it closes. Results go to fd 3, or to stdout when
// fd 3 is not open (the exec run by hand).
func Main(h Handler) {
	out := resultFile()
	if os.Getenv("__OW_WAIT_FOR_ACK") != "" {
		if _, err := out.Write([]byte("{\"ok\":true}\n")); err != nil {
			fmt.Fprintf(os.Stderr, "writing ack: %v\n", err)
			os.Exit(1)
		}
	}
	loop := &Loop{In: os.Stdin, Out: out, Log: os.Stderr, Handler: h, SetEnv: os.Setenv}
	if err := loop.Run(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		os.Exit(1)
	}
}

// resultFile is fd 3 when it is open for writing (the runtime's pipe),
// else stdout.
func resultFile() *os.File {
	flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, 3, syscall.F_GETFL, 0)
	if errno != 0 {
		return os.Stdout
	}
	if mode := flags & syscall.O_ACCMODE; mode != syscall.O_WRONLY && mode != syscall.O_RDWR {
		return os.Stdout
	}
	return os.NewFile(3, "result")
}
