package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pierhq/pier/internal/automation"
	"github.com/pierhq/pier/internal/config"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/reconciler"
)

const validateUsage = `usage: pier validate [--format text|json|github] [options] [DIR]

Loads the catalog in DIR (default: the current directory), validates every
file, and prints every error with its file, line and column. Files are
read only inside DIR (a symbolic link out of it is an error), within the
size limits, and CUE is evaluated within the time and memory limits, as
pier serve does. SIGTERM and ^C stop it at once.

Exit status: 0 valid, 1 invalid, 2 usage or I/O error, or interrupted.
`

// runValidate implements `pier validate`.
func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("validate", validateUsage, stdout, stderr)
	fs := c.fs
	format := fs.String("format", "text", "output format: text, json or github (GitHub Actions annotations)")
	var lim config.Limits
	lim.Flags(fs)
	if code := c.parse(args); code >= 0 {
		return code
	}
	if err := lim.Check(); err != nil {
		fmt.Fprintf(stderr, "pier validate: %v\n", err)
		return 2
	}
	if len(c.args) > 1 {
		return c.usageError("want at most one directory, got %d arguments", len(c.args))
	}
	switch *format {
	case "text", "json", "github":
	default:
		return c.usageError("unknown --format %q (want text, json or github)", *format)
	}
	dir := "."
	if len(c.args) == 1 {
		dir = c.args[0]
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		fmt.Fprintf(stderr, "pier validate: %s is not a directory\n", dir)
		return 2
	}
	defer root.Close()
	l, err := newLoader(lim)
	if err != nil {
		fmt.Fprintf(stderr, "pier validate: %v\n", err)
		return 2
	}
	res, err := l.Load(ctx, root.FS())
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "pier validate: interrupted")
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "pier validate: %v\n", err)
		return 2
	}
	res.Diagnostics = append(res.Diagnostics, reconciler.CheckComputed(res)...)
	if res.OK() {
		res.Diagnostics = append(res.Diagnostics, automation.Check(res.Catalog, res.Objects)...)
	}
	res.Diagnostics.Shorten()
	diags := relativeTo(dir, res.Diagnostics)
	if err := report(stdout, *format, res, diags); err != nil {
		fmt.Fprintf(stderr, "pier validate: %v\n", err)
		return 2
	}
	if len(diags) > 0 {
		return 1
	}
	return 0
}

// relativeTo rewrites catalog-relative file names as paths from the
// working directory, which is what editors and GitHub annotations expect.
func relativeTo(dir string, ds catalog.Diagnostics) catalog.Diagnostics {
	if dir == "." {
		return ds
	}
	out := make(catalog.Diagnostics, len(ds))
	fix := func(p catalog.Pos) catalog.Pos {
		if p.File != "" {
			p.File = filepath.ToSlash(filepath.Join(dir, p.File))
		}
		return p
	}
	for i, d := range ds {
		d.Pos = fix(d.Pos)
		if d.Related != nil {
			rel := make([]catalog.Pos, len(d.Related))
			for j, r := range d.Related {
				rel[j] = fix(r)
			}
			d.Related = rel
		}
		out[i] = d
	}
	return out
}

func report(w io.Writer, format string, res *loader.Result, diags catalog.Diagnostics) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if diags == nil {
			diags = catalog.Diagnostics{}
		}
		return enc.Encode(struct {
			Valid       bool                `json:"valid"`
			Files       int                 `json:"files"`
			Entities    int                 `json:"entities"`
			Diagnostics catalog.Diagnostics `json:"errors"`
		}{len(diags) == 0, res.Files, res.Catalog.EntityCount(), diags})
	case "github":
		for _, d := range diags {
			fmt.Fprintf(w, "::error %s::%s\n", annotationProps(d), escapeData(messageOf(d)))
		}
		fallthrough
	default:
		if format == "text" {
			for _, d := range diags {
				fmt.Fprintln(w, d.String())
			}
		}
		c := res.Catalog
		if len(diags) == 0 {
			fmt.Fprintf(w, "catalog is valid: %d files, %d blueprints, %d entities, %d actions, %d scorecards, %d automations, %d webhooks, %d approval systems, %d roles\n",
				res.Files, len(c.Blueprints), c.EntityCount(), len(c.Actions), len(c.Scorecards), len(c.Automations), len(c.Webhooks), len(c.ApprovalSystems), len(c.Roles))
		} else {
			fmt.Fprintf(w, "catalog is invalid: %d errors in %d files\n", len(diags), res.Files)
		}
	}
	return nil
}

func messageOf(d catalog.Diagnostic) string {
	msg := d.Message
	if d.Path != "" {
		msg = d.Path + ": " + msg
	}
	for _, r := range d.Related {
		msg += " (see " + r.String() + ")"
	}
	return msg
}

// annotationProps renders the properties of a workflow command, escaped as
// GitHub's toolkit does.
func annotationProps(d catalog.Diagnostic) string {
	props := []string{"file=" + escapeProp(d.Pos.File)}
	if d.Pos.Line > 0 {
		props = append(props, fmt.Sprintf("line=%d", d.Pos.Line))
	}
	if d.Pos.Col > 0 {
		props = append(props, fmt.Sprintf("col=%d", d.Pos.Col))
	}
	props = append(props, "title="+escapeProp("pier: "+d.Kind))
	return strings.Join(props, ",")
}

func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProp(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
