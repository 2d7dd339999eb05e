package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apache/openserverless-builder/shared/kinds"
)

type command struct {
	summary, usage, example string
	// flags registers the command's flags and returns how it runs.
	flags func(fs *flag.FlagSet) func(ctx context.Context, c *cli) error
}

var commands = map[string]command{
	"send": {
		summary: "start a build of a custom runtime (task builder:send)",
		usage:   "send --source IMAGE --target REPO:TAG [--kind KIND] [--requirements FILE] [--follow]",
		example: "builder send --source apache/openserverless-runtime-python:v3.13-2506091954 --target devel:python3.13-custom --requirements requirements.txt --follow",
		flags: func(fs *flag.FlagSet) func(context.Context, *cli) error {
			source := fs.String("source", "", "base runtime image")
			target := fs.String("target", "", "image to build, <repo>:<tag> in your repositories")
			kind := fs.String("kind", "", "runtime kind: "+strings.Join(kinds.Names(), ", ")+" (default: from the requirements file name)")
			file := fs.String("requirements", "", "the kind's requirements file (requirements.txt, package.json, ...)")
			follow := fs.Bool("follow", false, "follow the build until it ends; exit non-zero if it fails")
			return func(ctx context.Context, c *cli) error {
				return c.send(ctx, *source, *target, *kind, *file, *follow)
			}
		},
	},
	"logs": {
		summary: "status and log of a build: your latest, or --job-name (task builder:logs)",
		usage:   "logs [--job-name NAME] [--tail LINES]",
		example: "builder logs --tail 20",
		flags: func(fs *flag.FlagSet) func(context.Context, *cli) error {
			job := fs.String("job-name", "", "the build's job name (default: your latest build)")
			tail := fs.Int("tail", 0, "only the last lines of the log")
			return func(ctx context.Context, c *cli) error {
				p := map[string]any{}
				if *job != "" {
					p["job_name"] = *job
				}
				if *tail > 0 {
					p["tail"] = *tail
				}
				return c.show(ctx, "logs", http.MethodPost, p, func(w io.Writer, res map[string]any) { printStatus(w, res, true) })
			}
		},
	},
	"cleanjobs": {
		summary: "delete finished build jobs older than --max-age-hours (task builder:cleanjobs)",
		usage:   "cleanjobs [--max-age-hours HOURS] [--dry-run]",
		example: "builder cleanjobs --max-age-hours 48 --dry-run",
		flags: func(fs *flag.FlagSet) func(context.Context, *cli) error {
			age := fs.Float64("max-age-hours", 24, "age of the builds to delete, since they finished")
			dry := fs.Bool("dry-run", false, "list what would be deleted, delete nothing")
			return func(ctx context.Context, c *cli) error {
				return c.show(ctx, "cleanjobs", http.MethodPost, map[string]any{"max_age_hours": *age, "dry_run": *dry}, func(w io.Writer, res map[string]any) {
					fmt.Fprintln(w, str(res["message"]))
					for _, j := range strs(res["jobs"]) {
						fmt.Fprintln(w, "  "+j)
					}
				})
			}
		},
	},
	"updatetoml": {
		summary: "create or replace the buildkitd.toml ConfigMap, admins (task builder:updatetoml)",
		usage:   "updatetoml [--file buildkitd.toml]",
		example: "builder updatetoml --file buildkitd.toml",
		flags: func(fs *flag.FlagSet) func(context.Context, *cli) error {
			file := fs.String("file", "", "the TOML to write (default: the builder's default for the registry)")
			return func(ctx context.Context, c *cli) error {
				p := map[string]any{}
				if *file != "" {
					data, err := os.ReadFile(*file)
					if err != nil {
						return usageError{err.Error()}
					}
					p["toml"] = string(data)
				}
				return c.show(ctx, "updatetoml", http.MethodPost, p, func(w io.Writer, res map[string]any) { fmt.Fprintln(w, str(res["message"])) })
			}
		},
	},
	"list-catalogs": {
		summary: "repositories in the registry: yours, or all for admins (task builder:list-catalogs)",
		usage:   "list-catalogs",
		example: "builder list-catalogs",
		flags: func(fs *flag.FlagSet) func(context.Context, *cli) error {
			return func(ctx context.Context, c *cli) error {
				return c.show(ctx, "list-catalogs", http.MethodPost, map[string]any{}, func(w io.Writer, res map[string]any) { column(w, "REPOSITORY", strs(res["repositories"])) })
			}
		},
	},
	"list-images": {
		summary: "tags of one repository (task builder:list-images)",
		usage:   "list-images --catalog REPO",
		example: "builder list-images --catalog devel",
		flags: func(fs *flag.FlagSet) func(context.Context, *cli) error {
			catalog := fs.String("catalog", "", "the repository, such as devel")
			return func(ctx context.Context, c *cli) error {
				if *catalog == "" {
					return usageError{"--catalog is required"}
				}
				return c.show(ctx, "list-images", http.MethodPost, map[string]any{"catalog": *catalog}, func(w io.Writer, res map[string]any) { column(w, "TAG", strs(res["tags"])) })
			}
		},
	},
	"get-image": imageCommand("get-image", http.MethodPost,
		"manifest, digest and config of an image (task builder:get-image)",
		"builder get-image --image devel:python3.13-custom", printImage),
	"delete-image": imageCommand("delete-image", http.MethodDelete,
		"delete an image by its digest (task builder:delete-image)",
		"builder delete-image --image devel:alpine",
		func(w io.Writer, res map[string]any) { fmt.Fprintln(w, str(res["message"])) }),
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
func imageCommand(action, method, summary, example string, human func(io.Writer, map[string]any)) command {
	return command{
		summary: summary,
		usage:   action + " --image REPO:TAG|REPO@DIGEST",
		example: example,
		flags: func(fs *flag.FlagSet) func(context.Context, *cli) error {
			image := fs.String("image", "", "the image, <repo>:<tag> or <repo>@<digest>")
			return func(ctx context.Context, c *cli) error {
				if *image == "" {
					return usageError{"--image is required"}
				}
				return c.show(ctx, action, method, map[string]any{"image": *image}, human)
			}
		},
	}
}

func (c *cli) send(ctx context.Context, source, target, kind, file string, follow bool) error {
	if source == "" || target == "" {
		return usageError{"--source and --target are required"}
	}
	p := map[string]any{"source": source, "target": target}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return usageError{err.Error()}
		}
		p["file"] = base64.StdEncoding.EncodeToString(data)
		if kind == "" {
			k, ok := kinds.ByFile(file)
			if !ok {
				return usageError{fmt.Sprintf("cannot tell the kind from %q: pass --kind", file)}
			}
			kind = k.Name
		}
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
	if err := c.emit(st, func(w io.Writer) { printStatus(w, st, st["status"] == "failed") }); err != nil {
		return err
	}
	if st["status"] == "failed" {
		return fmt.Errorf("the build failed: %s", str(st["reason"]))
	}
	return nil
}

// follow polls the logs action until the build ends, with a progress line.
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
		line := strings.TrimSpace(str(st["logs"]))
		if !c.json {
			progress := fmt.Sprintf("%c %-9s %5.0fs  %s", spin[i%len(spin)], status, time.Since(start).Seconds(), clip(line, 60))
			if c.tty {
				fmt.Fprintf(c.out, "\r%-90s", progress)
			} else if status != last {
				fmt.Fprintln(c.out, progress)
				last = status
			}
		}
		if status == "succeeded" || status == "failed" {
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
		fmt.Fprintln(w, "\n"+strings.TrimRight(log, "\n"))
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
		fmt.Fprintf(tw, "%s\t%s\n", strings.ToUpper(r[0]), r[1])
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
