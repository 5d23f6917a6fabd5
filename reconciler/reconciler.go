// Package reconciler turns a catalog revision into applied state.
//
// Reconcile is a short pipeline of named steps, each a method with one
// guarantee (see their doc comments):
//
//	load → validate → compute → diff → guard → apply → emit
//
// While apply writes, Options.WhileApplying may build what follows on
// the CPUs the write leaves idle. A revision that fails any step before
// apply changes nothing: the last good state keeps serving, and the
// failure is recorded with its diagnostics. Reconcile is level-triggered and idempotent: reconciling
// the same revision twice applies nothing the second time.
package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/plan"
	"github.com/pierhq/pier/internal/store"
)

// Store is what the reconciler needs of the state store.
type Store interface {
	State(ctx context.Context) (*store.State, error)
	LastApplied(ctx context.Context) (store.Revision, error)
	Apply(ctx context.Context, rev store.Revision, changes []store.Change) error
	RecordFailure(ctx context.Context, rev store.Revision) error
}

// Sink receives the change events of each applied revision. Emit is
// called after the revision is committed; an error is logged and does not
// undo the revision (durable delivery is the sink's business).
type Sink interface {
	Emit(ctx context.Context, events []Event) error
}

// Event types, as Port names them.
const (
	EntityCreated = "ENTITY_CREATED"
	EntityUpdated = "ENTITY_UPDATED"
	EntityDeleted = "ENTITY_DELETED"
	// TimerPropertyExpired is announced by the timer scheduler, not by a
	// revision.
	TimerPropertyExpired = "TIMER_PROPERTY_EXPIRED"
)

// Event is one entity change of an applied revision.
type Event struct {
	Type       string          `json:"eventType"`
	Blueprint  string          `json:"blueprint"`
	Identifier string          `json:"identifier"`
	Property   string          `json:"property,omitempty"` // the timer, for TIMER_PROPERTY_EXPIRED
	Revision   string          `json:"revision"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
	At         time.Time       `json:"at"`
}

// Revision is one version of the catalog to reconcile.
type Revision struct {
	// ID names the revision: a commit hash, or a content hash for a
	// working directory.
	ID string
	// FS is the catalog tree at this revision.
	FS fs.FS
	// Changed, when not nil, lists the paths changed since the previous
	// revision given to this reconciler; only those are re-read.
	Changed []string
}

// Options tune a Reconciler.
type Options struct {
	// MaxDeletionShare is the share of entities one revision may delete
	// unless its catalog opts in (settings.deletionGuard.allow). The
	// catalog's settings.deletionGuard.maxShare overrides it. Zero means
	// the default, 0.5.
	MaxDeletionShare float64
	Logger           *slog.Logger
	Now              func() time.Time
	// Outbox, when set, turns a revision's events into outbound
	// deliveries, which are written in the same transaction as the
	// revision so that none is lost to a crash between the two. It gets
	// the revision's catalog: a subscription (or automation) added by a
	// revision receives that revision's events.
	Outbox func(c *catalog.Catalog, events []Event) ([]record.Delivery, error)
	// Check, when set, is what packages the loader cannot depend on
	// refuse in a valid revision (the daemon passes automation.Check):
	// a revision it reports is not applied, as `pier validate` says.
	Check func(c *catalog.Catalog, objects map[catalog.Key]catalog.Object) catalog.Diagnostics
	// WhileApplying, when set, is called with the result of a revision
	// that is about to be applied (its Plan, Catalog, Objects, Events
	// and At set), on another goroutine while the store writes it;
	// Reconcile returns once both are done. What follows an applied
	// revision — building the state to serve, scorecards included — can
	// start there instead of after the write, which keeps one CPU busy
	// and leaves the others idle. A revision whose write fails is not
	// applied: what was built for it must be dropped.
	WhileApplying func(res *Result)
}

// Outcome of a reconcile.
const (
	Applied   = store.ResultApplied
	Failed    = store.ResultFailed
	Unchanged = store.ResultNoop
)

// Result reports one reconcile.
type Result struct {
	Revision    string
	Outcome     string
	Plan        plan.Plan
	Diagnostics catalog.Diagnostics
	Events      []Event
	Duration    time.Duration
	// Catalog is the loaded catalog; for a failed revision it holds what
	// was valid, for reports only. Objects is its canonical form, with
	// where each object is declared.
	Catalog *catalog.Catalog
	Objects map[catalog.Key]catalog.Object
	// At is when the revision was applied: when the reconciler decided
	// to write it, which is also the time what is built while it is
	// written (Options.WhileApplying) gives its new entities.
	At time.Time
}

// Reconciler applies revisions one at a time.
type Reconciler struct {
	loader *loader.Loader
	store  Store
	sink   Sink
	opts   Options
	mu     sync.Mutex // one reconcile at a time

	// applied caches the objects of the revision this reconciler last
	// applied, and appliedRec that revision's record as the store read it
	// back. Reading 20,000 objects back from the store would be most of a
	// one-entity reconcile; the cache is used only while the store's
	// newest applied revision is still the one recorded here (the same
	// sequence number), so a store written by someone else is read again.
	applied    map[catalog.Key]catalog.Object
	appliedRec store.Revision
	// comp carries computed-property results from revision to revision;
	// pending collects the entities changed since they were computed.
	comp    *computed
	pending map[catalog.Key]bool
}

// New returns a reconciler. sink may be nil.
func New(l *loader.Loader, s Store, sink Sink, opts Options) *Reconciler {
	if opts.MaxDeletionShare == 0 {
		opts.MaxDeletionShare = 0.5
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Reconciler{loader: l, store: s, sink: sink, opts: opts, pending: map[catalog.Key]bool{}}
}

// Reconcile brings the store to rev. It returns an error only when the
// work could not be done (the tree could not be read, the store failed):
// such a reconcile should be retried. An invalid revision is not an
// error: it is a Result with Outcome Failed and its diagnostics, recorded
// in the store, and retrying it would fail the same way.
//
// Cancelling ctx stops the reconcile while the revision is loaded and
// checked (CUE evaluations in child processes are killed), with ctx's
// error; once the reconciler writes (the revision, or its failure), the
// write is finished whatever ctx says, so that a shutdown never leaves
// half of one.
func (r *Reconciler) Reconcile(ctx context.Context, rev Revision) (*Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	write := context.WithoutCancel(ctx)
	start := r.opts.Now()
	res := &Result{Revision: rev.ID}
	finish := func(outcome string) {
		res.Outcome = outcome
		res.Duration = r.opts.Now().Sub(start)
	}

	loaded, err := r.load(ctx, rev)
	if err != nil {
		return nil, err
	}
	// What changed is remembered until a revision is computed, so that
	// the changes of failed revisions in between are not lost to it.
	for _, k := range loaded.Changed {
		r.pending[k] = true
	}
	res.Catalog = loaded.Catalog
	res.Objects = loaded.Objects
	if diags := r.validate(loaded); len(diags) > 0 {
		res.Diagnostics = diags
		finish(Failed)
		return res, r.recordFailure(write, rev, start, res)
	}
	loaded, diags := r.compute(loaded)
	if len(diags) > 0 {
		res.Diagnostics = diags
		finish(Failed)
		return res, r.recordFailure(write, rev, start, res)
	}
	res.Catalog = loaded.Catalog
	res.Objects = loaded.Objects
	current, err := r.current(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconcile %s: read state: %w", rev.ID, err)
	}
	res.Plan = plan.Compute(current, loaded.Objects)
	if diags := r.guard(current, loaded, res.Plan); len(diags) > 0 {
		res.Diagnostics = diags
		finish(Failed)
		return res, r.recordFailure(write, rev, start, res)
	}
	outcome := Applied
	if res.Plan.Empty() {
		outcome = Unchanged
	}
	res.Events = r.events(rev, res.Plan)
	res.At = r.opts.Now()
	var building sync.WaitGroup
	if r.opts.WhileApplying != nil {
		building.Go(func() { r.opts.WhileApplying(res) })
	}
	err = r.apply(write, rev, start, loaded, res.Plan, outcome, res.Events)
	building.Wait()
	if err != nil {
		return nil, err
	}
	finish(outcome)
	r.emit(write, rev, res.Events)
	r.opts.Logger.Info("reconciled", "revision", rev.ID, "outcome", outcome,
		"created", res.Plan.Total().Created, "updated", res.Plan.Total().Updated,
		"deleted", res.Plan.Total().Deleted, "duration", res.Duration)
	return res, nil
}

// load reads the revision's tree into a catalog, re-reading only the
// changed paths when the revision says which they are.
func (r *Reconciler) load(ctx context.Context, rev Revision) (*loader.Result, error) {
	var (
		res *loader.Result
		err error
	)
	if rev.Changed != nil {
		res, err = r.loader.Reload(ctx, rev.FS, rev.Changed)
	} else {
		res, err = r.loader.Load(ctx, rev.FS)
	}
	if err != nil {
		return nil, fmt.Errorf("reconcile %s: load: %w", rev.ID, err)
	}
	return res, nil
}

// validate returns the revision's diagnostics; a revision with any is
// not applied.
func (r *Reconciler) validate(res *loader.Result) catalog.Diagnostics {
	if len(res.Diagnostics) > 0 || r.opts.Check == nil {
		return res.Diagnostics
	}
	return r.opts.Check(res.Catalog, res.Objects)
}

// current returns the applied objects: from the cache when the store's
// newest applied revision is the one this reconciler applied, otherwise
// read from the store.
func (r *Reconciler) current(ctx context.Context) (map[catalog.Key]catalog.Object, error) {
	if r.applied != nil {
		last, err := r.store.LastApplied(ctx)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err == nil && last.Seq == r.appliedRec.Seq && last.Revision == r.appliedRec.Revision {
			return r.applied, nil
		}
	}
	state, err := r.store.State(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[catalog.Key]catalog.Object, len(state.Objects))
	for k, o := range state.Objects {
		out[k] = catalog.Object{Key: k, JSON: o.JSON, Hash: o.Hash, Source: o.Source}
	}
	return out, nil
}

// guard refuses a revision that deletes more than the allowed share of
// the entities, unless the revision's own catalog opts in. It protects
// against a bad merge or a moved directory wiping the portal.
func (r *Reconciler) guard(current map[catalog.Key]catalog.Object, res *loader.Result, p plan.Plan) catalog.Diagnostics {
	g := res.Catalog.Settings.DeletionGuard
	if g.Allow {
		return nil
	}
	maxShare := r.opts.MaxDeletionShare
	if g.MaxShare != nil {
		maxShare = *g.MaxShare
	}
	entities := 0
	for k := range current {
		if k.Kind == catalog.KindEntityObj {
			entities++
		}
	}
	var deleted []plan.Change
	for _, c := range p.Changes {
		if c.Key.Kind == catalog.KindEntityObj && c.Op == store.OpDelete {
			deleted = append(deleted, c)
		}
	}
	if entities == 0 || float64(len(deleted)) <= maxShare*float64(entities) {
		return nil
	}
	d := catalog.Diagnostic{
		Kind: catalog.KindDeletionGuard,
		Path: "settings.deletionGuard",
		Message: fmt.Sprintf("this revision deletes %d of %d entities (%.0f%%), more than the %.0f%% allowed; "+
			"if that is intended, set settings: deletionGuard: allow: true in this revision (and remove it afterwards)",
			len(deleted), entities, 100*float64(len(deleted))/float64(entities), 100*maxShare),
	}
	sort.Slice(deleted, func(i, j int) bool { return deleted[i].Key.Less(deleted[j].Key) })
	for _, c := range deleted {
		if !c.Source.IsValid() {
			continue
		}
		if !d.Pos.IsValid() {
			d.Pos = c.Source
			continue
		}
		if len(d.Related) == 5 {
			break
		}
		d.Related = append(d.Related, c.Source)
	}
	return catalog.Diagnostics{d}
}

// apply writes the plan, the revision record and the entity history in
// one store transaction.
func (r *Reconciler) apply(ctx context.Context, rev Revision, start time.Time, res *loader.Result, p plan.Plan, outcome string, events []Event) error {
	t := p.Total()
	rec := store.Revision{
		Revision:  rev.ID,
		Result:    outcome,
		StartedAt: start.UTC(),
		Duration:  r.opts.Now().Sub(start),
		Counts:    store.Counts{Created: t.Created, Updated: t.Updated, Deleted: t.Deleted, Entities: res.Catalog.EntityCount()},
	}
	settings, err := json.Marshal(res.Catalog.Settings)
	if err != nil {
		return fmt.Errorf("reconcile %s: settings: %w", rev.ID, err)
	}
	rec.Settings = settings
	if r.opts.Outbox != nil && len(events) > 0 {
		ds, err := r.opts.Outbox(res.Catalog, events)
		if err != nil {
			return fmt.Errorf("reconcile %s: outbox: %w", rev.ID, err)
		}
		rec.Outbox = ds
	}
	if err := r.store.Apply(ctx, rec, p.StoreChanges()); err != nil {
		r.applied = nil
		return fmt.Errorf("reconcile %s: apply: %w", rev.ID, err)
	}
	// The record as stored is the cache's key: its sequence number is
	// the store's, and its times are as precise as the store keeps them
	// (PostgreSQL: microseconds), so comparing them to this process's
	// would miss every time.
	r.applied = nil
	if last, err := r.store.LastApplied(ctx); err == nil && last.Revision == rec.Revision {
		r.applied, r.appliedRec = res.Objects, last
	}
	return nil
}

// recordFailure records a revision that was not applied.
func (r *Reconciler) recordFailure(ctx context.Context, rev Revision, start time.Time, res *Result) error {
	res.Diagnostics.Shorten() // what the checks after the loader wrote, too
	rec := store.Revision{
		Revision:  rev.ID,
		Result:    store.ResultFailed,
		StartedAt: start.UTC(),
		Duration:  res.Duration,
		Errors:    res.Diagnostics,
	}
	if err := r.store.RecordFailure(ctx, rec); err != nil {
		return fmt.Errorf("reconcile %s: record failure: %w", rev.ID, err)
	}
	r.opts.Logger.Warn("revision not applied", "revision", rev.ID, "errors", len(res.Diagnostics))
	return nil
}

// events turns the plan's entity changes into change events.
func (r *Reconciler) events(rev Revision, p plan.Plan) []Event {
	now := r.opts.Now().UTC()
	var events []Event
	for _, c := range p.Changes {
		if c.Key.Kind != catalog.KindEntityObj {
			continue
		}
		e := Event{Blueprint: c.Key.Blueprint, Identifier: c.Key.ID, Revision: rev.ID, Before: c.Before, After: c.After, At: now}
		switch c.Op {
		case store.OpCreate:
			e.Type = EntityCreated
		case store.OpUpdate:
			e.Type = EntityUpdated
		case store.OpDelete:
			e.Type = EntityDeleted
		}
		events = append(events, e)
	}
	return events
}

// emit hands a committed revision's events to the sink.
func (r *Reconciler) emit(ctx context.Context, rev Revision, events []Event) {
	if r.sink != nil && len(events) > 0 {
		if err := r.sink.Emit(ctx, events); err != nil {
			r.opts.Logger.Error("emit events", "revision", rev.ID, "events", len(events), "err", err)
		}
	}
}

// Plan is Reconcile without the write: what applying rev would do to
// the state applied now, for a pull request's review. It runs every
// step Reconcile runs before apply (validate, compute, diff, guard),
// with the same rules, and changes nothing: rev is loaded by l, a
// loader of the caller's (the reconciler's own keeps the applied
// revision's files for the next reconcile), and computed properties
// are evaluated afresh rather than carried over. The Result's Outcome
// is Failed, with the diagnostics, for a revision Reconcile would
// refuse; its Events are those applying it would emit.
func (r *Reconciler) Plan(ctx context.Context, l *loader.Loader, rev Revision) (*Result, error) {
	start := r.opts.Now()
	dry := &Reconciler{loader: l, opts: r.opts, pending: map[catalog.Key]bool{}}
	res := &Result{Revision: rev.ID}
	finish := func(outcome string) {
		res.Outcome = outcome
		res.Duration = r.opts.Now().Sub(start)
	}
	loaded, err := dry.load(ctx, rev)
	if err != nil {
		return nil, err
	}
	res.Catalog, res.Objects = loaded.Catalog, loaded.Objects
	if diags := dry.validate(loaded); len(diags) > 0 {
		res.Diagnostics = diags
		finish(Failed)
		return res, nil
	}
	loaded, diags := dry.compute(loaded)
	if len(diags) > 0 {
		res.Diagnostics = diags
		finish(Failed)
		return res, nil
	}
	res.Catalog, res.Objects = loaded.Catalog, loaded.Objects
	r.mu.Lock()
	current, err := r.current(ctx)
	r.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("plan %s: read state: %w", rev.ID, err)
	}
	res.Plan = plan.Compute(current, loaded.Objects)
	res.At = r.opts.Now()
	res.Events = dry.events(rev, res.Plan)
	if diags := dry.guard(current, loaded, res.Plan); len(diags) > 0 {
		res.Diagnostics = diags
		finish(Failed)
		return res, nil
	}
	if res.Plan.Empty() {
		finish(Unchanged)
	} else {
		finish(Applied)
	}
	return res, nil
}
