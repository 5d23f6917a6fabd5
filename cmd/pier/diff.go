package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/pierhq/pier/internal/config"
	"github.com/pierhq/pier/internal/gitfs"
	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/plan"
)

const diffUsage = `usage: pier diff --base REV [--head REV] [--repo DIR] [--path SUBDIR] [--format text|markdown|json]

Prints the entity-level plan between two git revisions of a catalog
repository: what would be created, updated (with property-level changes)
and deleted if HEAD were applied on top of BASE. Revisions are read from
the repository's object store; the work tree is not touched.

Exit status: 0 plan printed, 1 the head revision is invalid (its errors
are printed instead), 2 usage or repository error.
`

// runDiff implements `pier diff`.
func runDiff(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, diffUsage); fs.PrintDefaults() }
	base := fs.String("base", "", "base revision (branch, tag, commit; required)")
	head := fs.String("head", "HEAD", "head revision")
	repoDir := fs.String("repo", ".", "the catalog's git repository")
	sub := fs.String("path", "", "the catalog's sub-directory in the repository")
	format := fs.String("format", "text", "output format: text, markdown (for a pull-request comment) or json")
	var lim config.Limits
	lim.Flags(fs)
	if err := parseFlags(fs, args); err != nil {
		return 2
	}
	if err := lim.Check(); err != nil {
		fmt.Fprintf(stderr, "pier diff: %v\n", err)
		return 2
	}
	if *base == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, "pier diff: --base is required and no arguments are taken\n\n")
		fs.Usage()
		return 2
	}
	switch *format {
	case "text", "markdown", "json":
	default:
		fmt.Fprintf(stderr, "pier diff: unknown --format %q (want text, markdown or json)\n", *format)
		return 2
	}
	repo, err := gitfs.Open(*repoDir)
	if err != nil {
		fmt.Fprintf(stderr, "pier diff: %v\n", err)
		return 2
	}
	defer repo.Close()
	l, err := newLoader(lim)
	if err != nil {
		fmt.Fprintf(stderr, "pier diff: %v\n", err)
		return 2
	}
	load := func(rev string) (*loader.Result, error) {
		tree, err := repo.FS(rev, *sub)
		if err != nil {
			return nil, err
		}
		res, err := l.Load(ctx, tree)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", rev, err)
		}
		return res, nil
	}
	before, err := load(*base)
	if err != nil {
		fmt.Fprintf(stderr, "pier diff: %v\n", err)
		return 2
	}
	if !before.OK() {
		fmt.Fprintf(stderr, "pier diff: warning: the base revision %s has %d errors; diffing what loaded\n", *base, len(before.Diagnostics))
	}
	after, err := load(*head)
	if err != nil {
		fmt.Fprintf(stderr, "pier diff: %v\n", err)
		return 2
	}
	if !after.OK() {
		fmt.Fprintf(stderr, "pier diff: the head revision %s is invalid:\n", *head)
		for _, d := range after.Diagnostics {
			fmt.Fprintln(stdout, d.String())
		}
		return 1
	}
	p := plan.Compute(before.Objects, after.Objects)
	switch *format {
	case "markdown":
		err = p.WriteMarkdown(stdout)
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(p)
	default:
		err = p.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pier diff: %v\n", err)
		return 2
	}
	return 0
}
