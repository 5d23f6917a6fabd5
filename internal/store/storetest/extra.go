package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/store"
)

var extraTests = []test{
	{"RuntimePropertiesLiveAndDieWithTheirEntity", testRuntimePropertiesLiveAndDieWithTheirEntity},
	{"AuditLogAndDeliveries", testAuditLogAndDeliveries},
	{"PruneAudit", testPruneAudit},
	{"FireTimersOnce", testFireTimersOnce},
}

func testRuntimePropertiesLiveAndDieWithTheirEntity(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	key := catalog.Key{Kind: catalog.KindEntityObj, Blueprint: "service", ID: "api"}
	create := store.Change{Key: key, Op: store.OpCreate, After: json.RawMessage(`{"identifier":"api"}`)}
	if err := s.Apply(ctx, store.Revision{Revision: "r1", Result: store.ResultApplied, StartedAt: time.Now()}, []store.Change{create}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	rt := store.Runtime{Blueprint: "service", Identifier: "api", Properties: map[string]any{"health": "Healthy", "replicas": json.Number("3")}, UpdatedAt: at, UpdatedBy: "deploy-bot"}
	if err := s.SetRuntime(ctx, rt); err != nil {
		t.Fatal(err)
	}
	missing := rt
	missing.Identifier = "nope"
	if err := s.SetRuntime(ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("runtime for a missing entity: %v", err)
	}
	got, err := s.Runtimes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Properties["health"] != "Healthy" || got[0].Properties["replicas"] != json.Number("3") || !got[0].UpdatedAt.Equal(at) || got[0].UpdatedBy != "deploy-bot" {
		t.Fatalf("runtimes: %+v", got)
	}
	obj, err := s.Get(ctx, key)
	if err != nil || obj.CreatedAt.IsZero() || !obj.CreatedAt.Equal(obj.UpdatedAt) {
		t.Fatalf("object timestamps: %+v, %v", obj, err)
	}

	del := store.Change{Key: key, Op: store.OpDelete, Before: create.After}
	if err := s.Apply(ctx, store.Revision{Revision: "r2", Result: store.ResultApplied, StartedAt: time.Now()}, []store.Change{del}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Runtimes(ctx); len(got) != 0 {
		t.Fatalf("runtime values survived their entity: %+v", got)
	}
}

func testAuditLogAndDeliveries(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		e := store.AuditEntry{At: base.Add(time.Duration(i) * time.Minute), Actor: "ci", Action: "entity.upsert", Resource: "service/api", Status: 200, Details: json.RawMessage(`{"n":1}`)}
		if err := s.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.AuditLog(ctx, 2, 0)
	if err != nil || len(page) != 2 || !page[0].At.Equal(base.Add(4*time.Minute)) {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	next, err := s.AuditLog(ctx, 10, page[1].ID)
	if err != nil || len(next) != 3 || string(next[0].Details) != `{"n":1}` {
		t.Fatalf("second page: %+v, %v", next, err)
	}

	seen, err := s.Seen(ctx, "d-1", base)
	if err != nil || seen {
		t.Fatalf("first delivery: seen=%v err=%v", seen, err)
	}
	if seen, _ := s.Seen(ctx, "d-1", base.Add(time.Minute)); !seen {
		t.Fatal("a redelivery was not recognised")
	}
	// A week later the id has been forgotten.
	s.Seen(ctx, "d-2", base.Add(8*24*time.Hour))
	if seen, _ := s.Seen(ctx, "d-1", base.Add(8*24*time.Hour)); seen {
		t.Fatal("delivery ids are never pruned")
	}
}

// testPruneAudit: the entries older than the cutoff go, the others stay.
func testPruneAudit(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	if n, err := s.PruneAudit(ctx, base); err != nil || n != 0 {
		t.Fatalf("pruning an empty log: %d, %v", n, err)
	}
	for i := range 5 {
		if err := s.Audit(ctx, store.AuditEntry{At: base.Add(time.Duration(i) * time.Hour), Actor: "ci", Action: "PATCH", Resource: "x", Status: 200}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		before     time.Time
		pruned     int64
		oldestLeft time.Time
	}{
		{base, 0, base},
		{base.Add(150 * time.Minute), 3, base.Add(3 * time.Hour)}, // 10:00, 11:00, 12:00
		{base.Add(150 * time.Minute), 0, base.Add(3 * time.Hour)},
		{base.Add(24 * time.Hour), 2, time.Time{}}, // everything
	} {
		n, err := s.PruneAudit(ctx, tt.before)
		if err != nil || n != tt.pruned {
			t.Fatalf("PruneAudit(%s) = %d, %v; want %d", tt.before.Format(time.Kitchen), n, err, tt.pruned)
		}
		left, _ := s.AuditLog(ctx, 100, 0)
		if tt.oldestLeft.IsZero() != (len(left) == 0) || len(left) > 0 && !left[len(left)-1].At.Equal(tt.oldestLeft) {
			t.Fatalf("after PruneAudit(%s): %+v", tt.before.Format(time.Kitchen), left)
		}
	}
}

func testFireTimersOnce(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	due := []store.Timer{
		{Blueprint: "environment", Identifier: "pr-1", Property: "ttl", ExpiresAt: "2026-11-22T11:00:00Z"},
		{Blueprint: "environment", Identifier: "pr-2", Property: "ttl", ExpiresAt: "2026-11-22T11:30:00Z"},
	}
	deliveries := func(fired []store.Timer) ([]record.Delivery, error) {
		var ds []record.Delivery
		for _, f := range fired {
			ds = append(ds, record.Delivery{ID: f.Identifier, Subscription: "s", URL: "http://127.0.0.1:1/", Event: "TIMER_PROPERTY_EXPIRED", Body: json.RawMessage(`{}`), NextAt: at, CreatedAt: at})
		}
		return ds, nil
	}
	fired, err := s.FireTimers(ctx, due, at, deliveries)
	if err != nil || len(fired) != 2 {
		t.Fatalf("first: %v %v", fired, err)
	}
	// Again, with one new expiry (the timer was extended and expired anew).
	due = append(due, store.Timer{Blueprint: "environment", Identifier: "pr-1", Property: "ttl", ExpiresAt: "2026-11-22T11:45:00Z"})
	fired, err = s.FireTimers(ctx, due, at, deliveries)
	if err != nil || len(fired) != 1 || fired[0].ExpiresAt != "2026-11-22T11:45:00Z" {
		t.Fatalf("second: %v %v", fired, err)
	}
	ds, _ := s.Deliveries(ctx, 10, "")
	if len(ds) != 2 { // pr-1's second delivery has the same id as its first
		t.Fatalf("%d deliveries queued", len(ds))
	}
	// A failing delivery builder records nothing.
	due = []store.Timer{{Blueprint: "environment", Identifier: "pr-3", Property: "ttl", ExpiresAt: "2026-11-22T11:50:00Z"}}
	if _, err := s.FireTimers(ctx, due, at, func([]store.Timer) ([]record.Delivery, error) { return nil, errors.New("boom") }); err == nil {
		t.Fatal("a failing builder was ignored")
	}
	if fired, _ := s.FireTimers(ctx, due, at, deliveries); len(fired) != 1 {
		t.Fatalf("pr-3 was recorded despite the failure: %v", fired)
	}
}
