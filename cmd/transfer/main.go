// Command transfer is the build pod's registry step: it fetches the
// source and the cache into the layout the steps share, and pushes the
// image and the cache from it, mounting the blobs the registry already
// holds (shared/transfer). It runs no user code; the steps that hold the
// registry credential run it alone.
//
//	transfer fetch [--insecure] --layout DIR REPOSITORY@DIGEST
//	transfer push [--insecure] --layout DIR [--mount REPOSITORY@DIGEST]... ENTRY REFERENCE
//	transfer publish [--insecure] REFERENCE
//
// publish pushes the transfer image of this very binary (make
// transfer-image); the build pods never run it (deploy/admission.yaml).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/logs"
	// The image holds this binary alone: CA roots for registries over
	// HTTPS come with it.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/apache/openserverless-builder/shared/transfer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "transfer:", err)
		os.Exit(1)
	}
}

// mounts collects the repeated --mount flag.
type mounts []string

func (m *mounts) String() string     { return strings.Join(*m, ",") }
func (m *mounts) Set(v string) error { *m = append(*m, v); return nil }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: transfer fetch|push|publish [flags] ARGUMENTS")
	}
	fs := flag.NewFlagSet("transfer "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := transfer.Options{Keychain: authn.DefaultKeychain}
	fs.BoolVar(&o.Insecure, "insecure", false, "plain HTTP to the registry")
	fs.StringVar(&o.Layout, "layout", "", "the OCI layout's directory")
	var from mounts
	if args[0] == "push" {
		fs.Var(&from, "mount", "an image the registry and the layout both hold, as REPOSITORY@DIGEST, whose blobs are mounted (repeated)")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if o.Layout == "" && args[0] != "publish" {
		return errors.New("--layout is needed")
	}
	// go-containerregistry says per blob whether it pushed, mounted or
	// found it: the build's log shows what each push moved.
	logs.Warn.SetOutput(stderr)
	logs.Progress.SetOutput(stderr)
	start := time.Now()
	// What each step moved and how long it took, for the build's log.
	report := func(what, ref string, c *transfer.Counter) {
		if c != nil {
			fmt.Fprintf(stderr, "%s %s: %s in %.2fs\n", what, ref, c, time.Since(start).Seconds())
		}
	}
	switch {
	case args[0] == "fetch" && fs.NArg() == 1:
		c, err := transfer.Fetch(ctx, fs.Arg(0), o)
		report("fetch", fs.Arg(0), c)
		return err
	case args[0] == "push" && fs.NArg() == 2:
		d, c, err := transfer.Push(ctx, fs.Arg(0), fs.Arg(1), from, o)
		report("push", fs.Arg(1), c)
		if err != nil {
			return err
		}
		// The line logs reads the pushed digest from.
		fmt.Fprintln(stdout, d)
		return nil
	case args[0] == "publish" && fs.NArg() == 1:
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding this binary: %w", err)
		}
		d, err := transfer.Publish(ctx, self, fs.Arg(0), o)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, d)
		return nil
	}
	return fmt.Errorf("usage: transfer fetch [--insecure] --layout DIR REPOSITORY@DIGEST | transfer push [--insecure] --layout DIR [--mount REPOSITORY@DIGEST]... ENTRY REFERENCE | transfer publish [--insecure] REFERENCE; got %q", args)
}
