package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

var stateTests = []test{
	{"ApplyRoundTrip", testApplyRoundTrip},
	{"List", testList},
	{"ListOrderIsBytewise", testListOrderIsBytewise},
	{"History", testHistory},
	{"ApplyFailureRollsBack", testApplyFailureRollsBack},
	{"RecordFailure", testRecordFailure},
	{"TimeRoundTrip", testTimeRoundTrip},
	{"Reopen", testReopen},
	{"ConcurrentReads", testConcurrentReads},
}

func testApplyRoundTrip(t *testing.T, h *harness) {
	s := h.new(t)
	ctx := context.Background()

	if st := state(t, s); st.Revision != "" || len(st.Objects) != 0 {
		t.Fatalf("empty store: State() = %+v, want empty", st)
	}

	var all []store.Change
	steps := []struct {
		rev     store.Revision
		changes []store.Change
	}{
		{applied("r1"), []store.Change{
			create(bpService, doc(`{"identifier":"service"}`)),
			create(svcA, doc(`{"identifier":"a","v":1}`)),
			create(svcB, doc(`{"identifier":"b","v":1}`)),
			create(actDeploy, doc(`{"identifier":"deploy"}`)),
		}},
		{applied("r2"), []store.Change{
			update(svcA, doc(`{"identifier":"a","v":1}`), doc(`{"identifier":"a","v":2}`)),
			del(svcB, doc(`{"identifier":"b","v":1}`)),
			create(svcC, doc(`{"identifier":"c","v":1}`)),
			update(actDeploy, doc(`{"identifier":"deploy"}`), doc(`{"identifier":"deploy","title":"Deploy"}`)),
		}},
		{store.Revision{Revision: "r3", Result: store.ResultNoop, StartedAt: t0}, nil},
	}
	for _, step := range steps {
		apply(t, s, step.rev, step.changes...)
		all = append(all, step.changes...)
		checkState(t, s, want(step.rev.Revision, all...))
	}

	got, err := s.Get(ctx, svcA)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.JSON) != `{"identifier":"a","v":2}` || got.Source.Line != 7 {
		t.Errorf("Get(%s) = %+v (%s)", svcA, got, got.JSON)
	}
	if _, err := s.Get(ctx, svcB); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(deleted %s) error = %v, want ErrNotFound", svcB, err)
	}

	last, err := s.LastApplied(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last.Revision != "r3" || last.Result != store.ResultNoop {
		t.Errorf("LastApplied() = %+v, want r3 unchanged", last)
	}
}

func testList(t *testing.T, h *harness) {
	s := h.new(t)
	ctx := context.Background()
	var changes []store.Change
	for _, k := range []catalog.Key{
		entityKey("service", "m"), entityKey("team", "b"), entityKey("service", "a"),
		entityKey("service", "z"), entityKey("team", "a"),
		{Kind: catalog.KindBlueprintObj, ID: "team"}, {Kind: catalog.KindBlueprintObj, ID: "service"},
	} {
		changes = append(changes, create(k, doc(`{"identifier":%q}`, k.ID)))
	}
	apply(t, s, applied("r1"), changes...)

	tests := []struct {
		kind      catalog.Kind
		blueprint string
		want      []catalog.Key
	}{
		{catalog.KindEntityObj, "service", []catalog.Key{
			entityKey("service", "a"), entityKey("service", "m"), entityKey("service", "z")}},
		{catalog.KindEntityObj, "team", []catalog.Key{entityKey("team", "a"), entityKey("team", "b")}},
		{catalog.KindEntityObj, "", []catalog.Key{
			entityKey("service", "a"), entityKey("team", "a"), entityKey("team", "b"),
			entityKey("service", "m"), entityKey("service", "z")}},
		{catalog.KindEntityObj, "nope", nil},
		{catalog.KindBlueprintObj, "", []catalog.Key{
			{Kind: catalog.KindBlueprintObj, ID: "service"}, {Kind: catalog.KindBlueprintObj, ID: "team"}}},
		{catalog.KindBlueprintObj, "ignored", []catalog.Key{
			{Kind: catalog.KindBlueprintObj, ID: "service"}, {Kind: catalog.KindBlueprintObj, ID: "team"}}},
		{catalog.KindActionObj, "", nil},
	}
	for _, tt := range tests {
		objs, err := s.List(ctx, tt.kind, tt.blueprint)
		if err != nil {
			t.Fatal(err)
		}
		var got []catalog.Key
		for _, o := range objs {
			got = append(got, o.Key)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("List(%s, %q) = %v, want %v", tt.kind, tt.blueprint, got, tt.want)
		}
	}
}

// testListOrderIsBytewise: listings sort identifiers byte by byte, as
// SQLite does, whatever the collation of the database underneath.
func testListOrderIsBytewise(t *testing.T, h *harness) {
	s := h.new(t)
	ids := []string{"b", "B", "_x", "-y", "a", "Z", "é", "e"}
	var changes []store.Change
	for _, id := range ids {
		changes = append(changes, create(entityKey("service", id), doc(`{}`)))
	}
	apply(t, s, applied("r1"), changes...)
	objs, err := s.List(context.Background(), catalog.KindEntityObj, "service")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.Key.ID)
	}
	if want := []string{"-y", "B", "Z", "_x", "a", "b", "e", "é"}; !reflect.DeepEqual(got, want) {
		t.Errorf("List order = %q, want %q", got, want)
	}
}

func testHistory(t *testing.T, h *harness) {
	s := h.new(t)
	ctx := context.Background()
	v1, v2 := doc(`{"identifier":"a","v":1}`), doc(`{"identifier":"a","v":2}`)
	apply(t, s, applied("r1"), create(bpService, doc(`{}`)), create(svcA, v1))
	apply(t, s, applied("r2"), update(svcA, v1, v2), create(svcB, v1))
	apply(t, s, applied("r3"), del(svcA, v2))

	got, err := s.History(ctx, "service", "a")
	if err != nil {
		t.Fatal(err)
	}
	at := h.at(t0)
	wantHist := []store.HistoryEntry{
		{Revision: "r1", Op: store.OpCreate, After: v1, At: at},
		{Revision: "r2", Op: store.OpUpdate, Before: v1, After: v2, At: at},
		{Revision: "r3", Op: store.OpDelete, Before: v2, At: at},
	}
	if !reflect.DeepEqual(got, wantHist) {
		t.Errorf("History(service, a) =\n%+v\nwant\n%+v", got, wantHist)
	}
	if got[0].At.Location() != time.UTC {
		t.Errorf("History At location = %v, want UTC", got[0].At.Location())
	}

	// Only entities have history.
	for _, k := range []struct{ bp, id string }{{"", "service"}, {"service", "nope"}} {
		h, err := s.History(ctx, k.bp, k.id)
		if err != nil || len(h) != 0 {
			t.Errorf("History(%q, %q) = %v, %v; want none", k.bp, k.id, h, err)
		}
	}
}

func testApplyFailureRollsBack(t *testing.T, h *harness) {
	v1, v2 := doc(`{"v":1}`), doc(`{"v":2}`)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	// Each bad revision first makes changes that would succeed, so a
	// missing rollback would show up in the state, history or revisions.
	good := []store.Change{update(svcA, v1, v2), create(svcC, v1), del(svcB, v1)}
	tests := []struct {
		name     string
		ctx      context.Context
		rev      store.Revision
		bad      []store.Change
		notFound bool
	}{
		{"update missing", nil, applied("bad"), []store.Change{update(entityKey("service", "x"), v1, v2)}, true},
		{"delete missing", nil, applied("bad"), []store.Change{del(actDeploy, v1)}, true},
		{"create existing", nil, applied("bad"), []store.Change{create(bpService, v1)}, false},
		{"create twice", nil, applied("bad"), []store.Change{create(entityKey("service", "d"), v1), create(entityKey("service", "d"), v2)}, false},
		{"entity without blueprint", nil, applied("bad"), []store.Change{create(catalog.Key{Kind: catalog.KindEntityObj, ID: "x"}, v1)}, false},
		{"unknown op", nil, applied("bad"), []store.Change{{Key: svcA, Op: "upsert", After: v1}}, false},
		{"failed result", nil, store.Revision{Revision: "bad", Result: store.ResultFailed}, nil, false},
		{"cancelled context", cancelled, applied("bad"), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := h.new(t)
			ctx := context.Background()
			apply(t, s, applied("r1"), create(bpService, v1), create(svcA, v1), create(svcB, v1))
			before := state(t, s)
			revsBefore, err := s.Revisions(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}

			applyCtx := tt.ctx
			if applyCtx == nil {
				applyCtx = ctx
			}
			err = s.Apply(applyCtx, tt.rev, append(append([]store.Change{}, good...), tt.bad...))
			if err == nil {
				t.Fatal("Apply succeeded, want an error")
			}
			t.Logf("Apply error: %v", err)
			if got := errors.Is(err, store.ErrNotFound); got != tt.notFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", got, tt.notFound)
			}

			checkState(t, s, before)
			revs, err := s.Revisions(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(revs, revsBefore) {
				t.Errorf("Revisions() = %+v, want %+v", revs, revsBefore)
			}
			for _, id := range []string{"a", "b", "c", "d"} {
				h, err := s.History(ctx, "service", id)
				if err != nil {
					t.Fatal(err)
				}
				wantLen := 0
				if id == "a" || id == "b" {
					wantLen = 1
				}
				if len(h) != wantLen {
					t.Errorf("History(service, %s) has %d entries, want %d: %+v", id, len(h), wantLen, h)
				}
			}

			// The store is still usable after the failure.
			apply(t, s, applied("r2"), good...)
			checkState(t, s, want("r2", append([]store.Change{
				create(bpService, v1), create(svcA, v1), create(svcB, v1)}, good...)...))
		})
	}
}

func testRecordFailure(t *testing.T, h *harness) {
	s := h.new(t)
	ctx := context.Background()

	if _, err := s.LastApplied(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LastApplied() on an empty store: error = %v, want ErrNotFound", err)
	}

	r1 := applied("r1")
	r1.Counts = store.Counts{Created: 1, Entities: 1}
	apply(t, s, r1, create(svcA, doc(`{}`)))
	before := state(t, s)

	diags := catalog.Diagnostics{
		{Pos: catalog.Pos{File: "catalog/a.cue", Line: 4, Col: 9}, Path: "entities.service.a", Kind: catalog.KindProperty,
			Message: "lifecycle: must be one of production, staging",
			Related: []catalog.Pos{{File: "blueprints/service.cue", Line: 12}}},
		{Pos: catalog.Pos{File: "catalog/b.cue"}, Kind: catalog.KindParse, Message: "unexpected EOF"},
	}
	r2 := store.Revision{Revision: "r2", Result: store.ResultFailed, StartedAt: t0.Add(time.Minute),
		Duration: 42 * time.Millisecond, Errors: diags}
	if err := s.RecordFailure(ctx, r2); err != nil {
		t.Fatal(err)
	}
	// An empty result is recorded as failed.
	if err := s.RecordFailure(ctx, store.Revision{Revision: "r3", StartedAt: t0.Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	// A failure cannot claim to be applied.
	if err := s.RecordFailure(ctx, applied("r4")); err == nil {
		t.Error("RecordFailure(applied) succeeded, want an error")
	}

	checkState(t, s, before)
	last, err := s.LastApplied(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last.Revision != "r1" {
		t.Errorf("LastApplied() = %q, want r1", last.Revision)
	}

	revs, err := s.Revisions(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	r1.Seq, r1.StartedAt = 1, h.at(r1.StartedAt)
	r2.Seq, r2.StartedAt = 2, h.at(r2.StartedAt)
	r3 := store.Revision{Seq: 3, Revision: "r3", Result: store.ResultFailed, StartedAt: h.at(t0.Add(2 * time.Minute))}
	wantRevs := []store.Revision{r3, r2, r1}
	if !reflect.DeepEqual(revs, wantRevs) {
		t.Errorf("Revisions(0) =\n%+v\nwant\n%+v", revs, wantRevs)
	}
	if revs, err := s.Revisions(ctx, 2); err != nil || len(revs) != 2 || revs[0].Revision != "r3" {
		t.Errorf("Revisions(2) = %+v, %v; want r3, r2", revs, err)
	}
}

func testTimeRoundTrip(t *testing.T, h *harness) {
	tests := []struct {
		name string
		t    time.Time
	}{
		{"zero", time.Time{}},
		{"nanoseconds in a zone", t0},
		{"monotonic", time.Now()},
		{"before 1678", time.Date(1600, 1, 1, 0, 0, 0, 1, time.UTC)},
		{"after 2262", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
	}
	s := h.new(t)
	ctx := context.Background()
	for i, tt := range tests {
		if err := s.RecordFailure(ctx, store.Revision{Revision: tt.name, StartedAt: tt.t}); err != nil {
			t.Fatal(err)
		}
		revs, err := s.Revisions(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		got := revs[0].StartedAt
		if revs[0].Seq != int64(i+1) || got != h.at(tt.t) {
			t.Errorf("%s: StartedAt = %v, want %v", tt.name, got, h.at(tt.t))
		}
	}
}

// testReopen closes a store and opens it again: everything it held is
// there, and it numbers on after what it held.
func testReopen(t *testing.T, h *harness) {
	where := h.Fresh(t)
	ctx := context.Background()
	changes := []store.Change{create(bpService, doc(`{}`)), create(svcA, doc(`{"v":1}`))}

	s := h.openUnclosed(t, where)
	apply(t, s, applied("r1"), changes...)
	if err := s.RecordFailure(ctx, store.Revision{Revision: "r2", Errors: catalog.Diagnostics{{Kind: catalog.KindParse, Message: "x"}}}); err != nil {
		t.Fatal(err)
	}
	revsBefore, err := s.Revisions(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = h.open(t, where)
	checkState(t, s, want("r1", changes...))
	revs, err := s.Revisions(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(revs, revsBefore) {
		t.Errorf("Revisions() after reopen = %+v, want %+v", revs, revsBefore)
	}
	if hist, err := s.History(ctx, "service", "a"); err != nil || len(hist) != 1 {
		t.Errorf("History(service, a) after reopen = %+v, %v; want one entry", hist, err)
	}
	apply(t, s, applied("r3"))
	if last, err := s.LastApplied(ctx); err != nil || last.Seq != 3 {
		t.Errorf("LastApplied() after reopen = %+v, %v; want seq 3", last, err)
	}
}

// testConcurrentReads reads while revisions are applied. Every revision
// rewrites every entity with its own name, so a reader that saw part of a
// revision would find entities that disagree with each other or with the
// state's revision.
func testConcurrentReads(t *testing.T, h *harness) {
	s := h.new(t)
	ctx := context.Background()
	const entities, revisions, readers = 500, 20, 8

	body := func(rev string, i int) json.RawMessage { return doc(`{"identifier":"e%d","rev":%q}`, i, rev) }
	var changes []store.Change
	for i := range entities {
		changes = append(changes, create(entityKey("service", fmt.Sprint("e", i)), body("r0", i)))
	}
	apply(t, s, applied("r0"), changes...)

	done := make(chan struct{})
	errs := make(chan error, readers)
	var wg sync.WaitGroup
	for r := range readers {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				var err error
				switch (r + n) % 3 {
				case 0:
					var st *store.State
					if st, err = s.State(ctx); err == nil {
						for k, o := range st.Objects {
							var v struct{ Rev string }
							if err = json.Unmarshal(o.JSON, &v); err == nil && v.Rev != st.Revision {
								err = fmt.Errorf("State() at %s has %s from %s", st.Revision, k, v.Rev)
							}
							if err != nil {
								break
							}
						}
					}
				case 1:
					_, err = s.List(ctx, catalog.KindEntityObj, "service")
				case 2:
					_, err = s.Get(ctx, entityKey("service", "e7"))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}

	var writeErr error
	for r := 1; r <= revisions && writeErr == nil; r++ {
		prev, rev := fmt.Sprint("r", r-1), fmt.Sprint("r", r)
		changes = changes[:0]
		for i := range entities {
			changes = append(changes, update(entityKey("service", fmt.Sprint("e", i)), body(prev, i), body(rev, i)))
		}
		writeErr = s.Apply(ctx, applied(rev), changes)
	}
	close(done)
	wg.Wait()
	close(errs)
	if writeErr != nil {
		t.Error(writeErr)
	}
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if st := state(t, s); st.Revision != fmt.Sprint("r", revisions) {
		t.Errorf("final revision = %s", st.Revision)
	}
}
