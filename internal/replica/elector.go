// Package replica lets several pier serve share one PostgreSQL store:
// an Elector keeps the leader's lease and runs the leader's work only
// while it holds it, under a fence every write of that work is checked
// against; a Follower keeps a replica's served state up with what the
// leader applies and writes.
//
// The lease is a row with a holder, an expiry by the database's clock and
// an epoch that grows each time it changes hands (store.Leases). The
// holder renews it every third of its time to live; a replica that
// cannot renew stops leading when the lease may have lapsed by its own
// monotonic clock, before another replica may take it. A leader that was
// paused (SIGSTOP, a long pause of the machine) and wakes past its lease
// finds its fence dropped, and the store refuses its writes even if it
// did not notice: each write checks the epoch in its transaction.
package replica

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/pierhq/pier/internal/metrics"
	"github.com/pierhq/pier/internal/store"
)

// Elector campaigns for the leader's lease and runs the leader's work
// while it holds it.
type Elector struct {
	Leases store.Leases
	// Holder names this replica in the lease (host, process, a random
	// part: two processes never share it); Addr is where it serves.
	Holder, Addr string
	// TTL is how long a lease lasts without renewal: how long the others
	// wait after a leader dies before one of them leads.
	TTL     time.Duration
	Log     *slog.Logger
	Metrics *metrics.Metrics
	// Wake, when set, delivers a signal when the lease was released, so
	// that a waiting replica campaigns at once.
	Wake <-chan struct{}

	mu    sync.Mutex
	lease store.Lease
	fence *store.Fence
}

// Lease returns the lease as this replica last saw it, and whether this
// replica holds it now.
func (e *Elector) Lease() (store.Lease, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lease, e.fence != nil && e.fence.Held()
}

// Run campaigns until ctx ends. Each time the lease is this replica's it
// calls lead with a context that carries the term's fence and ends when
// the lease is lost, and waits for lead to return before campaigning
// again: the work of two terms never overlaps in this process. When ctx
// ends, a lease held is released so that another replica leads without
// waiting for it to lapse.
func (e *Elector) Run(ctx context.Context, lead func(term context.Context)) {
	every := e.TTL / 3
	var (
		fence *store.Fence
		stop  context.CancelFunc
		done  chan struct{}
	)
	end := func(kind string) {
		if fence == nil {
			return
		}
		fence.Drop()
		stop()
		<-done
		e.Log.Warn("stopped leading", "epoch", fence.Epoch, "why", kind)
		e.Metrics.LeaderTransition(kind)
		e.Metrics.Leading(false, fence.Epoch)
		e.mu.Lock()
		e.fence = nil
		e.mu.Unlock()
		fence = nil
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if fence != nil {
				epoch := fence.Epoch
				end("released")
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.TTL/3)
				if err := e.Leases.ReleaseLease(rctx, e.Holder, epoch); err != nil {
					e.Log.Warn("could not release the leader's lease; the others take it when it lapses", "err", err)
				}
				cancel()
			}
			return
		case <-done:
			// The work ended on its own (it should not): campaign again.
			end("lost")
			continue
		case <-e.Wake:
		case <-t.C:
		}
		start := time.Now()
		actx, cancel := context.WithTimeout(ctx, every)
		lease, held, err := e.Leases.TakeLease(actx, e.Holder, e.Addr, e.TTL)
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			continue
		case err != nil:
			e.Metrics.LeaseAttempt("error")
			if fence != nil && !fence.Held() {
				e.Log.Error("could not renew the leader's lease before it may have lapsed", "err", err)
				end("lost")
			} else {
				e.Log.Warn("could not reach the store for the leader's lease; trying again", "err", err)
			}
		case !held:
			e.Metrics.LeaseAttempt("lost")
			if fence != nil {
				e.Log.Error("another replica holds the leader's lease", "holder", lease.Holder, "epoch", lease.Epoch)
				end("lost")
			}
			e.Metrics.Leading(false, lease.Epoch)
		default:
			e.Metrics.LeaseAttempt("ok")
			// The lease runs from when the store wrote it, after start:
			// counting from start, this replica stops believing it
			// leads no later than the store stops saying so.
			until := start.Add(e.TTL)
			if fence != nil && fence.Epoch != lease.Epoch {
				end("lost") // it lapsed and this replica took it again
			}
			if fence == nil {
				fence = store.NewFence(e.Holder, lease.Epoch, until)
				var term context.Context
				term, stop = context.WithCancel(store.WithFence(ctx, fence))
				done = make(chan struct{})
				e.Log.Info("leading", "epoch", lease.Epoch, "lease", e.TTL)
				e.Metrics.LeaderTransition("elected")
				e.Metrics.Leading(true, lease.Epoch)
				go func(done chan struct{}) {
					defer close(done)
					lead(term)
				}(done)
				go e.watch(fence, stop)
			} else {
				fence.Extend(until)
			}
		}
		e.mu.Lock()
		if err == nil {
			e.lease = lease
		}
		e.fence = fence
		e.mu.Unlock()
		next := every
		if fence != nil {
			// Renew in time even when the attempt itself was slow, and
			// stop leading the moment the fence lapses.
			next = min(every, time.Until(start.Add(e.TTL))/2)
		}
		t.Reset(max(next, time.Millisecond))
	}
}

// watch ends the term the moment its fence stops holding, though the
// next attempt at renewing is still waiting on the store.
func (e *Elector) watch(f *store.Fence, stop context.CancelFunc) {
	for f.Held() {
		time.Sleep(20 * time.Millisecond)
	}
	stop()
}

// ErrNotLeader is the answer to work only the leader does.
var ErrNotLeader = errors.New("this replica does not lead")
