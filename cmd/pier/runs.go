package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pierhq/pier/internal/compiled"
	"github.com/pierhq/pier/internal/config"
	"github.com/pierhq/pier/internal/store"

	gh "github.com/google/go-github/v62/github"

	"github.com/pierhq/pier/internal/api"
	"github.com/pierhq/pier/internal/approval"
	"github.com/pierhq/pier/internal/approval/githubpr"
	"github.com/pierhq/pier/internal/approval/httpcap"
	"github.com/pierhq/pier/internal/automation"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/runs"
	"github.com/pierhq/pier/internal/source"
	"github.com/pierhq/pier/internal/webhook"
)

// secretsFromEnv returns the PIER_SECRET_* variables by NAME.
func secretsFromEnv() map[string]string {
	out := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, config.SecretPrefix) {
			out[strings.TrimPrefix(k, config.SecretPrefix)] = v
		}
	}
	return out
}

// runsWiring is the action-run side of the daemon: the engine, the
// approval systems it uses and the schedules that look at unfinished
// runs.
type runsWiring struct {
	d      *daemon
	engine *runs.Engine
	autos  *automation.Automations
	sched  *automation.Scheduler
	github *githubpr.System // nil without a GitHub token and repository
	// approvers resolves the teams of approval rules (GitHub's, when
	// there is a GitHub client).
	approvers approval.Approvers
	sweep     *source.Poller
	secrets   map[string]string

	http *compiled.Cache[catalog.ApprovalSystem, *httpcap.System]

	mu       sync.Mutex
	lastPoll map[string]time.Time // http system -> last status poll
}

func (d *daemon) setupRuns() error {
	w := &runsWiring{d: d, secrets: secretsFromEnv(), lastPoll: map[string]time.Time{}}
	w.http = compiled.New(64, func(def *catalog.ApprovalSystem) (*httpcap.System, error) {
		return httpcap.New(def, httpcap.Options{Secrets: func(name string) (string, bool) {
			v, ok := w.secrets[name]
			return v, ok
		}})
	})
	base := d.publicURL()
	runURL := func(id string) string { return strings.TrimSuffix(base, "/") + "/v1/actions/runs/" + id }
	dispatchers := map[string]runs.Dispatcher{"WEBHOOK": runs.WebhookDispatcher{Client: fencedClient(&http.Client{Timeout: 30 * time.Second})}}
	if d.github != nil {
		dispatchers["GITHUB"] = runs.GitHubDispatcher{Client: d.github}
		w.approvers = approval.Approvers{Org: d.owner, Teams: d.github}
		w.github = &githubpr.System{
			Client: d.github, Owner: d.owner, Repo: d.repo, Base: d.cfg.Branch, Dir: d.cfg.Path,
			Teams: d.github, RunURL: runURL,
		}
	}
	notifier := runs.Notifier{Subscriptions: d.subscriptions, RunURL: runURL}
	autos := automation.Options{
		Catalog: d.holder.Load, Enqueue: d.store.Enqueue, Delivered: d.deliveriesWritten,
		Secrets: w.secrets, Logger: d.log.With("component", "automations"),
	}
	if d.github != nil {
		autos.Repo, autos.Owner, autos.Name, autos.Base, autos.Dir = d.github, d.owner, d.repo, d.cfg.Branch, d.cfg.Path
	}
	w.engine = runs.New(d.store, runs.Options{
		Catalog:     d.holder.Load,
		Actions:     func(name string) (*catalog.Action, bool) { return w.autos.Action(name) },
		Systems:     w.system,
		Approvers:   w.approvers,
		Dispatchers: dispatchers,
		Notify:      notifier.Deliveries,
		Delivered:   d.deliveriesWritten,
		Leader:      d.leaderFence,
		Elsewhere: func(_ context.Context, id string) {
			d.tell(store.Notification{Kind: store.NotifyRun, ID: id})
		},
		Secrets:         w.secrets,
		BaseURL:         base,
		RedispatchAfter: d.cfg.RedispatchAfter,
		Metrics:         d.metrics,
		Logger:          d.log.With("component", "runs"),
	})
	autos.Runs = w.engine
	w.autos = automation.New(autos)
	w.sched = &automation.Scheduler{Catalog: d.holder.Load, Runs: w.engine, Logger: d.log.With("component", "schedule"), Now: time.Now}
	var err error
	if w.sweep, err = source.NewPoller(source.PollerOptions{Schedule: d.cfg.RunsPoll, Jitter: -1, Logger: d.log}, d.asLeader(w.tick)); err != nil {
		return fmt.Errorf("option runs-poll: %w", err)
	}
	d.runs = w
	return nil
}

// system resolves an approval system by name.
func (w *runsWiring) system(name string) (approval.System, error) {
	switch {
	case name == approval.InApp:
		return approval.InAppSystem{Approvers: w.approvers, RunURL: w.engine.RunURL}, nil
	case name == approval.GitHub:
		if w.github == nil {
			return nil, errors.New("approval through pull requests needs GitHub credentials (--github-token, or the --github-app-* options) and a GitHub catalog repository (--github-repo)")
		}
		return w.github, nil
	case strings.HasPrefix(name, "http:"):
		id := strings.TrimPrefix(name, "http:")
		def := w.d.holder.Load().ApprovalSystems[id]
		if def == nil {
			return nil, fmt.Errorf("approval system %q is not declared in the catalog", id)
		}
		c, err := w.http.Get(def)
		if err != nil {
			return nil, err
		}
		return approval.HTTPSystem{Client: c, Name: name, Data: w.engine.TemplateData}, nil
	}
	return nil, fmt.Errorf("unknown approval system %q", name)
}

// tick is the runs schedule: start scheduled actions whose time has
// come, sweep every unfinished run, and poll each declared HTTP approval
// system whose own schedule is due.
func (w *runsWiring) tick(ctx context.Context) {
	w.sched.Tick(ctx)
	if err := w.engine.Sweep(ctx); err != nil && ctx.Err() == nil {
		w.d.log.Warn("runs sweep", "err", err)
	}
	now := time.Now()
	for id, def := range w.d.holder.Load().ApprovalSystems {
		sys, err := w.http.Get(def)
		if err != nil {
			continue // the loader reported it
		}
		w.mu.Lock()
		last := w.lastPoll[id]
		due := last.IsZero() || !sys.NextPoll(last).After(now)
		if due {
			w.lastPoll[id] = now
		}
		w.mu.Unlock()
		if due {
			if err := w.engine.PollSystem(ctx, "http:"+id); err != nil && ctx.Err() == nil {
				w.d.log.Warn("approval system poll", "system", id, "err", err)
			}
		}
	}
}

// onWorkflowRun follows a dispatched run's workflow run.
func (w *runsWiring) onWorkflowRun(ctx context.Context, dl webhook.Delivery) error {
	e, ok := dl.Payload.(*gh.WorkflowRunEvent)
	if !ok {
		return nil
	}
	wr := e.GetWorkflowRun()
	_, err := w.engine.WorkflowRunUpdated(ctx, runs.WorkflowRun{
		ID: wr.GetID(), DisplayTitle: wr.GetDisplayTitle(), Status: wr.GetStatus(), Conclusion: wr.GetConclusion(), HTMLURL: wr.GetHTMLURL(),
	})
	return err
}

// start picks up every unfinished run (a restart's interrupted
// dispatches first) and starts the schedule.
func (w *runsWiring) start(ctx context.Context) {
	w.engine.Start(ctx)
	w.sweep.Start() // the leader's term sweeps at once when it starts
}

func (w *runsWiring) stop(ctx context.Context) {
	w.sweep.Stop(ctx)
	w.engine.Wait()
}

// members answers GET /v1/approval-systems/{id}/members.
func (w *runsWiring) members(ctx context.Context, id string) ([]api.Member, error) {
	def := w.d.holder.Load().ApprovalSystems[id]
	if def == nil {
		return nil, fmt.Errorf("approval system %q is not declared", id)
	}
	c, err := w.http.Get(def)
	if err != nil {
		return nil, err
	}
	ms, err := c.Members(ctx, map[string]any{})
	if err != nil {
		return nil, err
	}
	out := make([]api.Member, len(ms))
	for i, m := range ms {
		out[i] = api.Member{ID: m.ID, Email: m.Email}
	}
	return out, nil
}
