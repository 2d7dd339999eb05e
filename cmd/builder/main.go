// Command builder runs the seed's tasks against the deployed builder
// actions, over the OpenWhisk API:
//
//	builder send --source apache/openserverless-runtime-python:v3.13-2506091954 \
//	    --target devel:python3.13-custom --requirements requirements.txt --follow
//	builder logs
//	builder list-images --catalog devel
//	builder delete-image --image devel:alpine
//
// Credentials and API host come from ~/.wskprops, as `ops` writes it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	info, _ := os.Stdout.Stat()
	tty := info != nil && info.Mode()&os.ModeCharDevice != 0
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv, tty))
}

// cli is one run of the command.
type cli struct {
	out, errOut io.Writer
	tty         bool
	json        bool
	caller      *caller
	poll        time.Duration
}

// exit codes
const (
	exitOK    = 0
	exitError = 1 // the action failed, or the build did
	exitUsage = 2
)

func run(ctx context.Context, args []string, out, errOut io.Writer, getenv func(string) string, tty bool) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(out)
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(errOut, "builder: unknown command %q\n\n", args[0])
		usage(errOut)
		return exitUsage
	}
	s, err := loadSettings(getenv)
	if err != nil {
		fmt.Fprintf(errOut, "builder: %v\n", err)
		return exitError
	}
	c := &cli{out: out, errOut: errOut, tty: tty, poll: time.Second}
	fs := flag.NewFlagSet("builder "+args[0], flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&s.APIHost, "apihost", s.APIHost, "OpenWhisk API host (default: APIHOST of ~/.wskprops)")
	fs.StringVar(&s.Auth, "auth", s.Auth, "OpenWhisk credentials uuid:key (default: AUTH of ~/.wskprops)")
	fs.StringVar(&s.Namespace, "namespace", s.Namespace, "your namespace (default: NAMESPACE of ~/.wskprops)")
	fs.StringVar(&s.PackageNamespace, "package-namespace", s.PackageNamespace, "namespace of the builder package")
	fs.StringVar(&s.Package, "package", s.Package, "name of the builder package")
	web := fs.Bool("web", false, "call the web actions (what users do; the default unless your namespace is the package's)")
	plain := fs.Bool("plain", false, "invoke the actions plainly (admins)")
	fs.BoolVar(&s.Insecure, "insecure", false, "skip TLS verification of the API host")
	fs.BoolVar(&c.json, "json", false, "print the action's result as JSON, for scripts")
	run := cmd.flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(errOut, "%s\n\nUsage: builder %s\n\nExample:\n  %s\n\nFlags:\n", cmd.summary, cmd.usage, cmd.example)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(errOut, "builder %s: unexpected argument %q (see builder %s --help)\n", args[0], fs.Arg(0), args[0])
		return exitUsage
	}
	switch {
	case *web && *plain:
		fmt.Fprintln(errOut, "builder: --web and --plain exclude each other")
		return exitUsage
	case *web:
		s.Mode = "web"
	case *plain:
		s.Mode = "plain"
	}
	if c.caller, err = newCaller(s); err != nil {
		fmt.Fprintf(errOut, "builder: %v\n", err)
		return exitError
	}
	if err := run(ctx, c); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(errOut, "builder %s: %v (see builder %s --help)\n", args[0], err, args[0])
			return exitUsage
		}
		fmt.Fprintf(errOut, "builder %s: %v\n", args[0], err)
		return exitError
	}
	return exitOK
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usage(w io.Writer) {
	fmt.Fprintln(w, "builder: build custom OpenServerless runtimes and manage their images.")
	fmt.Fprintln(w, "\nUsage: builder <command> [flags]   (builder <command> --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nCredentials come from ~/.wskprops (APIHOST, AUTH, NAMESPACE), as ops writes it,")
	fmt.Fprintln(w, "or BUILDER_APIHOST, BUILDER_AUTH, BUILDER_NAMESPACE, or the flags.")
}

// emit prints v as JSON with --json, else with human.
func (c *cli) emit(v map[string]any, human func(w io.Writer)) error {
	if c.json {
		enc := json.NewEncoder(c.out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	human(c.out)
	return nil
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

// num is a JSON number as client-go decodes it (json.Number) or as
// encoding/json does (float64).
func num(v any) float64 {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case float64:
		return x
	}
	return 0
}

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, str(x))
	}
	return out
}
