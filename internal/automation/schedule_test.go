package automation

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/runs"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/store/sqlite"
	"github.com/pierhq/pier/reconciler"
)

// requests records run requests, refusing a second one with the same key
// as the store does.
type requests struct {
	mu   sync.Mutex
	keys []string
	reqs []runs.Request
}

func (r *requests) Request(_ context.Context, req runs.Request) (store.Run, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.keys, req.RequestKey) {
		r.keys = append(r.keys, req.RequestKey)
		r.reqs = append(r.reqs, req)
	}
	return store.Run{ID: "r_x"}, nil
}

func snapshot(t *testing.T, files map[string]string) func() *state.Snapshot {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(dir+"/"+name, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := sqlite.Open(context.Background(), t.TempDir()+"/pier.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, _ := loader.New(1)
	res, err := reconciler.New(l, st, nil, reconciler.Options{}).Reconcile(context.Background(), reconciler.Revision{ID: "r1", FS: os.DirFS(dir)})
	if err != nil || res.Outcome == reconciler.Failed {
		t.Fatalf("reconcile: %v %v", err, res.Diagnostics)
	}
	h := state.NewHolder()
	h.Publish(state.FromResult(res))
	return h.Load
}

func TestScheduler(t *testing.T) {
	snap := snapshot(t, map[string]string{"c.cue": `
blueprints: environment: {title: "Env", schema: properties: type: {type: "string"}}
entities: environment: {a: properties: type: "ephemeral", b: properties: type: "production", c: properties: type: "ephemeral"}
actions: nightly_report: {
	trigger: {type: "self-service", operation: "CREATE"}
	invocationMethod: {type: "WEBHOOK", url: "https://x"}
	schedule: "0 2 * * *"
}
actions: cleanup: {
	trigger: {type: "self-service", operation: "DAY-2", blueprintIdentifier: "environment",
		condition: {type: "SEARCH", combinator: "and", rules: [{property: "type", operator: "=", value: "ephemeral"}]}}
	invocationMethod: {type: "WEBHOOK", url: "https://x"}
	schedule: "*/30 * * * *"
}
actions: manual: {trigger: {type: "self-service", operation: "CREATE"}, invocationMethod: {type: "WEBHOOK", url: "https://x"}}
`})
	now := time.Date(2026, 11, 22, 1, 50, 0, 0, time.UTC)
	rq := &requests{}
	s := &Scheduler{Catalog: snap, Runs: rq, Logger: discard(), Now: func() time.Time { return now }}
	s.Tick(context.Background()) // first sight: counts from now
	if len(rq.reqs) != 0 {
		t.Fatalf("fired at first sight: %v", rq.keys)
	}
	now = now.Add(5 * time.Minute) // 01:55
	s.Tick(context.Background())
	if len(rq.reqs) != 0 {
		t.Fatalf("fired early: %v", rq.keys)
	}
	now = now.Add(6 * time.Minute) // 02:01: cleanup's 02:00 and the report's 02:00
	s.Tick(context.Background())
	s.Tick(context.Background()) // the same slot again: nothing
	want := []string{
		"schedule:cleanup:2026-11-22T02:00:00Z:a", "schedule:cleanup:2026-11-22T02:00:00Z:c",
		"schedule:nightly_report:2026-11-22T02:00:00Z",
	}
	if !slices.Equal(rq.keys, want) {
		t.Fatalf("keys %v, want %v", rq.keys, want)
	}
	for _, r := range rq.reqs {
		if r.Requester != "schedule" || r.Source != "schedule" {
			t.Fatalf("request %+v", r)
		}
	}
	// Down for hours: only the latest missed slot fires.
	now = now.Add(3 * time.Hour) // 05:01
	s.Tick(context.Background())
	if got := rq.keys[len(rq.keys)-1]; got != "schedule:cleanup:2026-11-22T05:00:00Z:c" || len(rq.keys) != 5 {
		t.Fatalf("after a gap: %v", rq.keys)
	}
}

// A trigger condition that does not compile (the loader refuses it, so
// only a bug gets here) selects no entity rather than every one.
func TestSchedulerRefusesABrokenCondition(t *testing.T) {
	snap := snapshot(t, map[string]string{"c.cue": `
blueprints: environment: {title: "Env", schema: properties: type: {type: "string"}}
entities: environment: {a: properties: type: "ephemeral", b: properties: type: "production"}
actions: cleanup: {
	trigger: {type: "self-service", operation: "DAY-2", blueprintIdentifier: "environment",
		condition: {type: "SEARCH", combinator: "and", rules: [{property: "type", operator: "=", value: "ephemeral"}]}}
	invocationMethod: {type: "WEBHOOK", url: "https://x"}
	schedule: "*/30 * * * *"
}
`})
	broken := *snap().Actions["cleanup"]
	broken.Trigger.Condition = []byte(`{"combinator": "xor", "rules": []}`)
	snap().Actions["cleanup"] = &broken
	now := time.Date(2026, 11, 22, 1, 50, 0, 0, time.UTC)
	rq := &requests{}
	s := &Scheduler{Catalog: snap, Runs: rq, Logger: discard(), Now: func() time.Time { return now }}
	s.Tick(context.Background())
	now = now.Add(15 * time.Minute) // 02:05: the 02:00 slot
	s.Tick(context.Background())
	if len(rq.reqs) != 0 {
		t.Fatalf("a broken condition selected %v", rq.keys)
	}
}
