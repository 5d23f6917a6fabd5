package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/store/postgres"
	"github.com/pierhq/pier/internal/store/postgres/pgtest"
)

// replicas opens n stores on one fresh schema, as n replicas would.
func replicas(t *testing.T, n int, idle time.Duration) []*postgres.Store {
	t.Helper()
	url := pgtest.URL(t)
	out := make([]*postgres.Store, n)
	for i := range out {
		s, err := postgres.Open(context.Background(), url, postgres.AsReplica(fmt.Sprintf("replica-%d", i), idle))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out[i] = s
	}
	return out
}

func take(t *testing.T, s *postgres.Store, holder string, ttl time.Duration) (store.Lease, bool) {
	t.Helper()
	l, held, err := s.TakeLease(context.Background(), holder, holder+":8080", ttl)
	if err != nil {
		t.Fatal(err)
	}
	return l, held
}

// fenced is a context carrying the fence of lease l.
func fenced(l store.Lease) context.Context {
	return store.WithFence(context.Background(), store.NewFence(l.Holder, l.Epoch, time.Now().Add(time.Hour)))
}

func entityChange(id string, op store.Op, title string) store.Change {
	c := store.Change{Key: catalog.Key{Kind: catalog.KindEntityObj, Blueprint: "service", ID: id}, Op: op}
	if op != store.OpDelete {
		c.After = json.RawMessage(fmt.Sprintf(`{"identifier":%q,"blueprint":"service","title":%q}`, id, title))
	}
	return c
}

func apply(ctx context.Context, s *postgres.Store, rev string, changes ...store.Change) error {
	return s.Apply(ctx, store.Revision{Revision: rev, Result: store.ResultApplied, StartedAt: time.Now()}, changes)
}

func TestLease(t *testing.T) {
	rs := replicas(t, 2, time.Second)
	a, b := rs[0], rs[1]
	ctx := context.Background()
	if _, err := a.Lease(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("lease before anyone took it: %v, want ErrNotFound", err)
	}
	const ttl = 400 * time.Millisecond
	la, held := take(t, a, "a", ttl)
	if !held || la.Epoch != 1 || la.Holder != "a" || la.Addr != "a:8080" || !la.Live() {
		t.Fatalf("first take: %+v held=%v, want a's at epoch 1", la, held)
	}
	lb, held := take(t, b, "b", ttl)
	if held || lb.Holder != "a" || lb.Epoch != 1 {
		t.Fatalf("take of a live lease: %+v held=%v, want a's, not held", lb, held)
	}
	renewed, held := take(t, a, "a", ttl)
	if !held || renewed.Epoch != 1 || !renewed.ExpiresAt.After(la.ExpiresAt) {
		t.Fatalf("renewal: %+v held=%v, want epoch 1 expiring after %v", renewed, held, la.ExpiresAt)
	}
	time.Sleep(ttl + 100*time.Millisecond)
	if l, err := b.Lease(ctx); err != nil || l.Live() {
		t.Fatalf("lapsed lease reads %+v live=%v (%v)", l, l.Live(), err)
	}
	lb, held = take(t, b, "b", ttl)
	if !held || lb.Epoch != 2 || lb.Holder != "b" {
		t.Fatalf("take of a lapsed lease: %+v held=%v, want b's at epoch 2", lb, held)
	}
	if l, held := take(t, a, "a", ttl); held || l.Holder != "b" {
		t.Fatalf("old holder renews: %+v held=%v, want b's, not held", l, held)
	}
	// Releasing hands over at once, at the next epoch.
	if err := b.ReleaseLease(ctx, "b", 2); err != nil {
		t.Fatal(err)
	}
	if l, held := take(t, a, "a", ttl); !held || l.Epoch != 3 {
		t.Fatalf("take after release: %+v held=%v, want a's at epoch 3", l, held)
	}
}

// TestFence: the writes of a leader whose lease changed hands fail and
// leave nothing; those of the new leader land.
func TestFence(t *testing.T) {
	rs := replicas(t, 2, time.Second)
	a, b := rs[0], rs[1]
	ctx := context.Background()
	const ttl = 300 * time.Millisecond
	la, _ := take(t, a, "a", ttl)
	if err := apply(fenced(la), a, "r1", entityChange("one", store.OpCreate, "One")); err != nil {
		t.Fatalf("the leader's write: %v", err)
	}
	if err := apply(ctx, a, "r2"); err == nil {
		t.Fatal("a leader-only write without a fence was accepted")
	}
	time.Sleep(ttl + 50*time.Millisecond)
	lb, held := take(t, b, "b", ttl)
	if !held {
		t.Fatal("b could not take the lapsed lease")
	}
	err := apply(fenced(la), a, "r2", entityChange("two", store.OpCreate, "Two"))
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("the old leader's write: %v, want ErrFenced", err)
	}
	if err := a.MarkDelivered(fenced(la), "nothing", time.Now(), 200); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("the old leader's outbox mark: %v, want ErrFenced", err)
	}
	if err := apply(fenced(lb), b, "r3", entityChange("three", store.OpCreate, "Three")); err != nil {
		t.Fatalf("the new leader's write: %v", err)
	}
	st, err := b.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := range st.Objects {
		got = append(got, k.ID)
	}
	slices.Sort(got)
	if st.Revision != "r3" || !slices.Equal(got, []string{"one", "three"}) {
		t.Fatalf("state %s with %v, want r3 with [one three]", st.Revision, got)
	}
	// A fence its holder's clock says may have lapsed is refused before
	// the store is asked.
	stale := store.WithFence(ctx, store.NewFence("b", lb.Epoch, time.Now().Add(-time.Millisecond)))
	if err := apply(stale, b, "r4"); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("a write under a lapsed fence: %v, want ErrFenced", err)
	}
}

// TestTakeoverWaitsForTheLeadersTransaction: a write under the old epoch
// that has begun lands before the lease changes hands, never after; one
// whose writer stalls in the middle (a paused process) is ended by the
// server after the idle timeout, writes nothing, and lets the takeover
// through.
func TestTakeoverWaitsForTheLeadersTransaction(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stall time.Duration // how long the leader's write waits inside its transaction
		lands bool
	}{
		{"a slow write lands first", 300 * time.Millisecond, true},
		{"a stalled write is rolled back", 3 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := replicas(t, 2, time.Second)
			a, b := rs[0], rs[1]
			const ttl = 200 * time.Millisecond
			la, _ := take(t, a, "a", ttl)
			inside := make(chan struct{})
			done := make(chan error, 1)
			var took, tookWhileOpen atomic.Bool
			go func() {
				_, err := a.FireTimers(fenced(la), []store.Timer{{Blueprint: "service", Identifier: "x", Property: "p", ExpiresAt: "2026-01-01T00:00:00Z"}},
					time.Now(), func([]store.Timer) ([]record.Delivery, error) {
						close(inside)
						time.Sleep(tc.stall)
						tookWhileOpen.Store(took.Load())
						return nil, nil
					})
				done <- err
			}()
			<-inside
			time.Sleep(ttl + 50*time.Millisecond) // the lease lapses while the write is open
			go func() {
				for !took.Load() {
					if _, held, _ := b.TakeLease(context.Background(), "b", "b:8080", time.Minute); held {
						took.Store(true)
					}
				}
			}()
			err := <-done
			if tc.lands != (err == nil) {
				t.Fatalf("the old leader's write: %v, want landed=%v", err, tc.lands)
			}
			if tc.lands && tookWhileOpen.Load() {
				t.Fatal("b took the lease while the old leader's write was open")
			}
			deadline := time.Now().Add(10 * time.Second)
			for !took.Load() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if !took.Load() {
				t.Fatal("b never took the lease")
			}
			// Fired once at most: b firing the same timer finds it fired
			// exactly when a's write landed.
			lb, _ := b.Lease(context.Background())
			fired, err := b.FireTimers(fenced(lb), []store.Timer{{Blueprint: "service", Identifier: "x", Property: "p", ExpiresAt: "2026-01-01T00:00:00Z"}},
				time.Now(), func([]store.Timer) ([]record.Delivery, error) { return nil, nil })
			if err != nil {
				t.Fatal(err)
			}
			if (len(fired) == 0) != tc.lands {
				t.Fatalf("the new leader fired %v; the old one's write landed=%v", fired, tc.lands)
			}
		})
	}
}

// TestFollow: what replicas read to follow the leader — changed and
// deleted objects since a revision, runtime writes since a number — and
// the notifications that wake them, sent when the writes commit.
func TestFollow(t *testing.T) {
	rs := replicas(t, 2, time.Second)
	leader, follower := rs[0], rs[1]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	notes := make(chan store.Notification, 16)
	listening := make(chan struct{})
	go follower.Listen(ctx, func() { close(listening) }, func(n store.Notification) { notes <- n })
	<-listening
	next := func(kind string) store.Notification {
		t.Helper()
		for {
			select {
			case n := <-notes:
				if n.Kind == kind {
					return n
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no %s notification", kind)
			}
		}
	}
	l, _ := take(t, leader, "leader", time.Minute)
	lctx := fenced(l)
	if err := apply(lctx, leader, "r1", entityChange("a", store.OpCreate, "A"), entityChange("b", store.OpCreate, "B")); err != nil {
		t.Fatal(err)
	}
	n := next(store.NotifyRevision)
	if n.From != "replica-0" || n.Seq == 0 {
		t.Fatalf("revision notification %+v", n)
	}
	first := n.Seq
	if err := apply(lctx, leader, "r2", entityChange("a", store.OpUpdate, "A2"), entityChange("b", store.OpDelete, "")); err != nil {
		t.Fatal(err)
	}
	if err := apply(lctx, leader, "r3", entityChange("b", store.OpCreate, "B again"), entityChange("c", store.OpCreate, "C")); err != nil {
		t.Fatal(err)
	}
	if err := apply(lctx, leader, "r4", entityChange("c", store.OpDelete, "")); err != nil {
		t.Fatal(err)
	}
	ch, err := follower.ChangesSince(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	var written, deleted []string
	for _, o := range ch.Objects {
		written = append(written, o.Key.ID+"="+string(o.JSON))
	}
	for _, k := range ch.Deleted {
		deleted = append(deleted, k.ID)
	}
	slices.Sort(written)
	want := []string{
		`a={"identifier":"a","blueprint":"service","title":"A2"}`,
		`b={"identifier":"b","blueprint":"service","title":"B again"}`,
	}
	if ch.Revision.Revision != "r4" || !slices.Equal(written, want) || !slices.Equal(deleted, []string{"c"}) {
		t.Fatalf("changes since r1: %s, written %v, deleted %v", ch.Revision.Revision, written, deleted)
	}
	if ch, err := follower.ChangesSince(ctx, ch.Revision.Seq); err != nil || len(ch.Objects)+len(ch.Deleted) != 0 {
		t.Fatalf("changes since the newest: %+v, %v", ch, err)
	}

	// Runtime writes, from any replica, without a fence.
	before, err := follower.RuntimeSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []struct {
		id    string
		props map[string]any
	}{{"a", map[string]any{"health": "ok"}}, {"b", map[string]any{"health": "down"}}, {"a", nil}} {
		if err := follower.SetRuntime(ctx, store.Runtime{Blueprint: "service", Identifier: w.id, Properties: w.props, UpdatedAt: time.Now(), UpdatedBy: "ci"}); err != nil {
			t.Fatal(err)
		}
		if n := next(store.NotifyRuntime); n.ID != w.id || n.From != "replica-1" {
			t.Fatalf("runtime notification %d: %+v", i, n)
		}
	}
	rts, err := leader.RuntimesSince(ctx, before)
	if err != nil {
		t.Fatal(err)
	}
	if len(rts) != 2 || rts[0].Identifier != "b" || rts[0].Properties["health"] != "down" ||
		rts[1].Identifier != "a" || rts[1].Properties != nil || rts[0].Seq >= rts[1].Seq {
		t.Fatalf("runtime changes: %+v, want b's value, then a's clearing", rts)
	}
	if n, _ := leader.RuntimeSeq(ctx); n != rts[1].Seq {
		t.Fatalf("runtime sequence %d, want %d", n, rts[1].Seq)
	}
}
