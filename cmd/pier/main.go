// Command pier is the GitOps developer portal: it validates and diffs
// catalog repositories, serves their state, and runs self-service actions.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `pier — a GitOps internal developer portal

usage: pier <command> [arguments]

commands:
  validate [DIR]            validate a catalog directory (exit 0 valid, 1 invalid)
  diff --base REV [--head REV] [--repo DIR]
                            the entity-level plan between two git revisions
  serve [options]           follow a catalog repository and serve its state (API, webhooks, metrics)
  run ACTION [--entity ID] [--input NAME=VALUE ...] [--wait]
                            request a self-service action run from a pier server

client commands (through the API, as the current context's client):
  login --client-id ID      save a server and its API client as a context
  context [list|use NAME]   the config file's contexts
  get KIND [ID] [-o FMT]    blueprints, entities BP, runs, scorecards, actions
  describe entity BP/ID     an entity's properties, relations, scorecards, runs
  runs [--watch]            recent runs; runs show RUN; runs logs RUN [-f]
  approve RUN / decline RUN --reason TEXT
                            vote on a run waiting for approval in pier
  status                    applied and attempted revisions, conditions, errors

other commands:
  receive [--listen ADDR]   print the webhooks pier sends (develop webhook actions locally)
  migrate --from STORE --to STORE
                            copy a state store into an empty one (SQLite to PostgreSQL)
  completion bash|zsh|fish  a shell completion script
  schema vendor [DIR]       vendor pier's CUE schema into DIR/cue.mod/pkg for the cue tool
  version                   print the version

Run 'pier <command> --help' for a command's options.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a command line; it returns the exit status so tests can
// drive the CLI in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "validate":
		batchGC()
		return runValidate(ctx, args[1:], stdout, stderr)
	case "diff":
		batchGC()
		return runDiff(ctx, args[1:], stdout, stderr)
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "run":
		return runRun(ctx, args[1:], stdout, stderr)
	case "login":
		return runLogin(ctx, args[1:], os.Stdin, stdout, stderr)
	case "context":
		return runContext(args[1:], stdout, stderr)
	case "get":
		return runGet(ctx, args[1:], stdout, stderr)
	case "completion":
		return runCompletion(args[1:], stdout, stderr)
	case "describe":
		return runDescribe(ctx, args[1:], stdout, stderr)
	case "runs":
		return runRuns(ctx, args[1:], stdout, stderr)
	case "approve", "decline":
		return runVote(ctx, args[0], args[1:], stdout, stderr)
	case "status":
		return runStatus(ctx, args[1:], stdout, stderr)
	case "receive":
		return runReceive(ctx, args[1:], stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], stdout, stderr)
	case "schema":
		return runSchema(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "pier %s\n", versionString())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case evalCommand:
		return runEvaluate(stdout, stderr)
	}
	fmt.Fprintf(stderr, "pier: unknown command %q\nrun 'pier --help' for usage\n", args[0])
	return 2
}

// batchGC tunes the collector for the one-shot commands. A cold load of
// a large catalog allocates mostly short-lived syntax trees; collecting
// a quarter as often cuts the load time by about a fifth (20,000 files:
// 1.3 s to 1.0 s) for about 25% more peak memory (250 MB to 310 MB),
// still a third of what `cue vet` needs on the same files. GOGC, when
// set, wins. The daemon keeps the default.
func batchGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// versionString is the -ldflags version, else the module version and the
// VCS revision Go stamped into the binary, so that a binary built by
// go install or from a checkout says what it was built from.
func versionString() string {
	if version != "dev" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return v + " " + bi.GoVersion
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return fmt.Sprintf("%s (%s %s) %s", v, rev, at, bi.GoVersion)
}
