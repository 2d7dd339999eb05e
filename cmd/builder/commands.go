package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/types"
)

// commands are builder's subcommands: the seed's tasks, and builds and
// cancel.
func (c *cli) commands() []*cobra.Command {
	var send struct {
		source, target, kind, file string
		secrets                    []string
		follow, rebuild            bool
	}
	sendCmd := &cobra.Command{
		Use:     "send --source IMAGE --target REPO:TAG [--kind KIND] [--requirements FILE] [--secret NAME=FILE]... [--rebuild] [--follow]",
		Short:   "start a build of a custom runtime (task builder:send)",
		Example: "  builder send --source apache/openserverless-runtime-python:v3.13-2506091954 --target devel:python3.13-custom --requirements requirements.txt --follow",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.send(cmd.Context(), send.source, send.target, send.kind, send.file, send.secrets, send.rebuild, send.follow)
		},
	}
	sendCmd.Flags().StringVar(&send.source, "source", "", "base runtime image")
	sendCmd.Flags().StringVar(&send.target, "target", "", "image to build, <repo>:<tag> in your repositories")
	sendCmd.Flags().StringVar(&send.kind, "kind", "", "runtime kind: "+strings.Join(kinds.Names(), ", ")+" (default: from the requirements file name)")
	sendCmd.Flags().StringVar(&send.file, "requirements", "", "the kind's requirements file (requirements.txt, package.json, ...)")
	sendCmd.Flags().StringArrayVar(&send.secrets, "secret", nil, secretUsage)
	sendCmd.Flags().BoolVar(&send.rebuild, "rebuild", false, "build even when you have an image of the same source, kind and file (default: reuse it)")
	sendCmd.Flags().BoolVar(&send.follow, "follow", false, "follow the build until it ends; exit non-zero if it fails")

	var ens struct {
		builder, source, kind, file string
		secrets                     []string
		follow                      bool
	}
	ensureCmd := &cobra.Command{
		Use:     "ensure (--builder ID | --source IMAGE --kind KIND) [--requirements FILE] [--secret NAME=FILE]... [--follow]",
		Short:   "the image of a builder and a requirements file: at once if it exists, else built once",
		Example: "  builder ensure --builder python:3.13 -r requirements.txt --follow",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.ensure(cmd.Context(), ens.builder, ens.source, ens.kind, ens.file, ens.secrets, ens.follow)
		},
	}
	ensureCmd.Flags().StringVar(&ens.builder, "builder", "", "a builder of the catalog, such as python:3.13 (builder builders lists them)")
	ensureCmd.Flags().StringVar(&ens.source, "source", "", "base runtime image, instead of --builder")
	ensureCmd.Flags().StringVar(&ens.kind, "kind", "", "runtime kind, with --source (default: from the requirements file name)")
	ensureCmd.Flags().StringVarP(&ens.file, "requirements", "r", "", "the kind's requirements file")
	ensureCmd.Flags().StringArrayVar(&ens.secrets, "secret", nil, secretUsage)
	ensureCmd.Flags().BoolVar(&ens.follow, "follow", false, "wait until the image exists; exit non-zero if its build fails")

	buildersCmd := &cobra.Command{
		Use:     "builders",
		Short:   "the builders, kinds and limits this builder offers you",
		Example: "  builder builders",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(cmd.Context(), c, "capabilities", http.MethodGet, nil, printBuilders)
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
			return show(cmd.Context(), c, "logs", http.MethodPost, p, func(w io.Writer, st types.Status) { printStatus(w, st, true) })
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
			return show(cmd.Context(), c, "builds", http.MethodPost, p, printBuilds)
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
			return show(cmd.Context(), c, "cancel", http.MethodDelete, p, func(w io.Writer, res types.Stopped) { fmt.Fprintln(w, res.Message) })
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
			return show(cmd.Context(), c, "cleanjobs", http.MethodPost, map[string]any{"max_age_hours": age, "dry_run": dry}, func(w io.Writer, res types.Cleaned) {
				fmt.Fprintln(w, res.Message)
				for _, j := range res.Jobs {
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
			return show(cmd.Context(), c, "updatetoml", http.MethodPost, p, func(w io.Writer, res types.TOMLWritten) { fmt.Fprintln(w, res.Message) })
		},
	}
	tomlCmd.Flags().StringVar(&tomlFile, "file", "", "the TOML to write (default: the builder's default for the registry)")

	var allRepos, allTags bool
	catalogsCmd := &cobra.Command{
		Use:     "list-catalogs [--all]",
		Short:   "repositories in the registry: yours, or all for admins (task builder:list-catalogs)",
		Example: "  builder list-catalogs",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(cmd.Context(), c, "list-catalogs", http.MethodPost, map[string]any{"all": allRepos}, func(w io.Writer, res types.Repositories) { column(w, "REPOSITORY", res.Repositories) })
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
			return show(cmd.Context(), c, "list-images", http.MethodPost, map[string]any{"catalog": catalog, "all": allTags}, func(w io.Writer, res types.Tags) { column(w, "TAG", res.Tags) })
		},
	}
	imagesCmd.Flags().StringVar(&catalog, "catalog", "", "the repository, such as devel")
	imagesCmd.Flags().BoolVar(&allTags, "all", false, "also list a build cache's tags")

	return []*cobra.Command{c.adminCommand(), c.doctorCommand(), sendCmd, ensureCmd, buildersCmd, logsCmd, buildsCmd, cancelCmd, cleanCmd, tomlCmd, catalogsCmd, imagesCmd,
		imageCommand(c, "get-image", http.MethodPost,
			"manifest, digest and config of an image (task builder:get-image)",
			"builder get-image --image devel:python3.13-custom", printImage),
		imageCommand(c, "delete-image", http.MethodDelete,
			"delete an image by its digest (task builder:delete-image)",
			"builder delete-image --image devel:alpine",
			func(w io.Writer, res types.Deleted) { fmt.Fprintln(w, res.Message) }),
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

// show calls action and prints its result, read as a T (one of package
// types' results): JSON as it came with --json, else human.
func show[T any](ctx context.Context, c *cli, action, method string, p map[string]any, human func(io.Writer, T)) error {
	var res T
	raw, err := c.call(ctx, action, method, p, &res)
	if err != nil {
		return err
	}
	return c.emit(raw, func(w io.Writer) { human(w, res) })
}

// call calls action and reads its result into out, a pointer to one of
// package types' results; raw is the result as it came.
func (c *cli) call(ctx context.Context, action, method string, p map[string]any, out any) (raw map[string]any, err error) {
	raw, err = c.caller.call(ctx, action, method, p)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("reading the result of %s: %w", action, err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return nil, fmt.Errorf("%s answered a result the builder command does not read: %w", action, err)
	}
	return raw, nil
}

// imageCommand is a command that takes one --image and calls action.
func imageCommand[T any](c *cli, action, method, summary, example string, human func(io.Writer, T)) *cobra.Command {
	var image string
	cmd := &cobra.Command{
		Use:     action + " --image REPO:TAG|REPO@DIGEST",
		Short:   summary,
		Example: "  " + example,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if image == "" {
				return usageError{"--image is required"}
			}
			return show(cmd.Context(), c, action, method, map[string]any{"image": image}, human)
		},
	}
	cmd.Flags().StringVar(&image, "image", "", "the image, <repo>:<tag> or <repo>@<digest>")
	return cmd
}

// printBuilds prints a page of builds as a table, and how to get the next.
func printBuilds(w io.Writer, page types.BuildPage) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tTARGET\tKIND\tCREATED\tDURATION")
	for _, b := range page.Builds {
		d := ""
		if b.DurationS != nil {
			d = fmt.Sprintf("%.0fs", *b.DurationS)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", b.ID, b.Status, b.Target, b.Kind, b.Created.Format(time.RFC3339), d)
	}
	tw.Flush()
	if page.Next != "" {
		fmt.Fprintf(w, "more: builder builds --next %s\n", page.Next)
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

// secretUsage describes --secret.
const secretUsage = "a build secret the install step reads, NAME=FILE (repeatable): the names per kind are in builder builders, such as netrc=$HOME/.netrc"

// readSecrets puts the build secrets of specs (NAME=FILE) into p, base64
// as the actions take them. A file that cannot be read is named, never
// shown.
func readSecrets(p map[string]any, specs []string) error {
	if len(specs) == 0 {
		return nil
	}
	secrets := map[string]any{}
	for _, spec := range specs {
		name, file, ok := strings.Cut(spec, "=")
		if !ok || name == "" || file == "" {
			return usageError{fmt.Sprintf("--secret %q: write NAME=FILE, such as netrc=$HOME/.netrc", spec)}
		}
		if _, dup := secrets[name]; dup {
			return usageError{fmt.Sprintf("--secret %s is given twice", name)}
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return usageError{fmt.Sprintf("--secret %s: %v", name, err)}
		}
		secrets[name] = base64.StdEncoding.EncodeToString(data)
	}
	p["secrets"] = secrets
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
func (c *cli) ensure(ctx context.Context, builder, source, kind, file string, secrets []string, follow bool) error {
	p := map[string]any{}
	if err := readSecrets(p, secrets); err != nil {
		return err
	}
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
	var res types.Ensured
	raw, err := c.call(ctx, "ensure", http.MethodPost, p, &res)
	if err != nil {
		return err
	}
	if follow && res.Status != types.Ready {
		if !c.json {
			fmt.Fprintf(c.out, "building %s (job %s)\n", res.Image, res.JobName)
		}
		st, stRaw, err := c.follow(ctx, res.JobName)
		if err != nil {
			return err
		}
		if st.Status != types.Succeeded {
			_ = c.emit(stRaw, func(w io.Writer) { printStatus(w, st, true) })
			return fmt.Errorf("the build of %s %s: %s", res.Image, st.Status, st.Reason)
		}
		if raw, err = c.call(ctx, "ensure", http.MethodPost, p, &res); err != nil {
			return err
		}
	}
	return c.emit(raw, func(w io.Writer) {
		rows := [][2]string{{"status", res.Status}, {"image", res.Image}}
		if res.Digest != "" {
			rows = append(rows, [2]string{"digest", res.Digest})
		}
		if res.JobName != "" {
			rows = append(rows, [2]string{"job", res.JobName})
		}
		table(w, rows)
	})
}

func printBuilders(w io.Writer, offer types.Offer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BUILDER\tKIND\tFILE\tSOURCE")
	for _, b := range offer.Builders {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.ID, b.Kind, b.File, b.Source)
	}
	fmt.Fprintln(tw, "")
	fmt.Fprintln(tw, "KIND\tFILE\tSECRETS (--secret NAME=FILE)")
	for _, k := range offer.Kinds {
		secrets := strings.Join(k.Secrets, ", ")
		if secrets == "" {
			secrets = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Name, k.File, secrets)
	}
	tw.Flush()
}

func (c *cli) send(ctx context.Context, source, target, kind, file string, secrets []string, rebuild, follow bool) error {
	if source == "" || target == "" {
		return usageError{"--source and --target are required"}
	}
	p := map[string]any{"source": source, "target": target}
	if rebuild {
		p["rebuild"] = true
	}
	if err := readSecrets(p, secrets); err != nil {
		return err
	}
	kind, err := requirements(p, file, kind)
	if err != nil {
		return err
	}
	if kind == "" {
		return usageError{"--kind is required without --requirements"}
	}
	p["kind"] = kind
	var res types.Sent
	raw, err := c.call(ctx, "send", http.MethodPost, p, &res)
	if err != nil {
		return err
	}
	if !follow {
		return c.emit(raw, func(w io.Writer) {
			table(w, [][2]string{{"id", res.ID}, {"job", res.JobName}, {"image", res.Image}})
			fmt.Fprintln(w, res.Message)
		})
	}
	if !c.json {
		fmt.Fprintf(c.out, "build %s of %s started (job %s)\n", res.ID, res.Image, res.JobName)
	}
	st, stRaw, err := c.follow(ctx, res.JobName)
	if err != nil {
		return err
	}
	ok := st.Status == types.Succeeded
	if err := c.emit(stRaw, func(w io.Writer) { printStatus(w, st, !ok) }); err != nil {
		return err
	}
	switch {
	case st.Status == types.Cancelled:
		return fmt.Errorf("the build was cancelled: %s", st.Reason)
	case !ok:
		return fmt.Errorf("the build failed: %s", st.Reason)
	}
	return nil
}

// follow polls the logs action until the build ends (any final status:
// succeeded, failed or cancelled), with a progress line, and returns the
// final status with the whole log, read and as it came.
func (c *cli) follow(ctx context.Context, job string) (types.Status, map[string]any, error) {
	start := time.Now()
	spin := `|/-\`
	last := ""
	for i := 0; ; i++ {
		var st types.Status
		if _, err := c.call(ctx, "logs", http.MethodPost, map[string]any{"job_name": job, "tail": 1}, &st); err != nil {
			return types.Status{}, nil, err
		}
		line := safeText(strings.TrimSpace(st.Logs))
		if !c.json {
			progress := fmt.Sprintf("%c %-9s %5.0fs  %s", spin[i%len(spin)], st.Status, time.Since(start).Seconds(), clip(line, 60))
			if c.tty {
				fmt.Fprintf(c.out, "\r%-90s", progress)
			} else if st.Status != last {
				fmt.Fprintln(c.out, progress)
				last = st.Status
			}
		}
		if types.Done(st.Status) {
			if c.tty && !c.json {
				fmt.Fprintln(c.out)
			}
			raw, err := c.call(ctx, "logs", http.MethodPost, map[string]any{"job_name": job}, &st)
			return st, raw, err
		}
		select {
		case <-ctx.Done():
			return types.Status{}, nil, ctx.Err()
		case <-time.After(c.poll):
		}
	}
}

func printStatus(w io.Writer, st types.Status, withLog bool) {
	rows := [][2]string{{"job", st.JobName}, {"status", st.Status}}
	if st.Reason != "" {
		rows = append(rows, [2]string{"reason", st.Reason})
	}
	rows = append(rows, [2]string{"image", st.Image})
	if st.Digest != "" {
		rows = append(rows, [2]string{"digest", st.Digest})
	}
	if st.ReusedFrom != "" {
		rows = append(rows, [2]string{"reused from", st.ReusedFrom})
	}
	if st.Note != "" {
		rows = append(rows, [2]string{"note", st.Note})
	}
	if st.Message != "" {
		rows = append(rows, [2]string{"note", st.Message})
	}
	table(w, rows)
	if withLog && st.Logs != "" {
		fmt.Fprintln(w, "\n"+safeText(strings.TrimRight(st.Logs, "\n")))
	}
}

func printImage(w io.Writer, m types.Image) {
	rows := [][2]string{{"name", m.Name}, {"reference", m.Reference}, {"digest", m.Digest}, {"media type", m.MediaType}}
	if cfg := m.Config; cfg != nil {
		rows = append(rows,
			[2]string{"platform", cfg.OS + "/" + cfg.Architecture},
			[2]string{"created", cfg.Created.Format(time.RFC3339)},
			[2]string{"user", cfg.User},
			[2]string{"layers", strconv.Itoa(cfg.Layers)},
			[2]string{"size", fmt.Sprintf("%.1f MB", float64(cfg.TotalSize)/1e6)})
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
