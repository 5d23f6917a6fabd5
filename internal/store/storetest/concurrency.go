package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/store"
)

// The tests in this file race writers that the daemon (and, on a shared
// database, its replicas) may run at once, and check that the store's
// guarantees hold whoever wins.

var concurrencyTests = []test{
	{"ConcurrentCreateRunSameKey", testConcurrentCreateRunSameKey},
	{"ConcurrentUpdateRun", testConcurrentUpdateRun},
	{"ConcurrentSeen", testConcurrentSeen},
	{"ConcurrentFireTimers", testConcurrentFireTimers},
	{"SetRuntimeRacesDelete", testSetRuntimeRacesDelete},
}

const racers = 8

// race runs f(i) for i in [0, racers) at once and returns their errors.
func race(f func(i int) error) []error {
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// testConcurrentCreateRunSameKey: of several requests with one key (the
// same pull request seen by two webhooks), one makes the run and the
// others find it.
func testConcurrentCreateRunSameKey(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	created := make([]bool, racers)
	found := make([]string, racers)
	errs := race(func(i int) error {
		r := store.Run{ID: fmt.Sprint("r", i), Action: "deploy", Status: store.RunWaitingForApproval, RequestKey: "pr:7", CreatedAt: t0}
		got, c, err := s.CreateRun(ctx, r, runEvent(t0, "", r.Status), []record.Delivery{delivery(fmt.Sprint("d", i), t0)})
		created[i], found[i] = c, got.ID
		return err
	})
	n := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("CreateRun %d: %v", i, err)
		}
		if created[i] {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d runs created, want 1", n)
	}
	runs, err := s.Runs(ctx, store.RunFilter{})
	if err != nil || len(runs) != 1 {
		t.Fatalf("Runs = %v, %v; want one", runIDs(runs), err)
	}
	for i, id := range found {
		if id != runs[0].ID {
			t.Errorf("CreateRun %d returned run %q, want %q", i, id, runs[0].ID)
		}
	}
	if ds, err := s.Deliveries(ctx, 100, ""); err != nil || len(ds) != 1 {
		t.Errorf("Deliveries = %v, %v; want the winner's one", ids(ds), err)
	}
}

// testConcurrentUpdateRun: writers that read the same version conflict
// but one; writers that retry on conflict all land, each once, with
// their events numbered without gaps or repeats.
func testConcurrentUpdateRun(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	read := createRun(t, s, store.Run{ID: "r1", Action: "deploy", Status: store.RunInProgress, CreatedAt: t0})

	errs := race(func(i int) error {
		r := read
		r.Summary = fmt.Sprint("writer ", i)
		ev := runEvent(t0, r.Status, r.Status)
		_, err := s.UpdateRun(ctx, r, &ev, nil)
		return err
	})
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("UpdateRun %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d writers of one version won, want 1", won)
	}

	const each = 5
	errs = race(func(i int) error {
		for range each {
			for {
				r, err := s.Run(ctx, "r1")
				if err != nil {
					return err
				}
				ev := runEvent(t0, r.Status, r.Status)
				ev.Note = fmt.Sprint("writer ", i)
				if _, err = s.UpdateRun(ctx, r, &ev, nil); err == nil {
					break
				} else if !errors.Is(err, store.ErrConflict) {
					return err
				}
			}
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	r, err := s.Run(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(2 + racers*each); r.Version != want {
		t.Errorf("Version = %d, want %d", r.Version, want)
	}
	evs := runEvents(t, s, "r1")
	if len(evs) != 2+racers*each {
		t.Errorf("%d events, want %d", len(evs), 2+racers*each)
	}
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
	}
}

// testConcurrentSeen: of several deliveries of one webhook at once, one
// is new.
func testConcurrentSeen(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	seen := make([]bool, racers)
	errs := race(func(i int) (err error) {
		seen[i], err = s.Seen(ctx, "delivery-1", t0)
		return err
	})
	fresh := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("Seen %d: %v", i, err)
		}
		if !seen[i] {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d calls saw the delivery first, want 1", fresh)
	}
}

// testConcurrentFireTimers: an expiry checked by several at once is
// announced once.
func testConcurrentFireTimers(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	due := []store.Timer{
		{Blueprint: "environment", Identifier: "pr-1", Property: "ttl", ExpiresAt: "2026-11-22T11:00:00Z"},
		{Blueprint: "environment", Identifier: "pr-2", Property: "ttl", ExpiresAt: "2026-11-22T11:00:00Z"},
	}
	var mu sync.Mutex
	fired := map[string]int{}
	errs := race(func(i int) error {
		got, err := s.FireTimers(ctx, due, t0, func(f []store.Timer) ([]record.Delivery, error) {
			var ds []record.Delivery
			for _, tm := range f {
				ds = append(ds, delivery(fmt.Sprint(tm.Identifier, "-by-", i), t0))
			}
			return ds, nil
		})
		mu.Lock()
		for _, tm := range got {
			fired[tm.Identifier]++
		}
		mu.Unlock()
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("FireTimers %d: %v", i, err)
		}
	}
	if fired["pr-1"] != 1 || fired["pr-2"] != 1 {
		t.Errorf("fired %v, want each once", fired)
	}
	if ds, err := s.Deliveries(ctx, 100, ""); err != nil || len(ds) != 2 {
		t.Errorf("Deliveries = %v, %v; want one per expiry", ids(ds), err)
	}
}

// testSetRuntimeRacesDelete: a runtime write racing the revision that
// deletes its entity either fails with ErrNotFound or lands before the
// delete, which then drops it: it never outlives the entity.
func testSetRuntimeRacesDelete(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	const rounds = 30
	body := doc(`{"identifier":"e"}`)
	for i := range rounds {
		k := entityKey("service", fmt.Sprint("e", i))
		apply(t, s, applied(fmt.Sprint("create ", i)), create(k, body))
		var wg sync.WaitGroup
		var setErr, delErr error
		wg.Go(func() {
			setErr = s.SetRuntime(ctx, store.Runtime{Blueprint: k.Blueprint, Identifier: k.ID,
				Properties: map[string]any{"health": "Healthy"}, UpdatedAt: t0, UpdatedBy: "bot"})
		})
		wg.Go(func() { delErr = s.Apply(ctx, applied(fmt.Sprint("delete ", i)), []store.Change{del(k, body)}) })
		wg.Wait()
		if delErr != nil {
			t.Fatal(delErr)
		}
		if setErr != nil && !errors.Is(setErr, store.ErrNotFound) {
			t.Fatalf("round %d: SetRuntime: %v", i, setErr)
		}
	}
	rts, err := s.Runtimes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range rts {
		t.Errorf("runtime values of deleted entity %s/%s", rt.Blueprint, rt.Identifier)
	}
}
