package runs

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/approval"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store"
)

// Store is what the engine needs of the state store.
type Store interface {
	CreateRun(ctx context.Context, run store.Run, ev store.RunEvent, out []record.Delivery) (store.Run, bool, error)
	UpdateRun(ctx context.Context, run store.Run, ev *store.RunEvent, out []record.Delivery) (store.Run, error)
	Run(ctx context.Context, id string) (store.Run, error)
	Runs(ctx context.Context, f store.RunFilter) ([]store.Run, error)
	AddRunLog(ctx context.Context, id string, l store.RunLog) error
	RunEvents(ctx context.Context, id string) ([]store.RunEvent, error)
	RunLogs(ctx context.Context, id string) ([]store.RunLog, error)
}

// Metrics receives what the engine measures. *metrics.Metrics
// implements it.
type Metrics interface {
	RunStatus(action, status string)
	ApprovalWait(action, outcome string, d time.Duration)
	Dispatched(action, method string, d time.Duration, err error)
}

// Options configure an Engine.
type Options struct {
	// Catalog returns the catalog being served: actions, entities,
	// blueprints.
	Catalog func() *state.Snapshot
	// Actions resolves actions the catalog does not list by name: the
	// invocations automations declare inline ("automation:ID").
	Actions func(name string) (*catalog.Action, bool)
	// Systems resolves an approval system by name (github, pier,
	// http:NAME).
	Systems func(name string) (approval.System, error)
	// Approvers gives the organisation of unqualified team names and the
	// team lookup, for votes through pier's API.
	Approvers approval.Approvers
	// Dispatchers by invocation type (GITHUB, WEBHOOK).
	Dispatchers map[string]Dispatcher
	// Notify builds the outbound deliveries of a run's event; they are
	// written with the event.
	Notify func(run store.Run, ev store.RunEvent, a *catalog.Action) []record.Delivery
	// Delivered is called after deliveries were written (Worker.Notify).
	Delivered func()
	// Secrets are the values of .secrets in templates.
	Secrets map[string]string
	// BaseURL is pier's public URL, for links to runs.
	BaseURL string
	// RedispatchAfter is how long an interrupted GitHub dispatch is looked
	// for before it is assumed not to have happened and is made again
	// (default DefaultRedispatchAfter). GitHub creates the workflow run
	// within seconds of accepting a dispatch, but lists it only once the
	// run is queued; looking for it too briefly would take a dispatch that
	// happened for one that did not, and run the workflow twice.
	RedispatchAfter time.Duration
	// Backoff is the wait after the nth failure in a row to open, check or
	// close a run's approval request (default: 10 s doubling to 30 min).
	Backoff func(failures int) time.Duration
	// CloseAttempts is how many times closing an approval request is
	// tried before pier gives up on it (default 30, about 13 hours with
	// the default backoff).
	CloseAttempts int
	// ApprovalPollEvery and TrackEvery bound how often Sweep asks about
	// one waiting run's approval (default 5m) and one running run's
	// workflow run (default 1m).
	ApprovalPollEvery, TrackEvery time.Duration
	Metrics                       Metrics
	// Leader, when set, says whether this replica leads the replicas
	// sharing the store, and under which fence: only the leader moves
	// runs along (approval requests, decisions, dispatches), with the
	// fence in the context of every write and request; the others hand
	// a run to it with Elsewhere. Unset, this process is the only one.
	Leader    func() (*store.Fence, bool)
	Elsewhere func(ctx context.Context, id string)
	Logger    *slog.Logger
	Now       func() time.Time
}

// DefaultRedispatchAfter is Options.RedispatchAfter's default.
const DefaultRedispatchAfter = 2 * time.Minute

// DefaultBackoff waits 10 s after the first failure, doubling up to 30
// minutes.
func DefaultBackoff(failures int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < failures && d < 30*time.Minute; i++ {
		d *= 2
	}
	return min(d, 30*time.Minute)
}

// Engine moves runs along. It is safe for concurrent use; one replica
// runs one engine.
type Engine struct {
	store Store
	opts  Options

	mu     sync.Mutex
	locks  map[string]*runLock
	polled map[string]time.Time // run -> when Sweep last asked about it
	bg     bg
}

type runLock struct {
	sync.Mutex
	users int
}

// New returns an engine over st.
func New(st Store, opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RedispatchAfter == 0 {
		opts.RedispatchAfter = DefaultRedispatchAfter
	}
	if opts.Backoff == nil {
		opts.Backoff = DefaultBackoff
	}
	if opts.CloseAttempts == 0 {
		opts.CloseAttempts = 30
	}
	if opts.ApprovalPollEvery == 0 {
		opts.ApprovalPollEvery = 5 * time.Minute
	}
	if opts.TrackEvery == 0 {
		opts.TrackEvery = time.Minute
	}
	if opts.Notify == nil {
		opts.Notify = func(store.Run, store.RunEvent, *catalog.Action) []record.Delivery { return nil }
	}
	return &Engine{store: st, opts: opts, locks: map[string]*runLock{}, polled: map[string]time.Time{}}
}

// lock serialises the engine's own work on one run; the store's
// compare-and-swap covers everything else (API reports, restarts).
func (e *Engine) lock(id string) func() {
	e.mu.Lock()
	l := e.locks[id]
	if l == nil {
		l = &runLock{}
		e.locks[id] = l
	}
	l.users++
	e.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		e.mu.Lock()
		if l.users--; l.users == 0 {
			delete(e.locks, id)
		}
		e.mu.Unlock()
	}
}

// newID returns a run id: "r_" and 16 random base32 characters, Port's
// shape of run id.
func newID() string {
	var b [10]byte
	rand.Read(b[:])
	return "r_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// RunURL is where a run is shown.
func (e *Engine) RunURL(id string) string {
	return strings.TrimSuffix(e.opts.BaseURL, "/") + "/v1/actions/runs/" + id
}

// Error is a refused request: Code is the HTTP status the API answers
// (404 unknown, 403 not allowed, 409 wrong state, 422 bad input) and
// Field, when set, the input at fault.
type Error struct {
	Code    int
	Field   string
	Message string
	// Denied, for a 403, is the permission the roles do not grant.
	Denied *access.Denied
}

func (e *Error) Error() string { return e.Message }

func refuse(code int, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// write stores a change to run made from the version read, with an event
// and its notifications; a status change is counted. An event with
// neither a status nor a note is not written: the change is pier's
// bookkeeping, not a step anyone follows.
func (e *Engine) write(ctx context.Context, run store.Run, ev store.RunEvent, a *catalog.Action) (store.Run, error) {
	now := e.opts.Now().UTC()
	run.UpdatedAt = now
	if ev.At.IsZero() {
		ev.At = now
	}
	if ev.To != "" {
		ev.From, run.Status = run.Status, ev.To
		if store.RunTerminal(ev.To) {
			run.EndedAt = now
		}
	}
	if ev.From == ev.To {
		ev.From, ev.To = "", ""
	}
	if ev.To == "" && ev.Note == "" {
		stored, err := e.store.UpdateRun(ctx, run, nil, nil)
		if err != nil {
			return store.Run{}, err
		}
		return stored, nil
	}
	next := run
	next.Version++ // what the notification ids derive from
	out := e.opts.Notify(next, ev, a)
	stored, err := e.store.UpdateRun(ctx, run, &ev, out)
	if err != nil {
		return store.Run{}, err
	}
	e.afterWrite(stored, ev, out)
	return stored, nil
}

func (e *Engine) afterWrite(run store.Run, ev store.RunEvent, out []record.Delivery) {
	if ev.To != "" && e.opts.Metrics != nil {
		e.opts.Metrics.RunStatus(run.Action, ev.To)
	}
	if len(out) > 0 && e.opts.Delivered != nil {
		e.opts.Delivered()
	}
	if ev.To != "" {
		e.opts.Logger.Info("run", "id", run.ID, "action", run.Action, "from", ev.From, "to", ev.To, "actor", ev.Actor, "note", ev.Note)
	}
}

// action returns the run's action from the catalog being served.
func (e *Engine) action(name string) (*catalog.Action, bool) {
	if snap := e.opts.Catalog(); snap != nil {
		if a, ok := snap.Actions[name]; ok {
			return a, true
		}
	}
	if e.opts.Actions != nil {
		return e.opts.Actions(name)
	}
	return nil, false
}

// Get returns a run.
func (e *Engine) Get(ctx context.Context, id string) (store.Run, error) {
	run, err := e.store.Run(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Run{}, refuse(404, "", "run %q does not exist", id)
	}
	return run, err
}

// List lists runs.
func (e *Engine) List(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	return e.store.Runs(ctx, f)
}

// Events returns a run's history.
func (e *Engine) Events(ctx context.Context, id string) ([]store.RunEvent, error) {
	evs, err := e.store.RunEvents(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse(404, "", "run %q does not exist", id)
	}
	return evs, err
}

// Logs returns the log lines workflows reported.
func (e *Engine) Logs(ctx context.Context, id string) ([]store.RunLog, error) {
	ls, err := e.store.RunLogs(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse(404, "", "run %q does not exist", id)
	}
	return ls, err
}
