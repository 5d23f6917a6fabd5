package reconciler

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pierhq/pier/internal/catalog"
)

// Fetcher returns the newest revision of the catalog. A source that knows
// nothing changed since its previous answer may return the same revision
// ID; the loop then skips the reconcile.
type Fetcher func(ctx context.Context) (Revision, error)

// Condition types, after Kubernetes conventions as Flux uses them.
const (
	ConditionReady       = "Ready"
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
)

// Condition reasons.
const (
	ReasonApplied        = "RevisionApplied"
	ReasonInvalid        = "ValidationFailed"
	ReasonFetchFailed    = "FetchFailed"
	ReasonApplyFailed    = "ApplyFailed"
	ReasonProgressing    = "Progressing"
	ReasonNotYet         = "NotReconciled"
	ReasonWaitingForNext = "WaitingForNewRevision"
)

// Condition is one aspect of the loop's state.
type Condition struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"` // True, False or Unknown
	Reason             string    `json:"reason"`
	Message            string    `json:"message,omitempty"`
	LastTransitionTime time.Time `json:"lastTransitionTime"`
}

// Status is what the loop reports: conditions, and the last attempted and
// last applied revisions, which differ while a bad revision is at the head.
type Status struct {
	Conditions            []Condition         `json:"conditions"`
	LastAttemptedRevision string              `json:"lastAttemptedRevision,omitempty"`
	LastAppliedRevision   string              `json:"lastAppliedRevision,omitempty"`
	LastAttemptedAt       time.Time           `json:"lastAttemptedAt,omitzero"`
	LastAppliedAt         time.Time           `json:"lastAppliedAt,omitzero"`
	Errors                catalog.Diagnostics `json:"errors,omitempty"`
	// Reconciles counts completed reconcile attempts since start.
	Reconciles int64 `json:"reconciles"`
}

// Condition returns the condition of the given type.
func (s Status) Condition(t string) Condition {
	for _, c := range s.Conditions {
		if c.Type == t {
			return c
		}
	}
	return Condition{Type: t, Status: "Unknown"}
}

// LoopOptions tune a Loop.
type LoopOptions struct {
	// MinBackoff and MaxBackoff bound the retry delay after an error;
	// defaults 1 s and 5 min.
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
	// OnResult is called after every attempt, with the result or the
	// error (metrics, commit statuses).
	OnResult func(rev Revision, res *Result, err error)
	// OnFetchError is called when the source cannot be read.
	OnFetchError func(err error)
	Now          func() time.Time
}

// Loop runs reconciles: level-triggered (it always reconciles the newest
// revision, never a queue of them), coalescing (triggers that arrive
// while a reconcile runs collapse into one more), one at a time, with
// exponential backoff after errors.
type Loop struct {
	r     *Reconciler
	fetch Fetcher
	opts  LoopOptions
	kick  chan struct{}

	mu     sync.Mutex
	status Status
	forced bool
}

// NewLoop returns a loop over the revisions fetch yields. lastApplied
// seeds the status from the store, so that a restarted daemon reports
// what it is serving before its first reconcile.
func NewLoop(r *Reconciler, fetch Fetcher, lastApplied string, lastAppliedAt time.Time, opts LoopOptions) *Loop {
	if opts.MinBackoff == 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Loop{r: r, fetch: fetch, opts: opts, kick: make(chan struct{}, 1)}
	now := opts.Now()
	l.status.LastAppliedRevision = lastApplied
	l.status.LastAppliedAt = lastAppliedAt
	l.setCondition(now, ConditionReady, "Unknown", ReasonNotYet, "no reconcile yet")
	l.setCondition(now, ConditionReconciling, "False", ReasonNotYet, "")
	l.setCondition(now, ConditionStalled, "False", ReasonNotYet, "")
	return l
}

// Trigger asks for a reconcile of the newest revision. It never blocks:
// triggers that arrive while one is pending are the same trigger.
func (l *Loop) Trigger() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// Force asks for a reconcile even if the source's revision has not
// changed (the manual trigger: POST /v1/reconcile, SIGHUP).
func (l *Loop) Force() {
	l.mu.Lock()
	l.forced = true
	l.mu.Unlock()
	l.Trigger()
}

// Status returns a copy of the current status.
func (l *Loop) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.status
	s.Conditions = append([]Condition(nil), s.Conditions...)
	return s
}

// Run reconciles once at start and then on every trigger until ctx is
// cancelled. Cancelling ctx abandons a revision still being fetched or
// loaded (the CUE evaluations in flight are killed; nothing of it was
// written, and nothing is reported) and lets one being written finish:
// see Reconciler.Reconcile.
func (l *Loop) Run(ctx context.Context) error {
	l.Trigger()
	backoff := time.Duration(0)
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.kick:
		case <-retry:
		}
		retry = nil
		err := l.once(ctx)
		if err == nil {
			backoff = 0
			continue
		}
		backoff = min(max(2*backoff, l.opts.MinBackoff), l.opts.MaxBackoff)
		l.opts.Logger.Warn("reconcile failed; retrying", "err", err, "in", backoff)
		retry = time.After(backoff)
	}
}

// once fetches the newest revision and reconciles it unless it is the
// one last attempted. It returns an error only for failures worth a
// retry (fetch, store). An attempt cut short by ctx's end is no attempt:
// it is neither recorded nor reported.
func (l *Loop) once(ctx context.Context) error {
	rev, err := l.fetch(ctx)
	now := l.opts.Now()
	if err != nil && ctx.Err() != nil {
		return nil
	}
	if err != nil {
		if l.opts.OnFetchError != nil {
			l.opts.OnFetchError(err)
		}
		l.mu.Lock()
		l.setCondition(now, ConditionReady, "False", ReasonFetchFailed, err.Error())
		l.mu.Unlock()
		return fmt.Errorf("fetch: %w", err)
	}
	l.mu.Lock()
	skip := rev.ID == l.status.LastAttemptedRevision && !l.forced && l.lastSucceeded()
	l.forced = false
	if !skip {
		l.setCondition(now, ConditionReconciling, "True", ReasonProgressing, "reconciling "+rev.ID)
	}
	l.mu.Unlock()
	if skip {
		return nil
	}

	res, err := l.r.Reconcile(ctx, rev)
	now = l.opts.Now()
	l.mu.Lock()
	if err != nil && ctx.Err() != nil {
		l.setCondition(now, ConditionReconciling, "False", ReasonWaitingForNext, "")
		l.mu.Unlock()
		return nil
	}
	l.status.Reconciles++
	l.status.LastAttemptedRevision = rev.ID
	l.status.LastAttemptedAt = now
	l.setCondition(now, ConditionReconciling, "False", ReasonWaitingForNext, "")
	switch {
	case err != nil:
		l.setCondition(now, ConditionReady, "False", ReasonApplyFailed, err.Error())
		l.setCondition(now, ConditionStalled, "False", ReasonApplyFailed, "")
	case res.Outcome == Failed:
		l.status.Errors = res.Diagnostics
		msg := fmt.Sprintf("revision %s has %d errors; still serving %s", rev.ID, len(res.Diagnostics), orNone(l.status.LastAppliedRevision))
		l.setCondition(now, ConditionReady, "False", ReasonInvalid, msg)
		l.setCondition(now, ConditionStalled, "True", ReasonInvalid, "a new revision is needed")
	default:
		l.status.Errors = nil
		l.status.LastAppliedRevision = rev.ID
		l.status.LastAppliedAt = now
		l.setCondition(now, ConditionReady, "True", ReasonApplied, "applied revision "+rev.ID)
		l.setCondition(now, ConditionStalled, "False", ReasonApplied, "")
	}
	l.mu.Unlock()
	if l.opts.OnResult != nil {
		l.opts.OnResult(rev, res, err)
	}
	return err
}

// lastSucceeded reports whether the last attempt ended without an
// infrastructure error; a revision that failed that way is retried even
// though its ID has not changed.
func (l *Loop) lastSucceeded() bool {
	return l.status.Condition(ConditionReady).Reason != ReasonApplyFailed &&
		l.status.Condition(ConditionReady).Reason != ReasonFetchFailed
}

func (l *Loop) setCondition(now time.Time, typ, status, reason, msg string) {
	for i, c := range l.status.Conditions {
		if c.Type != typ {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message = status, reason, msg
		l.status.Conditions[i] = c
		return
	}
	l.status.Conditions = append(l.status.Conditions, Condition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: now})
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}
