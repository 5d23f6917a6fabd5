package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/pierhq/pier/internal/api"
	"github.com/pierhq/pier/internal/replica"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/reconciler"
)

// replicas is the daemon's side of sharing a PostgreSQL store with other
// pier serve processes: the lease it campaigns for, the state it
// follows, and the hand-over of work only the leader does. On SQLite it
// is the zero value: one process, always the leader, no fence.
type replicas struct {
	repl     store.Replication
	self     string
	elector  *replica.Elector
	follower *replica.Follower

	mu   sync.Mutex
	term context.Context // the leader's term, nil while following
}

// replicaID names this process in the lease: the host and process id
// for people, a random part so that a restarted process is never taken
// for the one before it.
func replicaID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// setupReplicas wires the elector and the follower when the store is
// shared; it runs before the state is restored.
func (d *daemon) setupReplicas(ctx context.Context) error {
	r, ok := d.store.(store.Replication)
	if !ok {
		return nil
	}
	d.rep.repl = r
	wake := make(chan struct{}, 1)
	d.rep.elector = &replica.Elector{
		Leases: r, Holder: d.rep.self, Addr: d.publicURL(), TTL: d.cfg.LeaderLease,
		Log: d.log.With("component", "leader"), Metrics: d.metrics, Wake: wake,
	}
	d.rep.follower = &replica.Follower{
		Repl: r, Holder: d.holder, Leads: d.leads, Restore: d.restore,
		Log: d.log.With("component", "replica"), Metrics: d.metrics,
	}
	d.leaseReleased = wake
	return d.rep.follower.Prime(ctx)
}

// leads reports whether this replica leads now.
func (d *daemon) leads() bool {
	_, ok := d.leading(context.Background())
	return ok
}

// leading returns ctx carrying the leader's fence when this replica
// leads (the only process on SQLite always does), for work only the
// leader does: its writes are refused once the lease is lost.
func (d *daemon) leading(ctx context.Context) (context.Context, bool) {
	if d.rep.repl == nil {
		return ctx, true
	}
	d.rep.mu.Lock()
	term := d.rep.term
	d.rep.mu.Unlock()
	if term == nil || term.Err() != nil {
		return ctx, false
	}
	f := store.FenceOf(term)
	if !f.Held() {
		return ctx, false
	}
	return store.WithFence(ctx, f), true
}

// leaderFence is the runs engine's view of leading.
func (d *daemon) leaderFence() (*store.Fence, bool) {
	ctx, ok := d.leading(context.Background())
	return store.FenceOf(ctx), ok
}

// asLeader wraps a scheduled job that only the leader runs.
func (d *daemon) asLeader(job func(context.Context)) func(context.Context) {
	return func(ctx context.Context) {
		if ctx, ok := d.leading(ctx); ok {
			job(ctx)
		}
	}
}

// lead is one term of leadership: the reconcile loop, the outbox and a
// sweep of unfinished runs (a dispatch the previous leader was
// interrupted in is found as after a restart), until the term ends.
func (d *daemon) lead(term context.Context) {
	if f := d.rep.follower; f != nil {
		// Serve what the previous leader applied before reconciling on
		// top of it.
		d.rep.mu.Lock()
		d.rep.term = nil
		d.rep.mu.Unlock()
		if err := f.CatchUp(term); err != nil && term.Err() == nil {
			d.log.Warn("leading: catching up with the store", "err", err)
		}
	}
	d.rep.mu.Lock()
	d.rep.term = term
	d.rep.mu.Unlock()
	defer func() {
		d.rep.mu.Lock()
		d.rep.term = nil
		d.rep.mu.Unlock()
	}()
	var wg sync.WaitGroup
	wg.Go(func() { d.loop.Run(term) })
	wg.Go(func() { d.outbox.Run(term) })
	wg.Go(func() { d.runs.tick(term) })
	if d.prune != nil && d.rep.repl != nil {
		wg.Go(func() { d.pruneAudit(term) }) // on SQLite, run pruned before serving
	}
	wg.Wait()
}

// onNotification routes what another replica announced.
func (d *daemon) onNotification(n store.Notification) {
	leads := d.leads()
	switch n.Kind {
	case store.NotifyRun:
		if leads {
			d.runs.engine.Kick(n.ID)
		}
	case store.NotifyPush:
		if leads {
			d.loop.Trigger()
		}
	case store.NotifyReconcile:
		if leads {
			d.loop.Force()
		}
	case store.NotifyOutbox:
		if leads {
			d.outbox.Notify()
		}
	case store.NotifyMembership:
		if n.From != d.rep.self && d.directory != nil {
			d.directory.Forget(n.ID)
		}
	case store.NotifyLease:
		select {
		case d.leaseReleased <- struct{}{}:
		default:
		}
	}
}

// tell announces n to the other replicas; a lost notification only
// delays (the leader's sweeps and polls find the work).
func (d *daemon) tell(n store.Notification) {
	if d.rep.repl == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.rep.repl.Notify(ctx, n); err != nil {
		d.log.Warn("replica: could not notify the other replicas", "kind", n.Kind, "err", err)
	}
}

// deliveriesWritten wakes whoever delivers: this replica's outbox when it
// leads, the leader's otherwise.
func (d *daemon) deliveriesWritten() {
	if d.leads() {
		d.outbox.Notify()
		return
	}
	go d.tell(store.Notification{Kind: store.NotifyOutbox})
}

// reconcileNow is POST /v1/reconcile and SIGHUP.
func (d *daemon) reconcileNow() {
	if d.leads() {
		d.loop.Force()
		return
	}
	d.tell(store.Notification{Kind: store.NotifyReconcile})
}

// reconcileStatus is /v1/status's reconcile status: the loop's on the
// leader; on a follower, the revision it serves as the leader applied it.
func (d *daemon) reconcileStatus() reconciler.Status {
	if d.leads() {
		return d.loop.Status()
	}
	snap := d.holder.Load()
	st := d.loop.Status()
	st.LastAppliedRevision, st.LastAppliedAt = snap.Revision, snap.AppliedAt
	return st
}

// replicaStatus says who leads, for /readyz and /v1/status.
func (d *daemon) replicaStatus() *api.ReplicaStatus {
	if d.rep.repl == nil {
		return nil
	}
	lease, _ := d.rep.elector.Lease()
	rs := &api.ReplicaStatus{Self: d.rep.self, Leads: d.leads(), Leader: lease.Holder, LeaderAddr: lease.Addr, Epoch: lease.Epoch}
	if !lease.ExpiresAt.IsZero() {
		rs.LeaseExpiresAt = lease.ExpiresAt
	}
	return rs
}

// fencedClient is c with requests made under a lapsed fence refused (see
// replica.Transport): what the leader sends to the world.
func fencedClient(c *http.Client) *http.Client {
	cc := *c
	cc.Transport = replica.Transport(c.Transport)
	return &cc
}
