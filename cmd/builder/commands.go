package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/names"
)

// commands are builder's subcommands: the seed's tasks, and builds and
// cancel.
func (c *cli) commands() []*cobra.Command {
	var send struct {
		source, target, kind, file string
		follow                     bool
	}
	sendCmd := &cobra.Command{
		Use:     "send --source IMAGE --target REPO:TAG [--kind KIND] [--requirements FILE] [--follow]",
		Short:   "start a build of a custom runtime (task builder:send)",
		Example: "  builder send --source apache/openserverless-runtime-python:v3.13-2506091954 --target devel:python3.13-custom --requirements requirements.txt --follow",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.send(cmd.Context(), send.source, send.target, send.kind, send.file, send.follow)
		},
	}
	sendCmd.Flags().StringVar(&send.source, "source", "", "base runtime image")
	sendCmd.Flags().StringVar(&send.target, "target", "", "image to build, <repo>:<tag> in your repositories")
	sendCmd.Flags().StringVar(&send.kind, "kind", "", "runtime kind: "+strings.Join(kinds.Names(), ", ")+" (default: from the requirements file name)")
	sendCmd.Flags().StringVar(&send.file, "requirements", "", "the kind's requirements file (requirements.txt, package.json, ...)")
	sendCmd.Flags().BoolVar(&send.follow, "follow", false, "follow the build until it ends; exit non-zero if it fails")

	var ens struct {
		builder, source, kind, file string
		follow                      bool
	}
	ensureCmd := &cobra.Command{
		Use:     "ensure (--builder ID | --source IMAGE --kind KIND) [--requirements FILE] [--follow]",
		Short:   "the image of a builder and a requirements file: at once if it exists, else built once",
		Example: "  builder ensure --builder python:3.13 -r requirements.txt --follow",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.ensure(cmd.Context(), ens.builder, ens.source, ens.kind, ens.file, ens.follow)
		},
	}
	ensureCmd.Flags().StringVar(&ens.builder, "builder", "", "a builder of the catalog, such as python:3.13 (builder builders lists them)")
	ensureCmd.Flags().StringVar(&ens.source, "source", "", "base runtime image, instead of --builder")
	ensureCmd.Flags().StringVar(&ens.kind, "kind", "", "runtime kind, with --source (default: from the requirements file name)")
	ensureCmd.Flags().StringVarP(&ens.file, "requirements", "r", "", "the kind's requirements file")
	ensureCmd.Flags().BoolVar(&ens.follow, "follow", false, "wait until the image exists; exit non-zero if its build fails")

	buildersCmd := &cobra.Command{
		Use:     "builders",
		Short:   "the builders, kinds and limits this builder offers you",
		Example: "  builder builders",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.show(cmd.Context(), "capabilities", http.MethodGet, nil, printBuilders)
		},
	}

	var job string
	var tail int
	logsCmd := &cobra.Command{
		Use:     "logs [ID] [--job-name NAME] [--tail LINES]",
		Short:   "status and log of a build: your latest, or one by id or --job-name (task builder:logs)",
		Example: "  builder logs --tail 20\n  builder logs 0123456789",
		Args:    maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := map[string]any{}
			if len(args) == 1 {
				p["id"] = args[0]
			}
			if job != "" {
				p["job_name"] = job
			}
			if tail > 0 {
				p["tail"] = tail
			}
			return c.show(cmd.Context(), "logs", http.MethodPost, p, func(w io.Writer, res map[string]any) { printStatus(w, res, true) })
		},
	}
	logsCmd.Flags().StringVar(&job, "job-name", "", "the build's job name (default: your latest build)")
	logsCmd.Flags().IntVar(&tail, "tail", 0, "only the last lines of the log")

	var limit int
	var next, user string
	buildsCmd := &cobra.Command{
		Use:     "builds [--limit N] [--next CURSOR] [--user NAME]",
		Short:   "your builds, newest first, also those cleaned up (admins: everyone's, or --user's)",
		Example: "  builder builds --limit 10",
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := map[string]any{"limit": limit}
			if next != "" {
				p["next"] = next
			}
			if user != "" {
				p["user"] = user
			}
			return c.show(cmd.Context(), "builds", http.MethodPost, p, printBuilds)
		},
	}
	buildsCmd.Flags().IntVar(&limit, "limit", 20, "builds per page, at most 100")
	buildsCmd.Flags().StringVar(&next, "next", "", "the page after this cursor (builds prints it)")
	buildsCmd.Flags().StringVar(&user, "user", "", "one user's builds (admins)")

	var cancelJob string
	cancelCmd := &cobra.Command{
		Use:     "cancel ID|--job-name NAME",
		Short:   "stop a pending or running build: its pod goes and nothing is pushed",
		Example: "  builder cancel 0123456789",
		Args:    maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := map[string]any{}
			if len(args) == 1 {
				p["id"] = args[0]
			}
			if cancelJob != "" {
				p["job_name"] = cancelJob
			}
			if len(p) == 0 {
				return usageError{"the build's id, or --job-name, is required"}
			}
			return c.show(cmd.Context(), "cancel", http.MethodDelete, p, func(w io.Writer, res map[string]any) { fmt.Fprintln(w, str(res["message"])) })
		},
	}
	cancelCmd.Flags().StringVar(&cancelJob, "job-name", "", "the build's job name")

	var age float64
	var dry bool
	cleanCmd := &cobra.Command{
		Use:     "cleanjobs [--max-age-hours HOURS] [--dry-run]",
		Short:   "delete finished build jobs older than --max-age-hours (task builder:cleanjobs)",
		Example: "  builder cleanjobs --max-age-hours 48 --dry-run",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.show(cmd.Context(), "cleanjobs", http.MethodPost, map[string]any{"max_age_hours": age, "dry_run": dry}, func(w io.Writer, res map[string]any) {
				fmt.Fprintln(w, str(res["message"]))
				for _, j := range strs(res["jobs"]) {
					fmt.Fprintln(w, "  "+j)
				}
			})
		},
	}
	cleanCmd.Flags().Float64Var(&age, "max-age-hours", 24, "age of the builds to delete, since they finished")
	cleanCmd.Flags().BoolVar(&dry, "dry-run", false, "list what would be deleted, delete nothing")

	var tomlFile string
	tomlCmd := &cobra.Command{
		Use:     "updatetoml [--file buildkitd.toml]",
		Short:   "create or replace the buildkitd.toml ConfigMap, admins (task builder:updatetoml)",
		Example: "  builder updatetoml --file buildkitd.toml",
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := map[string]any{}
			if tomlFile != "" {
				data, err := os.ReadFile(tomlFile)
				if err != nil {
					return usageError{err.Error()}
				}
				p["toml"] = string(data)
			}
			return c.show(cmd.Context(), "updatetoml", http.MethodPost, p, func(w io.Writer, res map[string]any) { fmt.Fprintln(w, str(res["message"])) })
		},
	}
	tomlCmd.Flags().StringVar(&tomlFile, "file", "", "the TOML to write (default: the builder's default for the registry)")

	var allRepos, allTags bool
	catalogsCmd := &cobra.Command{
		Use:     "list-catalogs [--all]",
		Short:   "repositories in the registry: yours, or all for admins (task builder:list-catalogs)",
		Example: "  builder list-catalogs",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.show(cmd.Context(), "list-catalogs", http.MethodPost, map[string]any{"all": allRepos}, func(w io.Writer, res map[string]any) { column(w, "REPOSITORY", strs(res["repositories"])) })
		},
	}
	catalogsCmd.Flags().BoolVar(&allRepos, "all", false, "also the build caches (<user>/buildcache)")

	var catalog string
	imagesCmd := &cobra.Command{
		Use:     "list-images --catalog REPO",
		Short:   "tags of one repository (task builder:list-images)",
		Example: "  builder list-images --catalog devel",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if catalog == "" {
				return usageError{"--catalog is required"}
			}
			return c.show(cmd.Context(), "list-images", http.MethodPost, map[string]any{"catalog": catalog, "all": allTags}, func(w io.Writer, res map[string]any) { column(w, "TAG", strs(res["tags"])) })
		},
	}
	imagesCmd.Flags().StringVar(&catalog, "catalog", "", "the repository, such as devel")
	imagesCmd.Flags().BoolVar(&allTags, "all", false, "also list a build cache's tags")

	return []*cobra.Command{sendCmd, ensureCmd, buildersCmd, logsCmd, buildsCmd, cancelCmd, cleanCmd, tomlCmd, catalogsCmd, imagesCmd,
		c.imageCommand("get-image", http.MethodPost,
			"manifest, digest and config of an image (task builder:get-image)",
			"builder get-image --image devel:python3.13-custom", printImage),
		c.imageCommand("delete-image", http.MethodDelete,
			"delete an image by its digest (task builder:delete-image)",
			"builder delete-image --image devel:alpine",
			func(w io.Writer, res map[string]any) { fmt.Fprintln(w, str(res["message"])) }),
	}
}

// maxArgs allows at most n positional arguments.
func maxArgs(n int) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > n {
			return usageError{fmt.Sprintf("unexpected argument %q", args[n])}
		}
		return nil
	}
}

// show calls action and prints its result: JSON with --json, else human.
func (c *cli) show(ctx context.Context, action, method string, p map[string]any, human func(io.Writer, map[string]any)) error {
	res, err := c.caller.call(ctx, action, method, p)
	if err != nil {
		return err
	}
	return c.emit(res, func(w io.Writer) { human(w, res) })
}

// imageCommand is a command that takes one --image and calls action.
func (c *cli) imageCommand(action, method, summary, example string, human func(io.Writer, map[string]any)) *cobra.Command {
	var image string
	cmd := &cobra.Command{
		Use:     action + " --image REPO:TAG|REPO@DIGEST",
		Short:   summary,
		Example: "  " + example,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if image == "" {
				return usageError{"--image is required"}
			}
			return c.show(cmd.Context(), action, method, map[string]any{"image": image}, human)
		},
	}
	cmd.Flags().StringVar(&image, "image", "", "the image, <repo>:<tag> or <repo>@<digest>")
	return cmd
}

// printBuilds prints a page of builds as a table, and how to get the next.
func printBuilds(w io.Writer, res map[string]any) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tTARGET\tKIND\tCREATED\tDURATION")
	list, _ := res["builds"].([]any)
	for _, x := range list {
		b, _ := x.(map[string]any)
		d := ""
		if b["duration_s"] != nil {
			d = fmt.Sprintf("%.0fs", num(b["duration_s"]))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", str(b["id"]), str(b["status"]), str(b["target"]), str(b["kind"]), str(b["created"]), d)
	}
	tw.Flush()
	if n := str(res["next"]); n != "" {
		fmt.Fprintf(w, "more: builder builds --next %s\n", n)
	}
}

// readFile puts the requirements file into p, base64 as the actions take
// it; "" is none.
func readFile(p map[string]any, file string) error {
	if file == "" {
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return usageError{err.Error()}
	}
	p["file"] = base64.StdEncoding.EncodeToString(data)
	return nil
}

// requirements reads file into p and returns kind, inferred from the
// file's name when it is "".
func requirements(p map[string]any, file, kind string) (string, error) {
	if err := readFile(p, file); err != nil || file == "" {
		return kind, err
	}
	if kind == "" {
		k, ok := kinds.ByFile(file)
		if !ok {
			return "", usageError{fmt.Sprintf("cannot tell the kind from %q: pass --kind", file)}
		}
		kind = k.Name
	}
	return kind, nil
}

// ensure asks for the image of a builder (or a source and kind) and a
// file; with follow, it waits for a build under way and asks again.
func (c *cli) ensure(ctx context.Context, builder, source, kind, file string, follow bool) error {
	p := map[string]any{}
	switch {
	case builder != "" && (source != "" || kind != ""):
		return usageError{"pass --builder, or --source and --kind, not both"}
	case builder != "":
		p["builder"] = builder
		if err := readFile(p, file); err != nil {
			return err
		}
	case source == "":
		return usageError{"--builder (or --source) is required"}
	default:
		k, err := requirements(p, file, kind)
		if err != nil {
			return err
		}
		if k == "" {
			return usageError{"--kind is required with --source and without --requirements"}
		}
		p["source"], p["kind"] = source, k
	}
	res, err := c.caller.call(ctx, "ensure", http.MethodPost, p)
	if err != nil {
		return err
	}
	if follow && str(res["status"]) != "ready" {
		if !c.json {
			fmt.Fprintf(c.out, "building %s (job %s)\n", str(res["image"]), str(res["job_name"]))
		}
		st, err := c.follow(ctx, str(res["job_name"]))
		if err != nil {
			return err
		}
		if st["status"] != names.Succeeded {
			_ = c.emit(st, func(w io.Writer) { printStatus(w, st, true) })
			return fmt.Errorf("the build of %s %s: %s", str(res["image"]), str(st["status"]), str(st["reason"]))
		}
		if res, err = c.caller.call(ctx, "ensure", http.MethodPost, p); err != nil {
			return err
		}
	}
	return c.emit(res, func(w io.Writer) {
		rows := [][2]string{{"status", str(res["status"])}, {"image", str(res["image"])}}
		if d := str(res["digest"]); d != "" {
			rows = append(rows, [2]string{"digest", d})
		}
		if j := str(res["job_name"]); j != "" {
			rows = append(rows, [2]string{"job", j})
		}
		table(w, rows)
	})
}

func printBuilders(w io.Writer, res map[string]any) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BUILDER\tKIND\tFILE\tSOURCE")
	list, _ := res["builders"].([]any)
	for _, b := range list {
		m, _ := b.(map[string]any)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", str(m["id"]), str(m["kind"]), str(m["file"]), str(m["source"]))
	}
	tw.Flush()
}

func (c *cli) send(ctx context.Context, source, target, kind, file string, follow bool) error {
	if source == "" || target == "" {
		return usageError{"--source and --target are required"}
	}
	p := map[string]any{"source": source, "target": target}
	kind, err := requirements(p, file, kind)
	if err != nil {
		return err
	}
	if kind == "" {
		return usageError{"--kind is required without --requirements"}
	}
	p["kind"] = kind
	res, err := c.caller.call(ctx, "send", http.MethodPost, p)
	if err != nil {
		return err
	}
	if !follow {
		return c.emit(res, func(w io.Writer) {
			table(w, [][2]string{{"id", str(res["id"])}, {"job", str(res["job_name"])}, {"image", str(res["image"])}})
			fmt.Fprintln(w, str(res["message"]))
		})
	}
	if !c.json {
		fmt.Fprintf(c.out, "build %s of %s started (job %s)\n", str(res["id"]), str(res["image"]), str(res["job_name"]))
	}
	st, err := c.follow(ctx, str(res["job_name"]))
	if err != nil {
		return err
	}
	ok := st["status"] == names.Succeeded
	if err := c.emit(st, func(w io.Writer) { printStatus(w, st, !ok) }); err != nil {
		return err
	}
	switch {
	case st["status"] == names.Cancelled:
		return fmt.Errorf("the build was cancelled: %s", str(st["reason"]))
	case !ok:
		return fmt.Errorf("the build failed: %s", str(st["reason"]))
	}
	return nil
}

// follow polls the logs action until the build ends (any final status:
// succeeded, failed or cancelled), with a progress line.
func (c *cli) follow(ctx context.Context, job string) (map[string]any, error) {
	start := time.Now()
	spin := `|/-\`
	last := ""
	for i := 0; ; i++ {
		st, err := c.caller.call(ctx, "logs", http.MethodPost, map[string]any{"job_name": job, "tail": 1})
		if err != nil {
			return nil, err
		}
		status := str(st["status"])
		line := safeText(strings.TrimSpace(str(st["logs"])))
		if !c.json {
			progress := fmt.Sprintf("%c %-9s %5.0fs  %s", spin[i%len(spin)], status, time.Since(start).Seconds(), clip(line, 60))
			if c.tty {
				fmt.Fprintf(c.out, "\r%-90s", progress)
			} else if status != last {
				fmt.Fprintln(c.out, progress)
				last = status
			}
		}
		if names.Done(status) {
			if c.tty && !c.json {
				fmt.Fprintln(c.out)
			}
			return c.caller.call(ctx, "logs", http.MethodPost, map[string]any{"job_name": job})
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(c.poll):
		}
	}
}

func printStatus(w io.Writer, st map[string]any, withLog bool) {
	rows := [][2]string{{"job", str(st["job_name"])}, {"status", str(st["status"])}}
	if r := str(st["reason"]); r != "" {
		rows = append(rows, [2]string{"reason", r})
	}
	rows = append(rows, [2]string{"image", str(st["image"])})
	if d := str(st["digest"]); d != "" {
		rows = append(rows, [2]string{"digest", d})
	}
	if m := str(st["message"]); m != "" {
		rows = append(rows, [2]string{"note", m})
	}
	table(w, rows)
	if log := str(st["logs"]); withLog && log != "" {
		fmt.Fprintln(w, "\n"+safeText(strings.TrimRight(log, "\n")))
	}
}

func printImage(w io.Writer, m map[string]any) {
	rows := [][2]string{{"name", str(m["name"])}, {"reference", str(m["reference"])}, {"digest", str(m["digest"])}, {"media type", str(m["media_type"])}}
	if cfg, ok := m["config"].(map[string]any); ok {
		rows = append(rows,
			[2]string{"platform", str(cfg["os"]) + "/" + str(cfg["architecture"])},
			[2]string{"created", str(cfg["created"])},
			[2]string{"user", str(cfg["user"])},
			[2]string{"layers", str(cfg["layers"])},
			[2]string{"size", fmt.Sprintf("%.1f MB", num(cfg["total_size"])/1e6)})
	}
	table(w, rows)
}

func table(w io.Writer, rows [][2]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", strings.ToUpper(r[0]), safeText(r[1]))
	}
	tw.Flush()
}

func column(w io.Writer, title string, items []string) {
	fmt.Fprintln(w, title)
	for _, it := range items {
		fmt.Fprintln(w, it)
	}
}

func clip(s string, n int) string {
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}

// safeText shows the control characters of text that came from a build
// (its log: the user's own output) or a server escaped, as \x1b and the
// like, keeping newlines and tabs: no escape sequence reaches the
// terminal of whoever reads it (an OSC 52 clipboard write, a screen
// clear, a title change, a line rewritten by a carriage return).
func safeText(text string) string {
	var b strings.Builder
	for _, r := range text {
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r == 0x2028 || r == 0x2029 || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069:
			fmt.Fprintf(&b, `\u%04x`, r) // line breaks and bidirectional overrides
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
