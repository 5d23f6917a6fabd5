// Package storetest is the contract of store.Backend as tests: one suite
// that every implementation runs (sqlite and postgres from their own
// test packages), so that the daemon finds the same guarantees whichever
// store --db picks. What only one store has (SQLite's query plans and
// file-level migrations, PostgreSQL's migration lock) is tested beside it.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

// Driver is one store implementation under test.
type Driver struct {
	// Fresh returns where a new, empty store can be opened (a file path,
	// a database URL); every call names another.
	Fresh func(t testing.TB) string
	// Open opens the store at where, creating it or bringing its schema
	// up to date, with now as the clock of entity history and object
	// timestamps (nil: time.Now).
	Open func(ctx context.Context, where string, now func() time.Time) (store.Backend, error)
	// Precision is the resolution the store keeps times at: every time
	// reads back in UTC, truncated to it.
	Precision time.Duration
}

// Run runs the contract suite against d.
func Run(t *testing.T, d Driver) {
	h := &harness{Driver: d}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, h) })
	}
}

type test struct {
	name string
	f    func(t *testing.T, h *harness)
}

// tests are the suite, in groups: state, runs, outbox, the rest,
// people, copy, concurrency.
var tests = concat(stateTests, runTests, outboxTests, extraTests, peopleTests, textTests, copyTests, concurrencyTests)

func concat(groups ...[]test) []test {
	var out []test
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

type harness struct{ Driver }

// t0 is the fixed clock the tests run on, with nanoseconds and a non-UTC
// zone so that time round trips are really tested.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))

// at is t as the store reads it back.
func (h *harness) at(t time.Time) time.Time {
	return t.UTC().Truncate(h.Precision)
}

// open opens the store at where on the t0 clock, closed at the end of
// the test.
func (h *harness) open(t testing.TB, where string) store.Backend {
	t.Helper()
	s, err := h.Open(context.Background(), where, func() time.Time { return t0 })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// openUnclosed opens the store at where for a test that closes it.
func (h *harness) openUnclosed(t testing.TB, where string) store.Backend {
	t.Helper()
	s, err := h.Open(context.Background(), where, func() time.Time { return t0 })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// new opens a fresh store.
func (h *harness) new(t testing.TB) store.Backend {
	t.Helper()
	return h.open(t, h.Fresh(t))
}

func entityKey(bp, id string) catalog.Key {
	return catalog.Key{Kind: catalog.KindEntityObj, Blueprint: bp, ID: id}
}

func doc(format string, args ...any) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(format, args...))
}

func create(k catalog.Key, js json.RawMessage) store.Change {
	return store.Change{Key: k, Op: store.OpCreate, After: js, Hash: catalog.HashJSON(js),
		Source: catalog.Pos{File: "catalog/" + k.ID + ".cue", Line: 3, Col: 1}}
}

func update(k catalog.Key, before, after json.RawMessage) store.Change {
	return store.Change{Key: k, Op: store.OpUpdate, Before: before, After: after, Hash: catalog.HashJSON(after),
		Source: catalog.Pos{File: "catalog/" + k.ID + ".cue", Line: 7, Col: 2}}
}

func del(k catalog.Key, before json.RawMessage) store.Change {
	return store.Change{Key: k, Op: store.OpDelete, Before: before}
}

func applied(name string) store.Revision {
	return store.Revision{Revision: name, Result: store.ResultApplied, StartedAt: t0, Duration: 1500 * time.Millisecond}
}

func apply(t testing.TB, s store.Store, rev store.Revision, changes ...store.Change) {
	t.Helper()
	if err := s.Apply(context.Background(), rev, changes); err != nil {
		t.Fatal(err)
	}
}

func state(t testing.TB, s store.Store) *store.State {
	t.Helper()
	st, err := s.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// want builds the state a sequence of changes should leave behind.
func want(revision string, changes ...store.Change) *store.State {
	st := &store.State{Revision: revision, Objects: map[catalog.Key]store.Object{}}
	for _, c := range changes {
		if c.Op == store.OpDelete {
			delete(st.Objects, c.Key)
			continue
		}
		st.Objects[c.Key] = store.Object{Key: c.Key, JSON: c.After, Hash: c.Hash, Source: c.Source}
	}
	return st
}

func checkState(t *testing.T, s store.Store, want *store.State) {
	t.Helper()
	got := state(t, s)
	if got.Revision != want.Revision {
		t.Errorf("State().Revision = %q, want %q", got.Revision, want.Revision)
	}
	if len(got.Objects) != len(want.Objects) {
		t.Errorf("State() has %d objects, want %d", len(got.Objects), len(want.Objects))
	}
	for k, w := range want.Objects {
		g, ok := got.Objects[k]
		if !ok {
			t.Errorf("State() lacks %s", k)
			continue
		}
		if string(g.JSON) != string(w.JSON) || g.Hash != w.Hash || g.Source != w.Source || g.Key != w.Key {
			t.Errorf("State()[%s] = %+v (%s), want %+v (%s)", k, g, g.JSON, w, w.JSON)
		}
	}
}

var (
	bpService = catalog.Key{Kind: catalog.KindBlueprintObj, ID: "service"}
	actDeploy = catalog.Key{Kind: catalog.KindActionObj, ID: "deploy"}
	svcA      = entityKey("service", "a")
	svcB      = entityKey("service", "b")
	svcC      = entityKey("service", "c")
)
