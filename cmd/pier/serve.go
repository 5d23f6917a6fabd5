package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/pierhq/pier/internal/api"
	"github.com/pierhq/pier/internal/approval/githubpr"
	"github.com/pierhq/pier/internal/automation"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/config"
	"github.com/pierhq/pier/internal/github"
	"github.com/pierhq/pier/internal/identity"
	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/metrics"
	"github.com/pierhq/pier/internal/outbox"
	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/review"
	"github.com/pierhq/pier/internal/runs"
	"github.com/pierhq/pier/internal/source"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/timer"
	"github.com/pierhq/pier/internal/web"
	"github.com/pierhq/pier/internal/webhook"
	"github.com/pierhq/pier/reconciler"
)

const serveUsage = `usage: pier serve [options]

Follows a catalog repository and serves its state: the Port-compatible API
under /v1, GitHub webhooks at /webhooks/github, Prometheus metrics at
/metrics (or on --metrics-listen), /healthz and /readyz. Every option is
also an environment variable PIER_<NAME> (PIER_GITHUB_TOKEN, ...) and a
key of the --config file. SIGHUP reconciles now; SIGTERM stops at once: a
revision still being loaded is abandoned (its CUE evaluations are killed),
one being written is finished.

Each revision is bounded: a catalog file larger than --max-file-size, a
revision larger than --max-revision-size, a symbolic link out of the
catalog, and a CUE file whose evaluation takes longer than --eval-timeout
or more memory than --eval-memory (CUE runs in child processes of pier)
fail the revision with an error naming the file; the last good state
keeps serving, and the next revision is reconciled as usual.

options:
`

// runServe implements `pier serve`.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// The flag package's own printing is off: help is printed once, here,
	// and an error once, with the pointer to --help.
	cfg, err := config.Parse(args, os.Getenv, io.Discard)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, serveUsage)
		fs := (&config.Config{}).FlagSet(stdout)
		fs.PrintDefaults()
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "pier serve: %v\nrun 'pier serve --help' for usage\n", err)
		return 2
	}
	log := newLogger(cfg, stderr)
	d, err := newDaemon(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "pier serve: %v\n", err)
		return 1
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			log.Info("SIGHUP: reconciling now")
			d.reconcileNow()
		}
	}()
	fmt.Fprintf(stdout, "pier is serving %s\n  API      http://%s/v1/blueprints\n  metrics  http://%s/metrics\n  status   http://%s/v1/status\n",
		cfg.Repo, d.addr, d.metricsAddr(), d.addr)
	if err := d.run(ctx); err != nil {
		fmt.Fprintf(stderr, "pier serve: %v\n", err)
		return 1
	}
	return 0
}

// metricsAddr is where /metrics is served: its own address, or the API's.
func (d *daemon) metricsAddr() string {
	if d.metricsLn != nil {
		return d.metricsLn.Addr().String()
	}
	return d.addr
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// daemon is pier serve's wiring: source → reconciler → store → state →
// API, plus the triggers (webhook, poll, watch, signal) and reports
// (metrics, commit statuses).
type daemon struct {
	cfg     *config.Config
	log     *slog.Logger
	store   store.Backend
	holder  *state.Holder
	metrics *metrics.Metrics
	loop    *reconciler.Loop
	http    *http.Server
	ln      net.Listener
	addr    string
	// metricsHTTP serves /metrics on metricsLn (--metrics-listen), when
	// it is not served with the API.
	metricsHTTP *http.Server
	metricsLn   net.Listener
	github      *github.Client
	owner       string
	repo        string
	// gitToken is the GitHub token of the moment (a GitHub App's
	// installation tokens are renewed hourly), for HTTPS fetches; nil
	// without GitHub credentials.
	gitToken func(context.Context) (string, error)

	// background work stopped at shutdown
	watch  func(ctx context.Context) error
	poll   *source.Poller
	timers *source.Poller
	// expiries remembers the timers the store answered for, so that a
	// check offers it only new ones.
	expiries timer.Answered
	prune    *source.Poller // the audit log's retention; nil keeps it all
	outbox   *outbox.Worker
	sink     *outbox.Sink
	runs     *runsWiring
	// rep is the sharing of a PostgreSQL store with other replicas;
	// leaseReleased wakes the elector when the leader gave its lease up.
	rep           replicas
	leaseReleased chan struct{}
	directory     *identity.Directory

	// git is the catalog's git source (nil for a local directory), which
	// also fetches pull requests' heads for the planner; reviews are the
	// plans being made, waited for at shutdown; ctx is the daemon's.
	git     *source.Git
	planner *review.Planner
	reviews sync.WaitGroup
	// reviewing are the heads being planned (under mu): a second webhook
	// for one of them, before its plan is cached, is a no-op too.
	reviewing map[string]bool
	// openPulls are the open pull requests planned, by number, with
	// their last head: planned again when main moves.
	openPulls map[int]string
	ctx       context.Context

	mu     sync.Mutex
	pushes map[string]time.Time // commit sha -> when its push webhook arrived
	// prepared is the state built for the revision being written
	// (reconciler.Options.WhileApplying), published once it is.
	prepared *prepared
	// subs are the subscriptions of the snapshot subsOf.
	subs   []outbox.Subscription
	subsOf *state.Snapshot
}

type prepared struct {
	res  *reconciler.Result
	next *state.Prepared
}

func newDaemon(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *daemon, err error) {
	d := &daemon{cfg: cfg, log: log, holder: state.NewHolder(), metrics: metrics.New(), pushes: map[string]time.Time{}, reviewing: map[string]bool{}, openPulls: map[int]string{}, ctx: ctx}
	d.rep.self = replicaID()
	log.Info("starting pier", cfg.Redacted()...)

	if d.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("option listen: %w", err)
	}
	defer func() {
		if err != nil {
			d.ln.Close()
		}
	}()
	d.addr = d.ln.Addr().String()
	if d.store, err = d.openStore(ctx); err != nil {
		return nil, fmt.Errorf("option db: %w", err)
	}
	defer func() {
		if err != nil {
			d.store.Close()
		}
	}()
	if err := d.setupReplicas(ctx); err != nil {
		return nil, err
	}
	if err := d.restore(ctx); err != nil {
		return nil, err
	}
	d.holder.OnMoves = d.recordLevels
	l, err := newLoader(cfg.Limits)
	if err != nil {
		return nil, err
	}
	d.outbox = outbox.NewWorker(d.store, d.subscriptions, outbox.Options{Logger: log, OnResult: d.metrics.OutboundDelivery, Client: fencedClient(outbox.NewClient())})
	out := outbox.NewSink(d.store, d.subscriptions, outbox.SinkOptions{Notify: d.deliveriesWritten})
	d.sink = out
	if d.timers, err = source.NewPoller(source.PollerOptions{Schedule: cfg.Timers, Jitter: -1, Logger: log}, d.asLeader(d.fireTimers)); err != nil {
		return nil, fmt.Errorf("option timers: %w", err)
	}
	rec := reconciler.New(l, d.store, logSink{log}, reconciler.Options{
		MaxDeletionShare: cfg.MaxDeletionShare, Logger: log,
		Outbox: func(c *catalog.Catalog, events []reconciler.Event) ([]record.Delivery, error) {
			return out.DeliveriesTo(d.revisionSubscriptions(c), events)
		},
		Check: automation.Check,
		WhileApplying: func(res *reconciler.Result) {
			next := d.holder.Prepare(state.FromResult(res))
			d.mu.Lock()
			d.prepared = &prepared{res, next}
			d.mu.Unlock()
		},
	})
	// Plans leave half the CPUs to reconciling main.
	d.planner = &review.Planner{Reconciler: rec, State: d.holder, Workers: max(1, runtime.GOMAXPROCS(0)/2),
		Loader: func() (*loader.Loader, error) { return newLoader(cfg.Limits) }}
	if err := d.githubClient(ctx); err != nil {
		return nil, err
	}
	fetch, err := d.source()
	if err != nil {
		return nil, err
	}
	last := d.holder.Load()
	d.loop = reconciler.NewLoop(rec, fetch, last.Revision, last.AppliedAt, reconciler.LoopOptions{
		Logger:       log,
		OnResult:     d.onResult,
		OnFetchError: func(err error) { log.Error("source", "err", err) },
	})
	if err := d.setupRuns(); err != nil {
		return nil, err
	}
	if cfg.AuditRetention > 0 {
		if d.prune, err = source.NewPoller(source.PollerOptions{Schedule: auditPruneSchedule, Jitter: -1, Logger: log}, d.asLeader(d.pruneAudit)); err != nil {
			return nil, err
		}
	}
	metricsHandler := d.metrics.Handler()
	if cfg.MetricsListen != "" {
		if d.metricsLn, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			return nil, fmt.Errorf("option metrics-listen: %w", err)
		}
		defer func() {
			if err != nil {
				d.metricsLn.Close()
			}
		}()
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metricsHandler)
		d.metricsHTTP = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		metricsHandler = nil // not on the API's address
	}

	hooks := webhook.New(webhook.Options{
		Secret: []byte(cfg.WebhookSecret), Insecure: cfg.WebhookInsecure,
		Deliveries: d.store, Metrics: d.metrics, Logger: log,
	})
	hooks.On("push", d.onPush)
	people := d.people()
	d.directory = people.Directory
	var takeRuns webhook.HandlerFunc
	if gh := d.runs.github; gh != nil {
		intake := githubpr.Intake{System: gh, Runs: d.runs.engine, Grants: d.grantsOf(people.Directory)}
		takeRuns = intake.PullRequest
		hooks.On("pull_request_review", intake.Review)
	}
	hooks.On("pull_request", bothHandlers(takeRuns, d.onPullRequest))
	hooks.On("workflow_run", d.runs.onWorkflowRun)
	hooks.On("membership", d.onMembership(people.Directory))
	clients := make([]api.Client, len(cfg.Clients))
	for i, c := range cfg.Clients {
		clients[i] = api.Client{ID: c.ID, Secret: c.Secret, Login: c.Login, Roles: c.Roles}
	}
	srv := api.New(api.Options{
		State: d.holder, Store: d.store,
		Status: d.reconcileStatus, Reconcile: d.reconcileNow, Replica: d.replicaStatus,
		Auth: &api.Auth{Clients: clients, AnonymousReads: cfg.AnonymousReads, TTL: cfg.TokenTTL, MetricsToken: cfg.MetricsToken},
		Limits: api.Limits{
			Rate: cfg.RateLimit, Burst: cfg.RateBurst, TokenRate: cfg.TokenRateLimit, TokenBurst: cfg.TokenRateBurst,
			TrustedProxies: cfg.TrustedProxies,
		},
		Metrics: d.metrics, MetricsHandler: metricsHandler, Webhooks: hooks, Deliveries: d.store, Runs: d.runs.engine, ApprovalMembers: d.runs.members, Logger: log,
		People: people, Plan: d.planRevision,
	})
	portal, err := d.portal(people)
	if err != nil {
		return nil, err
	}
	d.http = &http.Server{Handler: web.Mount(srv, portal), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return d, nil
}

// githubClient sets up pier's GitHub credentials, a token or a GitHub
// App, for fetching over HTTPS; and, when the catalog lives on GitHub (or
// --github-repo says where), commit statuses, pull-request approvals and
// workflow dispatch.
func (d *daemon) githubClient(ctx context.Context) error {
	cfg := d.cfg
	opts := github.Options{BaseURL: cfg.GitHubAPIURL, Token: cfg.GitHubToken, Metrics: d.metrics, Logger: d.log.With("component", "github"),
		HTTPClient: fencedClient(&http.Client{Timeout: 30 * time.Second})}
	if cfg.GitHubAppID != 0 {
		opts.App = &github.App{
			ID: cfg.GitHubAppID, InstallationID: cfg.GitHubAppInstallationID,
			Key: cfg.GitHubAppPrivateKey, KeyFile: cfg.GitHubAppKey,
		}
	} else if cfg.GitHubToken == "" {
		return nil
	}
	c, err := github.New(opts)
	if err != nil {
		return fmt.Errorf("option github-api-url: %w", err)
	}
	if opts.App != nil {
		if err := d.verifyApp(ctx, c); err != nil {
			return err
		}
	}
	d.gitToken = c.Token
	owner, repo, ok := strings.Cut(cfg.GitHubRepo, "/")
	if cfg.GitHubRepo == "" {
		// The client knows the web host that goes with its API
		// (x.ghe.com for api.x.ghe.com).
		owner, repo, ok = c.ParseRepoURL(cfg.Repo)
	}
	if !ok {
		d.log.Info("the catalog is not a GitHub repository; commit statuses are off (set --github-repo to turn them on)")
		return nil
	}
	d.github, d.owner, d.repo = c, owner, repo
	return nil
}

// verifyApp stops pier at start when GitHub refuses the App's
// credentials (a wrong key, App ID or installation), which no retry
// would fix; GitHub out of reach is only logged, and every request
// retries.
func (d *daemon) verifyApp(ctx context.Context, c *github.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	login, expires, err := c.Verify(ctx)
	switch {
	case errors.Is(err, github.ErrCredentials):
		return fmt.Errorf("options github-app-id, github-app-key, github-app-installation-id: %w", err)
	case err != nil:
		d.log.Warn("could not check the GitHub App's credentials with GitHub; starting anyway, requests will retry", "err", err)
	default:
		d.log.Info("authenticated as a GitHub App installation", "login", login,
			"app", d.cfg.GitHubAppID, "installation", d.cfg.GitHubAppInstallationID, "token_expires", expires)
	}
	return nil
}

// restore loads the last applied state from the store, so that the API
// serves it before the first reconcile.
func (d *daemon) restore(ctx context.Context) error {
	st, err := d.store.State(ctx)
	if err != nil {
		return err
	}
	rts, err := d.store.Runtimes(ctx)
	if err != nil {
		return err
	}
	var at time.Time
	if last, err := d.store.LastApplied(ctx); err == nil {
		at = last.StartedAt.Add(last.Duration)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := d.holder.Restore(st, rts, at); err != nil {
		return err
	}
	d.metrics.SetReady(d.holder.Load().Loaded())
	d.setEntityMetrics()
	return nil
}

// source builds the fetcher for the configured repository: a local
// directory is watched; anything else is a git repository, polled and
// woken by push webhooks.
func (d *daemon) source() (reconciler.Fetcher, error) {
	cfg := d.cfg
	if cfg.IsLocalDir() {
		dir, err := source.NewDir(cfg.Repo, cfg.Path)
		if err != nil {
			return nil, err
		}
		d.watch = func(ctx context.Context) error {
			return dir.Watch(ctx, cfg.Debounce, func([]string) { d.loop.Trigger() })
		}
		return func(ctx context.Context) (reconciler.Revision, error) {
			rev, err := dir.Snapshot(ctx)
			if err != nil {
				return reconciler.Revision{}, err
			}
			return reconciler.Revision{ID: rev.ID, FS: rev.FS, Changed: rev.Changed}, nil
		}, nil
	}
	var tokens func(context.Context) (string, error) // GitHub's credentials authenticate HTTPS fetches only
	if strings.HasPrefix(cfg.Repo, "https://") || strings.HasPrefix(cfg.Repo, "http://") {
		tokens = d.gitToken
	}
	g, err := source.NewGit(source.GitOptions{
		URL: cfg.Repo, Branch: cfg.Branch, Path: cfg.Path,
		CacheDir: filepath.Join(cfg.CacheDir, "catalog"), Tokens: tokens,
		SSHKeyFile: cfg.SSHKey, SSHKnownHosts: cfg.SSHKnownHosts, Logger: d.log,
		OnFetch: d.metrics.FetchDone,
	})
	if err != nil {
		return nil, err
	}
	poll, err := source.NewPoller(source.PollerOptions{Schedule: cfg.Poll, Logger: d.log}, func(context.Context) { d.loop.Trigger() })
	if err != nil {
		return nil, err
	}
	d.poll = poll
	d.git = g
	return func(ctx context.Context) (reconciler.Revision, error) {
		rev, _, err := g.Fetch(ctx)
		if err != nil {
			return reconciler.Revision{}, err
		}
		return reconciler.Revision{ID: rev.ID, FS: rev.FS, Changed: rev.Changed}, nil
	}, nil
}

// onPush wakes the loop for a push to the followed branch and remembers
// when it arrived, for the push-to-applied latency.
func (d *daemon) onPush(_ context.Context, dl webhook.Delivery) error {
	e, ok := dl.Payload.(*gh.PushEvent)
	if !ok {
		return nil
	}
	branch, ok := webhook.PushBranch(e)
	if !ok || branch != d.cfg.Branch {
		d.log.Debug("push ignored", "ref", e.GetRef())
		return nil
	}
	d.mu.Lock()
	d.pushes[e.GetAfter()] = dl.ReceivedAt
	d.mu.Unlock()
	if d.leads() {
		d.loop.Trigger()
	} else {
		d.tell(store.Notification{Kind: store.NotifyPush})
	}
	return nil
}

// onResult publishes an applied revision and reports every attempt.
func (d *daemon) onResult(rev reconciler.Revision, res *reconciler.Result, err error) {
	d.metrics.RevisionAttempted(rev.ID)
	d.mu.Lock()
	p := d.prepared
	d.prepared = nil
	d.mu.Unlock()
	if err != nil {
		d.metrics.ReconcileDone("error", 0)
		d.reportStatus(rev.ID, "error", "pier could not reconcile: "+err.Error())
		return
	}
	d.metrics.ReconcileDone(res.Outcome, res.Duration)
	kinds := map[string]int{}
	for _, diag := range res.Diagnostics {
		kinds[diag.Kind]++
	}
	d.metrics.SetValidationErrors(kinds)
	if res.Outcome == reconciler.Failed {
		d.reportStatus(rev.ID, "failure", failureSummary(res.Diagnostics))
		return
	}
	if p != nil && p.res == res {
		d.holder.Commit(p.next)
	} else {
		d.holder.Publish(state.FromResult(res))
	}
	if len(res.Events) > 0 {
		d.outbox.Notify() // the revision's deliveries are in the store
	}
	d.metrics.RevisionApplied(rev.ID, res.At)
	d.metrics.SetReady(true)
	d.setEntityMetrics()
	d.mu.Lock()
	if t, ok := d.pushes[rev.ID]; ok {
		d.metrics.PushApplied(time.Since(t))
	}
	clear(d.pushes)
	d.mu.Unlock()
	if res.Outcome == reconciler.Applied {
		d.replanPulls()
	}
	c := res.Plan.Total()
	d.reportStatus(rev.ID, "success", fmt.Sprintf("applied: %d created, %d updated, %d deleted", c.Created, c.Updated, c.Deleted))
}

// recordLevels keeps scorecard level changes as history. It runs under
// the holder's lock, so changes are written in the order they happened.
func (d *daemon) recordLevels(revision string, at time.Time, moves []state.LevelMove) {
	changes := state.LevelChanges(revision, at, moves)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.store.RecordLevels(ctx, changes); err != nil {
		d.log.Error("scorecard history", "revision", revision, "err", err)
	}
}

func (d *daemon) setEntityMetrics() {
	snap := d.holder.Load()
	counts := map[string]int{}
	for bp, es := range snap.Entities {
		counts[bp] = len(es)
	}
	d.metrics.SetEntities(counts)
	levels := map[string]map[string]int{}
	if snap.Scores != nil && snap.Scores.Set != nil {
		for _, sum := range snap.Scores.Set.Summaries(snap.Scores.Results) {
			levels[sum.Identifier] = map[string]int{}
			for _, l := range sum.Levels {
				levels[sum.Identifier][l.Title] = l.Entities
			}
		}
	}
	d.metrics.SetScorecardLevels(levels)
}

func failureSummary(ds catalog.Diagnostics) string {
	if len(ds) == 0 {
		return "not applied"
	}
	return fmt.Sprintf("%d errors; first: %s", len(ds), ds[0].String())
}

// reportStatus sets the pier/reconcile commit status on a GitHub-hosted
// catalog, in the background: GitHub being slow must not hold the loop.
func (d *daemon) reportStatus(sha, state, desc string) {
	if d.github == nil || len(sha) != 40 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := d.github.SetCommitStatus(ctx, d.owner, d.repo, sha, github.Status{
			State: state, Description: desc, Context: "pier/reconcile",
		})
		if err != nil {
			d.log.Warn("commit status", "sha", sha, "err", err)
		}
	}()
}

// run serves until ctx is cancelled, then shuts down in order: stop
// taking requests and triggers, let the reconcile in flight finish,
// close the store.
func (d *daemon) run(ctx context.Context) error {
	defer d.store.Close()
	errc := make(chan error, 4)
	d.runs.start(ctx) // before the API takes requests for runs
	if d.prune != nil && d.rep.repl == nil {
		d.pruneAudit(ctx) // before the API serves the audit log
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.http.Serve(d.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	// The leader's work: for as long as this process runs on SQLite;
	// term after term of the lease on a shared store, while the
	// follower keeps the served state up with the others' writes.
	leadDone := make(chan struct{})
	go func() {
		defer close(leadDone)
		if d.rep.repl == nil {
			d.lead(ctx)
			return
		}
		var fw sync.WaitGroup
		fw.Go(func() { d.rep.follower.Run(ctx, d.onNotification) })
		d.rep.elector.Run(ctx, d.lead)
		fw.Wait()
	}()
	if d.watch != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.watch(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("watch: %w", err)
			}
		}()
	}
	if d.poll != nil {
		d.poll.Start()
	}
	d.timers.Start()
	if d.prune != nil {
		d.prune.Start()
	}
	if d.metricsHTTP != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.metricsHTTP.Serve(d.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics http: %w", err)
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	d.log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if d.poll != nil {
		d.poll.Stop(shutdown)
	}
	d.timers.Stop(shutdown)
	if d.prune != nil {
		d.prune.Stop(shutdown)
	}
	d.http.Shutdown(shutdown)
	if d.metricsHTTP != nil {
		d.metricsHTTP.Shutdown(shutdown)
	}
	d.runs.stop(shutdown)
	d.reviews.Wait()
	<-leadDone
	wg.Wait()
	return err
}

// auditPruneSchedule is how often the audit log drops what is older
// than --audit-retention (and once at start).
const auditPruneSchedule = "@every 1h"

// pruneAudit deletes the audit entries older than --audit-retention.
func (d *daemon) pruneAudit(ctx context.Context) {
	n, err := d.store.PruneAudit(ctx, time.Now().Add(-d.cfg.AuditRetention))
	switch {
	case err != nil:
		d.log.Error("audit retention", "err", err)
	case n > 0:
		d.log.Info("audit log pruned", "entries", n, "retention", d.cfg.AuditRetention)
	}
}

// fireTimers announces the timer properties that expired since the last
// check: each expiry is recorded with its outbound deliveries in one
// transaction, so it is announced once, restarts included.
func (d *daemon) fireTimers(ctx context.Context) {
	snap := d.holder.Load()
	now := time.Now()
	due := d.expiries.New(timer.Due(snap, now))
	if len(due) == 0 {
		return
	}
	var events []reconciler.Event
	fired, err := d.store.FireTimers(ctx, due, now, func(fired []store.Timer) ([]record.Delivery, error) {
		events = timer.Events(snap, fired, now)
		return d.sink.Deliveries(events)
	})
	if err != nil {
		d.log.Error("timers", "err", err)
		return
	}
	d.expiries.Record(due)
	for _, e := range events {
		d.log.Info("timer expired", "blueprint", e.Blueprint, "identifier", e.Identifier, "property", e.Property)
	}
	if len(fired) > 0 {
		d.outbox.Notify()
	}
}

// subscriptions are the outbound webhooks, action notification targets
// and automations of the state being served. The outbox asks on every
// delivery attempt, so they are built once per snapshot.
func (d *daemon) subscriptions() []outbox.Subscription {
	snap := d.holder.Load()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.subsOf != snap {
		subs := d.subscriptionsOf(snap.Webhooks, snap.Actions, snap.Automations)
		if d.runs == nil {
			return subs // automations are not wired yet: do not keep these
		}
		d.subs, d.subsOf = subs, snap
	}
	return d.subs
}

// revisionSubscriptions are those of a revision being applied, so that
// what it adds receives its events.
func (d *daemon) revisionSubscriptions(c *catalog.Catalog) []outbox.Subscription {
	return d.subscriptionsOf(c.Webhooks, c.Actions, c.Automations)
}

// subscriptionsOf builds subscriptions, with webhook secrets read from
// the environment. The loader refuses a secretEnv outside the catalog's
// secrets; a state stored before it did is not sent to at all.
func (d *daemon) subscriptionsOf(webhooks map[string]*catalog.Webhook, actions map[string]*catalog.Action, autos map[string]*catalog.Automation) []outbox.Subscription {
	var out []outbox.Subscription
	for _, w := range webhooks {
		if !w.Active() {
			continue
		}
		if err := config.CheckSecretEnv(w.SecretEnv, w.Identifier); err != nil {
			d.log.Error("outbound webhook not sent: its secretEnv is refused", "webhook", w.Identifier, "err", err)
			continue
		}
		sub := outbox.Subscription{ID: w.Identifier, URL: w.URL, Events: w.Events, Blueprints: w.Blueprints}
		if w.SecretEnv != "" {
			sub.Secret = os.Getenv(w.SecretEnv)
		}
		out = append(out, sub)
	}
	out = append(out, runs.NotificationSubscriptions(actions)...)
	if d.runs != nil {
		out = append(out, d.runs.autos.Subscriptions(autos)...)
	}
	return out
}

// logSink logs the change events of each applied revision. Automations
// and outbound webhooks receive them through the outbox, written with
// the revision (reconciler.Options.Outbox) for the revision's own
// subscriptions: enqueueing them again after the write would address
// the subscriptions of the state still served, including any the
// revision removed.
type logSink struct{ log *slog.Logger }

func (s logSink) Emit(_ context.Context, events []reconciler.Event) error {
	for _, e := range events {
		s.log.Debug("event", "type", e.Type, "blueprint", e.Blueprint, "identifier", e.Identifier, "revision", e.Revision)
	}
	return nil
}
