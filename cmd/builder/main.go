// Command builder runs the seed's tasks against the deployed builder
// actions, over the OpenWhisk API:
//
//	builder send --source apache/openserverless-runtime-python:v3.13-2506091954 \
//	    --target devel:python3.13-custom --requirements requirements.txt --follow
//	builder logs
//	builder builds
//	builder list-images --catalog devel
//	builder delete-image --image devel:alpine
//
// Credentials and API host come from ~/.wskprops, as `ops` writes it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
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
	web, plain  bool
	s           settings
	caller      actions
	poll        time.Duration
	getenv      func(string) string
}

// actions is what the commands need of the OpenWhisk API: run one of the
// builder's actions and return its result, or its message as the error.
type actions interface {
	call(ctx context.Context, action, method string, params map[string]any) (map[string]any, error)
}

// exit codes
const (
	exitOK    = 0
	exitError = 1 // the action failed, or the build did
	exitUsage = 2
)

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, out, errOut io.Writer, getenv func(string) string, tty bool) int {
	c := &cli{out: out, errOut: errOut, tty: tty, poll: time.Second, getenv: getenv}
	s, err := loadSettings(getenv)
	if err != nil {
		fmt.Fprintf(errOut, "builder: %v\n", err)
		return exitError
	}
	c.s = s
	root := c.root()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	name := "builder"
	if cmd != nil && cmd != root {
		name += " " + cmd.Name()
	}
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") {
		fmt.Fprintf(errOut, "%s: %v (see %s --help)\n", name, err, name)
		return exitUsage
	}
	fmt.Fprintf(errOut, "%s: %v\n", name, err)
	return exitError
}

// root is the builder command and its subcommands, with the flags every
// subcommand takes.
func (c *cli) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "builder",
		Short: "build custom OpenServerless runtimes and manage their images",
		Long: "builder: build custom OpenServerless runtimes and manage their images.\n\n" +
			"Credentials come from ~/.wskprops (APIHOST, AUTH, NAMESPACE), as ops writes it,\n" +
			"or BUILDER_APIHOST, BUILDER_AUTH, BUILDER_NAMESPACE, or the flags.",
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return c.connect(cmd)
		},
	}
	f := root.PersistentFlags()
	f.StringVar(&c.s.APIHost, "apihost", c.s.APIHost, "OpenWhisk API host (default: APIHOST of ~/.wskprops)")
	f.StringVar(&c.s.Auth, "auth", c.s.Auth, "OpenWhisk credentials uuid:key (default: AUTH of ~/.wskprops)")
	f.StringVar(&c.s.Namespace, "namespace", c.s.Namespace, "your namespace (default: NAMESPACE of ~/.wskprops)")
	f.StringVar(&c.s.PackageNamespace, "package-namespace", c.s.PackageNamespace, "namespace of the builder package")
	f.StringVar(&c.s.Package, "package", c.s.Package, "name of the builder package")
	f.BoolVar(&c.web, "web", false, "call the web actions (what users do; the default unless your namespace is the package's)")
	f.BoolVar(&c.plain, "plain", false, "invoke the actions plainly (admins)")
	f.BoolVar(&c.s.Insecure, "insecure", false, "skip TLS verification of the API host")
	f.BoolVar(&c.json, "json", false, "print the action's result as JSON, for scripts")
	// Before the completion command, which takes its writer when made.
	root.SetOut(c.out)
	root.SetErr(c.errOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	for _, sub := range c.commands() {
		if sub.Args == nil {
			sub.Args = noArgs
		}
		root.AddCommand(sub)
	}
	// `builder completion bash|zsh|fish|powershell` needs no credentials.
	root.InitDefaultCompletionCmd()
	for _, sub := range root.Commands() {
		if sub.Name() == "completion" {
			sub.PersistentPreRunE = func(*cobra.Command, []string) error { return nil }
		}
	}
	return root
}

// connect checks the mode flags and makes the caller, once the flags are
// parsed.
func (c *cli) connect(cmd *cobra.Command) error {
	switch {
	case c.web && c.plain:
		return usageError{"--web and --plain exclude each other"}
	case c.web:
		c.s.Mode = "web"
	case c.plain:
		c.s.Mode = "plain"
	}
	var err error
	c.caller, err = newCaller(c.s)
	return err
}

// noArgs refuses positional arguments with a usage error.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", args[0])}
	}
	return nil
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
