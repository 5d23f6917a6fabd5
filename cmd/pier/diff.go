package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/config"
	"github.com/pierhq/pier/internal/gitfs"
	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/plan"
)

const diffUsage = `usage: pier diff --base REV [--head REV] [--repo DIR] [--path SUBDIR] [--format text|markdown|json]
       pier diff --server URL --head REV [--format text|markdown|json]

Prints the entity-level plan between two git revisions of a catalog
repository: what would be created, updated (with property-level changes)
and deleted if HEAD were applied on top of BASE. Revisions are read from
the repository's object store; the work tree is not touched.

With --server, the pier serving the catalog plans HEAD (a commit, a
branch or a ref such as refs/pull/7/head of its repository) against the
state it serves, as it does for pull requests: runtime properties and
scorecard levels as they are now, the level moves and the deletion
guard's verdict included. Credentials come from --client-id and
PIER_CLIENT_ID/PIER_CLIENT_SECRET, as for pier run.

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
	server := fs.String("server", "", "plan HEAD on this pier against the state it serves, instead of against --base")
	clientID := fs.String("client-id", os.Getenv("PIER_CLIENT_ID"), "API client id, with --server")
	var lim config.Limits
	lim.Flags(fs)
	if err := parseFlags(fs, args); err != nil {
		return 2
	}
	if err := lim.Check(); err != nil {
		fmt.Fprintf(stderr, "pier diff: %v\n", err)
		return 2
	}
	if *server != "" && *base == "" && fs.NArg() == 0 {
		if !slices.Contains([]string{"text", "markdown", "json"}, *format) {
			fmt.Fprintf(stderr, "pier diff: unknown --format %q (want text, markdown or json)\n", *format)
			return 2
		}
		rev := *head
		if rev == "HEAD" {
			// The server cannot know this checkout's HEAD: name its
			// commit, which the server has once it is pushed.
			repo, err := gitfs.Open(*repoDir)
			if err != nil {
				fmt.Fprintf(stderr, "pier diff: --head HEAD names a commit of --repo: %v\n", err)
				return 2
			}
			h, err := repo.Resolve(rev)
			repo.Close()
			if err != nil {
				fmt.Fprintf(stderr, "pier diff: %v\n", err)
				return 2
			}
			rev = h.String()
		}
		return diffOnServer(ctx, *server, *clientID, rev, *format, stdout, stderr)
	}
	if *base == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, "pier diff: --base or --server (not both) is required and no arguments are taken\n\n")
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

// diffOnServer is pier diff --server: the server's planner, the one
// that reviews pull requests, plans head. Exit status as without
// --server: 1 for a revision the server would refuse.
func diffOnServer(ctx context.Context, server, clientID, head, format string, stdout, stderr io.Writer) int {
	c := &apiClient{base: strings.TrimSuffix(server, "/"), http: &http.Client{Timeout: 5 * time.Minute}}
	if clientID != "" {
		if err := c.login(ctx, clientID, os.Getenv("PIER_CLIENT_SECRET")); err != nil {
			fmt.Fprintf(stderr, "pier diff: %v\n", err)
			return 2
		}
	}
	var out struct {
		Plan     json.RawMessage `json:"plan"`
		Text     string          `json:"text"`
		Markdown string          `json:"markdown"`
		Message  string          `json:"message"`
	}
	code, err := c.do(ctx, "POST", "/v1/plans", map[string]string{"revision": head}, &out)
	if err != nil {
		fmt.Fprintf(stderr, "pier diff: %v\n", err)
		return 2
	}
	if code != http.StatusOK {
		fmt.Fprintf(stderr, "pier diff: %s: %s\n", http.StatusText(code), out.Message)
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
