package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pierhq/pier/internal/config"
	"github.com/pierhq/pier/internal/gitfs"
	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/plan"
)

const diffUsage = `usage: pier diff [--base REV] [--head REV] [--server[=URL]] [--repo DIR] [--path SUBDIR] [--format text|markdown|json]

Prints the entity-level plan between two states of a catalog repository:
what would be created, updated (with property-level changes) and deleted
if the head were applied on top of the base.

  pier diff                      the work tree (uncommitted edits) against HEAD
  pier diff --server             the work tree against the revision the
                                 current context's pier applied (--server=URL
                                 for another; the commit must be in DIR)
  pier diff --base REV           HEAD (or --head REV) against REV
  pier diff --server --head REV  the server plans REV (a commit, a branch, a
                                 ref such as refs/pull/7/head) against the
                                 state it serves, as it does for pull
                                 requests: runtime values and scorecard
                                 levels as they are now, level moves and
                                 the deletion guard's verdict included

Revisions are read from the repository's object store, never checked out.

Exit status: 0 plan printed, 1 the head revision is invalid (its errors
are printed instead), 2 usage or repository error.
`

// runDiff implements `pier diff`.
func runDiff(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("diff", diffUsage, stdout, stderr)
	fs := c.fs
	base := fs.String("base", "", "base revision (branch, tag, commit; default HEAD, or the server's applied revision)")
	head := fs.String("head", "", "head revision (default the work tree, or HEAD with --base)")
	var server serverFlag
	fs.Var(&server, "server", "diff against the revision a running pier applied (=URL; default the current context's)")
	ctxName := fs.String("context", "", "with --server: the config file's context to ask")
	repoDir := fs.String("repo", ".", "the catalog's git repository")
	sub := fs.String("path", "", "the catalog's sub-directory in the repository")
	format := fs.String("format", "text", "output format: text, markdown (for a pull-request comment) or json")
	var lim config.Limits
	lim.Flags(fs)
	if code := c.parse(args); code >= 0 {
		return code
	}
	if err := lim.Check(); err != nil {
		fmt.Fprintf(stderr, "pier diff: %v\n", err)
		return 2
	}
	if len(c.args) > 0 {
		hint := ""
		if server.set {
			hint = " (write --server=URL)"
		}
		return c.usageError("unexpected argument %q%s", c.args[0], hint)
	}
	if server.set && *base != "" {
		return c.usageError("--server and --base both name the base; give one")
	}
	switch *format {
	case "text", "markdown", "json":
	default:
		return c.usageError("unknown --format %q (want text, markdown or json)", *format)
	}
	if server.set && *head != "" {
		rev := *head
		if rev == "HEAD" {
			// The server cannot know this checkout's HEAD: name its
			// commit, which the server has once it is pushed.
			repo, err := gitfs.Open(*repoDir)
			if err != nil {
				return c.fail(2, fmt.Errorf("--head HEAD names a commit of --repo: %w", err))
			}
			h, err := repo.Resolve(rev)
			repo.Close()
			if err != nil {
				return c.fail(2, err)
			}
			rev = h.String()
		}
		return diffOnServer(ctx, &remote{server: &server.url, context: ctxName}, rev, *format, stdout, stderr)
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
	if server.set {
		rev, err := appliedRevision(ctx, server.url, *ctxName)
		if err != nil {
			fmt.Fprintf(stderr, "pier diff: %v\n", err)
			return 2
		}
		*base = rev
	}
	workTree := *head == "" && (*base == "" || server.set)
	*base = cmp.Or(*base, "HEAD")
	if *head == "" && !workTree {
		*head = "HEAD"
	}
	if workTree {
		*head = "the work tree"
		// The work tree and the commit must be the same directory: the
		// catalog is --path below --repo, which may itself be below the
		// repository's root.
		dir := filepath.Join(*repoDir, *sub)
		top, err := workTreeRoot(*repoDir)
		if err != nil {
			return c.fail(2, err)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return c.fail(2, err)
		}
		rel, err := filepath.Rel(top, abs)
		if err != nil {
			return c.fail(2, err)
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			rel = ""
		}
		load = func(rev string) (*loader.Result, error) {
			if rev != *head {
				tree, err := repo.FS(rev, rel)
				if err != nil {
					return nil, err
				}
				return l.Load(ctx, tree)
			}
			root, err := os.OpenRoot(dir)
			if err != nil {
				return nil, fmt.Errorf("the work tree: %w", err)
			}
			defer root.Close()
			return l.Load(ctx, root.FS())
		}
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

// workTreeRoot is the nearest directory at or above dir holding .git.
func workTreeRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%s is not in a git work tree (pier diff without --base compares the work tree with HEAD)", dir)
		}
	}
}

// serverFlag is --server (the current context's pier) or --server=URL.
type serverFlag struct {
	set bool
	url string
}

func (f *serverFlag) String() string   { return f.url }
func (f *serverFlag) IsBoolFlag() bool { return true }

func (f *serverFlag) Set(s string) error {
	f.set = true
	if s != "true" {
		f.url = s
	}
	if s == "false" {
		f.set, f.url = false, ""
	}
	return nil
}

// appliedRevision asks a pier server (through the API, as the context's
// client) which commit it applied.
func appliedRevision(ctx context.Context, server, context string) (string, error) {
	r := &remote{server: &server, context: &context}
	cl, t, err := r.connect(ctx)
	if err != nil {
		return "", err
	}
	var st struct {
		Status struct {
			LastAppliedRevision string `json:"lastAppliedRevision"`
		} `json:"status"`
	}
	if err := cl.Do(ctx, "GET", "/v1/status", nil, &st); err != nil {
		return "", fmt.Errorf("ask %s what it applied: %w", t.Server, err)
	}
	rev := st.Status.LastAppliedRevision
	switch {
	case rev == "":
		return "", fmt.Errorf("%s has applied no revision yet", t.Server)
	case strings.HasPrefix(rev, "dir:"):
		return "", fmt.Errorf("%s serves a directory (%s), not git commits: nothing to diff against", t.Server, rev)
	}
	return rev, nil
}

// diffOnServer asks the pier at r to plan head against the state it
// serves (POST /v1/plans, the pull-request planner): runtime values and
// scorecard levels as they are now, level moves and the deletion guard's
// verdict included. Exit 1 when pier would refuse the revision.
func diffOnServer(ctx context.Context, r *remote, head, format string, stdout, stderr io.Writer) int {
	cl, t, err := r.connect(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "pier diff: %v\n", err)
		return 2
	}
	var out struct {
		Plan     json.RawMessage `json:"plan"`
		Text     string          `json:"text"`
		Markdown string          `json:"markdown"`
	}
	if err := cl.Do(ctx, "POST", "/v1/plans", map[string]string{"revision": head}, &out); err != nil {
		fmt.Fprintf(stderr, "pier diff: %s: %v\n", t.Server, err)
		return 2
	}
	var rep struct {
		Valid bool `json:"valid"`
	}
	if err := json.Unmarshal(out.Plan, &rep); err != nil {
		fmt.Fprintf(stderr, "pier diff: the server's plan: %v\n", err)
		return 2
	}
	switch format {
	case "markdown":
		fmt.Fprint(stdout, out.Markdown)
	case "json":
		stdout.Write(out.Plan)
		fmt.Fprintln(stdout)
	default:
		fmt.Fprint(stdout, out.Text)
	}
	if !rep.Valid {
		return 1
	}
	return 0
}
