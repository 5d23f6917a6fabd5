package replica

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/pierhq/pier/internal/metrics"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store"
)

// Follower keeps the state a replica serves up with the store: the
// revisions the leader applies (while this replica does not lead) and
// the runtime values any replica writes. Notifications say when to look;
// what changed is always read from the store, so a lost notification
// only delays until the next one or the periodic catch-up.
type Follower struct {
	Repl   store.Replication
	Holder *state.Holder
	// Leads reports whether this replica leads: the leader publishes its
	// own revisions and does not follow them.
	Leads func() bool
	// Restore loads the whole state from the store: after this replica
	// stops leading, what it served was its own.
	Restore func(ctx context.Context) error
	// Every is the periodic catch-up (default 5 s).
	Every   time.Duration
	Log     *slog.Logger
	Metrics *metrics.Metrics

	mu         sync.Mutex // one catch-up at a time
	runtimeSeq int64
	primed     bool
}

// Prime records where runtime writes are followed from: call it before
// the state is loaded from the store, so that a write between the two is
// followed again rather than missed.
func (f *Follower) Prime(ctx context.Context) error {
	seq, err := f.Repl.RuntimeSeq(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.runtimeSeq, f.primed = seq, true
	f.mu.Unlock()
	return nil
}

// CatchUp serves what the store holds that this replica does not: the
// leader's newest revision (unless this replica leads) and every runtime
// write since the last one followed.
func (f *Follower) CatchUp(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	if f.Leads == nil || !f.Leads() {
		errs = append(errs, f.revisions(ctx))
	}
	errs = append(errs, f.runtimes(ctx))
	return errors.Join(errs...)
}

func (f *Follower) revisions(ctx context.Context) error {
	for range 3 {
		served := f.Holder.Load()
		if served.Loaded() && served.Seq == 0 && f.Restore != nil {
			// Built by this replica's own reconciles when it led.
			if err := f.Restore(ctx); err != nil {
				return err
			}
			continue
		}
		ch, err := f.Repl.ChangesSince(ctx, served.Seq)
		if err != nil {
			return err
		}
		if ch.Revision.Seq <= served.Seq {
			f.Metrics.ReplicaLag(0)
			return nil
		}
		appliedAt := ch.Revision.StartedAt.Add(ch.Revision.Duration)
		f.Metrics.ReplicaLag(time.Since(appliedAt))
		err = f.Holder.Follow(ch)
		if errors.Is(err, state.ErrMovedOn) {
			continue
		}
		if err != nil {
			return err
		}
		f.Metrics.Followed(time.Since(appliedAt))
		f.Metrics.ReplicaLag(0)
		f.Log.Debug("following", "revision", ch.Revision.Revision, "objects", len(ch.Objects), "deleted", len(ch.Deleted))
		return nil
	}
	return errors.New("replica: the served state kept moving while following")
}

func (f *Follower) runtimes(ctx context.Context) error {
	rts, err := f.Repl.RuntimesSince(ctx, f.runtimeSeq)
	if err != nil {
		return err
	}
	for _, rt := range rts {
		if !f.Holder.FollowRuntime(rt) && f.Leads != nil && !f.Leads() {
			// An entity of a revision not followed yet: follow it, then
			// the write (a write for a deleted entity is dropped).
			if err := f.revisions(ctx); err != nil {
				return err
			}
			f.Holder.FollowRuntime(rt)
		}
		f.runtimeSeq = max(f.runtimeSeq, rt.Seq)
	}
	return nil
}

// Run follows until ctx ends: it listens for notifications, hands each
// to on (after following what it announces), catches up whenever it
// (re)starts listening and every Every.
func (f *Follower) Run(ctx context.Context, on func(store.Notification)) {
	every := f.Every
	if every <= 0 {
		every = 5 * time.Second
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := f.CatchUp(ctx); err != nil && ctx.Err() == nil {
					f.Log.Warn("replica: catching up with the store", "err", err)
				}
			}
		}
	}()
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		err := f.Repl.Listen(ctx, func() {
			backoff = 0
			if err := f.CatchUp(ctx); err != nil && ctx.Err() == nil {
				f.Log.Warn("replica: catching up with the store", "err", err)
			}
		}, func(n store.Notification) {
			switch n.Kind {
			case store.NotifyRevision, store.NotifyRuntime:
				if err := f.CatchUp(ctx); err != nil && ctx.Err() == nil {
					f.Log.Warn("replica: following", "kind", n.Kind, "err", err)
				}
			}
			on(n)
		})
		if ctx.Err() != nil {
			return
		}
		backoff = min(max(2*backoff, 500*time.Millisecond), 30*time.Second)
		f.Log.Warn("replica: lost the store's notifications; listening again", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
	}
}

// Transport refuses requests made under a fence that no longer holds:
// the leader's requests to the world (a workflow dispatch, a merge, a
// webhook) are made with the term's context, and a replica that was
// paused past its lease must not send them when it wakes. The window
// between this check and the request leaving is the one that cannot be
// closed from this side; the receivers' idempotency (a run's id in the
// dispatch) covers it.
func Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return fenced{next}
}

type fenced struct{ next http.RoundTripper }

func (t fenced) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := store.FenceOf(req.Context()).Check(); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return t.next.RoundTrip(req)
}
