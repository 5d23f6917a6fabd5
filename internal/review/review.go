// Package review plans a catalog revision that is not applied — a pull
// request's head — against the state pier serves, and renders the plan
// for the pull request. It runs the reconciler's own steps without the
// write (reconciler.Plan) and the state's own scoring (state.Preview),
// so that what a review promises is what merging does.
package review

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/pierhq/pier/internal/automation"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/outbox"
	"github.com/pierhq/pier/internal/plan"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/reconciler"
)

// Report is what a revision would do to the served state.
type Report struct {
	// Revision is the planned revision; Base the one served when it was
	// planned.
	Revision string `json:"revision"`
	Base     string `json:"base"`
	// Valid is false when the reconciler would refuse the revision:
	// Diagnostics say why, with file:line:col.
	Valid       bool                `json:"valid"`
	Diagnostics catalog.Diagnostics `json:"diagnostics"`
	// DeletionGuard is set when the refusal is the deletion guard's.
	DeletionGuard bool        `json:"deletionGuard"`
	Plan          plan.Plan   `json:"plan"`
	Counts        plan.Counts `json:"counts"`
	Moves         []Move      `json:"scorecardMoves"`
	Events        []Event     `json:"events"`
	// Automations are the revision\'s automations its events would fire
	// on merge, by the automations\' own rule (trigger, conditions).
	Automations []Fire `json:"automations"`
	// planned is set when the revision got as far as a plan (it is
	// valid, or only the deletion guard refuses it).
	planned bool
}

// Move is a scorecard level an entity would reach.
type Move struct {
	Blueprint  string   `json:"blueprint"`
	Identifier string   `json:"identifier"`
	Scorecard  string   `json:"scorecard"`
	From       string   `json:"from"`
	To         string   `json:"to"`
	Failing    []string `json:"failing,omitempty"`
	Passing    []string `json:"passing,omitempty"`
}

// Event is a change event merging would emit, which automations and
// outbound webhooks subscribe to.
type Event struct {
	Type       string `json:"eventType"`
	Blueprint  string `json:"blueprint"`
	Identifier string `json:"identifier"`
}

// Fire is an automation an event would fire.
type Fire struct {
	Automation string `json:"automation"`
	Event      Event  `json:"event"`
}

// fired matches the revision's events against its automations, as the
// outbox and the automations' handler would on merge: the payload each
// would receive, and the graph of the state merging would serve.
// Nothing is run or sent.
func fired(ctx context.Context, res *reconciler.Result, next *state.Snapshot) []Fire {
	if len(res.Catalog.Automations) == 0 || len(res.Events) == 0 {
		return nil
	}
	ids := slices.Sorted(maps.Keys(res.Catalog.Automations))
	var subs []outbox.Subscription
	rules := map[string]*automation.Rule{}
	for _, id := range ids {
		r, err := automation.Compile(res.Catalog.Automations[id])
		if err != nil || r == nil {
			continue // the revision's validation reports it
		}
		s := r.Subscription(nil)
		subs = append(subs, s)
		rules[s.ID] = r
	}
	ds, err := outbox.NewSink(nil, nil, outbox.SinkOptions{}).DeliveriesTo(subs, res.Events)
	if err != nil {
		return nil
	}
	g := next.Graph()
	var out []Fire
	for _, d := range ds {
		var event map[string]any
		if catalog.Decode(d.Body, &event) != nil {
			continue
		}
		r := rules[d.Subscription]
		if ok, err := r.Matches(ctx, event, g); err != nil || !ok {
			continue
		}
		bp, _ := event["blueprint"].(map[string]any)["identifier"].(string)
		id, _ := event["entity"].(map[string]any)["identifier"].(string)
		out = append(out, Fire{Automation: r.ID, Event: Event{Type: d.Event, Blueprint: bp, Identifier: id}})
	}
	return out
}

// Planner plans revisions against one reconciler's applied state. A
// revision is planned once per served revision: asking again returns
// the same report, and concurrent asks wait for the one plan. At most
// Workers plans run at a time, and each waits for a reconcile in
// progress (the reconciler's lock), so reviews never hold up main.
type Planner struct {
	Reconciler *reconciler.Reconciler
	State      *state.Holder
	// Loader makes the loaders plans use (the reconciler's own keeps the
	// applied revision's files). Each is kept for the next plan: a
	// loader parses again only the files whose content changed since
	// its last load, so planning a one-file pull request re-reads that
	// file, not the catalog.
	Loader func() (*loader.Loader, error)
	// Workers bounds concurrent plans, each with a loader of its own; 2
	// if zero.
	Workers int

	once  sync.Once
	slots chan *loader.Loader // a free slot holds nil until its loader is made
	mu    sync.Mutex
	cache map[string]*entry
}

type entry struct {
	done chan struct{}
	rep  *Report
	err  error
}

// maxCached bounds the reports kept; the oldest served revision's go
// first when main moves, since they are keyed by it.
const maxCached = 256

// Plan returns the report for rev against the state served now.
func (p *Planner) Plan(ctx context.Context, rev reconciler.Revision) (*Report, error) {
	p.once.Do(func() {
		n := p.Workers
		if n <= 0 {
			n = 2
		}
		p.slots = make(chan *loader.Loader, n)
		for range n {
			p.slots <- nil
		}
		p.cache = map[string]*entry{}
	})
	base := p.State.Load().Revision
	key := base + " " + rev.ID
	p.mu.Lock()
	e, ok := p.cache[key]
	if !ok {
		if len(p.cache) >= maxCached {
			clear(p.cache)
		}
		e = &entry{done: make(chan struct{})}
		p.cache[key] = e
	}
	p.mu.Unlock()
	if !ok {
		e.rep, e.err = p.plan(ctx, base, rev)
		if e.err != nil {
			p.mu.Lock()
			delete(p.cache, key) // a failure to plan is retried, an invalid revision is not
			p.mu.Unlock()
		}
		close(e.done)
	}
	select {
	case <-e.done:
		return e.rep, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Cached reports whether rev was planned against the served revision.
func (p *Planner) Cached(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.cache[p.State.Load().Revision+" "+id]
	return ok
}

func (p *Planner) plan(ctx context.Context, base string, rev reconciler.Revision) (*Report, error) {
	var l *loader.Loader
	select {
	case l = <-p.slots:
		defer func() { p.slots <- l }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if l == nil {
		made, err := p.Loader()
		if err != nil {
			return nil, err
		}
		l = made
	}
	rev.Changed = nil // the loader's last load was another revision: compare every file's hash
	res, err := p.Reconciler.Plan(ctx, l, rev)
	if err != nil {
		return nil, err
	}
	rep := &Report{Revision: rev.ID, Base: base, Valid: res.Outcome != reconciler.Failed,
		Diagnostics: res.Diagnostics, Plan: res.Plan, Counts: res.Plan.Total()}
	if rep.Diagnostics == nil {
		rep.Diagnostics = catalog.Diagnostics{}
	}
	for _, d := range res.Diagnostics {
		if d.Kind == catalog.KindDeletionGuard {
			rep.DeletionGuard = true
		}
	}
	rep.planned = rep.Valid || rep.DeletionGuard
	if rep.planned {
		moves, next := p.State.Preview(state.FromResult(res))
		for _, m := range moves {
			rep.Moves = append(rep.Moves, Move{Blueprint: m.Key.Blueprint, Identifier: m.Key.ID, Scorecard: m.Scorecard,
				From: m.From, To: m.To, Failing: m.Failing, Passing: m.Passing})
		}
		rep.Automations = fired(ctx, res, next)
	}
	for _, e := range res.Events {
		rep.Events = append(rep.Events, Event{Type: e.Type, Blueprint: e.Blueprint, Identifier: e.Identifier})
	}
	return rep, nil
}

// Marker starts every plan comment, so that pier finds its own comment
// to edit on the next push instead of adding one per push.
const Marker = "<!-- pier-plan -->"

// Markdown renders the report as the pull request's plan comment.
func (r *Report) Markdown() string {
	var b bytes.Buffer
	b.WriteString(Marker + "\n")
	fmt.Fprintf(&b, "### pier plan for `%s`\n\n", short(r.Revision))
	fmt.Fprintf(&b, "Planned against the state pier serves (revision `%s`), runtime properties and scorecards included.\n\n", short(r.Base))
	if !r.Valid {
		if r.DeletionGuard {
			b.WriteString("**The deletion guard would refuse this revision.**\n\n")
		} else {
			fmt.Fprintf(&b, "**This revision is invalid: %d errors.** pier would keep serving the last good state.\n\n", len(r.Diagnostics))
		}
		for _, d := range r.Diagnostics {
			fmt.Fprintf(&b, "- `%s`\n", strings.ReplaceAll(d.String(), "`", "'"))
		}
		b.WriteString("\n")
	}
	if len(r.Moves) > 0 {
		b.WriteString("#### Scorecard levels that would move\n\n")
		for _, m := range r.Moves {
			fmt.Fprintf(&b, "- `%s/%s` %s\n", m.Blueprint, m.Identifier, m.describe())
		}
		b.WriteString("\n")
	}
	if s := r.events(); s != "" {
		b.WriteString(s + "\n\n")
	}
	if len(r.Automations) > 0 {
		b.WriteString("#### Automations that would fire on merge\n\n")
		for _, f := range r.Automations {
			fmt.Fprintf(&b, "- `%s` on %s of `%s/%s`\n", f.Automation, f.Event.Type, f.Event.Blueprint, f.Event.Identifier)
		}
		b.WriteString("\n")
	}
	if r.planned {
		b.WriteString("#### Changes\n\n")
		r.Plan.WriteMarkdown(&b)
	}
	return b.String()
}

// Text renders the report for a terminal: the errors as pier validate
// prints them, the level moves, then the plan as pier diff prints it.
func (r *Report) Text() string {
	var b bytes.Buffer
	for _, d := range r.Diagnostics {
		b.WriteString(d.String() + "\n")
	}
	if !r.Valid {
		fmt.Fprintf(&b, "revision %s would not be applied: %s\n", short(r.Revision), r.Summary())
	}
	for _, m := range r.Moves {
		fmt.Fprintf(&b, "scorecard %s/%s %s\n", m.Blueprint, m.Identifier, m.describe())
	}
	if s := r.events(); s != "" {
		b.WriteString(s + "\n")
	}
	for _, f := range r.Automations {
		fmt.Fprintf(&b, "automation %s would fire on %s of %s/%s\n", f.Automation, f.Event.Type, f.Event.Blueprint, f.Event.Identifier)
	}
	if r.planned {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		r.Plan.WriteText(&b)
	}
	return b.String()
}

// describe says how a move goes and why: "production_readiness: Gold →
// Silver, because rule has_runbook fails".
func (m Move) describe() string {
	s := fmt.Sprintf("%s: %s → %s", m.Scorecard, level(m.From), level(m.To))
	var why []string
	for _, f := range m.Failing {
		why = append(why, "rule "+f+" fails")
	}
	for _, f := range m.Passing {
		why = append(why, "rule "+f+" passes")
	}
	if len(why) > 0 {
		s += ", because " + strings.Join(why, ", ")
	}
	return s
}

// events counts the change events merging would emit, or "".
func (r *Report) events() string {
	if len(r.Events) == 0 || !r.Valid {
		return ""
	}
	n := map[string]int{}
	for _, e := range r.Events {
		n[e.Type]++
	}
	return fmt.Sprintf("Merging emits %d ENTITY_CREATED, %d ENTITY_UPDATED and %d ENTITY_DELETED events to automations and webhooks.",
		n[reconciler.EntityCreated], n[reconciler.EntityUpdated], n[reconciler.EntityDeleted])
}

// Summary is the one-line outcome, for a commit status.
func (r *Report) Summary() string {
	switch {
	case r.DeletionGuard:
		return "refused by the deletion guard"
	case !r.Valid:
		return fmt.Sprintf("%d errors; first: %s", len(r.Diagnostics), r.Diagnostics[0].String())
	}
	s := fmt.Sprintf("plan: %d to create, %d to update, %d to delete", r.Counts.Created, r.Counts.Updated, r.Counts.Deleted)
	if len(r.Moves) > 0 {
		s += fmt.Sprintf("; %d scorecard levels move", len(r.Moves))
	}
	return s
}

func level(l string) string {
	if l == "" {
		return "(none)"
	}
	return l
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
