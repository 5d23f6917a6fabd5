package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/store/sqlite"
)

// t0 is the fixed clock the tests run on, with nanoseconds and a non-UTC
// zone so that time round trips are really tested.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))

func open(t testing.TB, path string, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	opts = append([]sqlite.Option{sqlite.WithClock(func() time.Time { return t0 })}, opts...)
	s, err := sqlite.Open(context.Background(), path, opts...)
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

func newStore(t testing.TB) *sqlite.Store {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "pier.db"))
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

func apply(t testing.TB, s *sqlite.Store, rev store.Revision, changes ...store.Change) {
	t.Helper()
	if err := s.Apply(context.Background(), rev, changes); err != nil {
		t.Fatal(err)
	}
}

func state(t testing.TB, s *sqlite.Store) *store.State {
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

func checkState(t *testing.T, s *sqlite.Store, want *store.State) {
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

func TestApplyRoundTrip(t *testing.T) {
	s := newStore(t)
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

func TestList(t *testing.T) {
	s := newStore(t)
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

func TestHistory(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	v1, v2 := doc(`{"identifier":"a","v":1}`), doc(`{"identifier":"a","v":2}`)
	apply(t, s, applied("r1"), create(bpService, doc(`{}`)), create(svcA, v1))
	apply(t, s, applied("r2"), update(svcA, v1, v2), create(svcB, v1))
	apply(t, s, applied("r3"), del(svcA, v2))

	got, err := s.History(ctx, "service", "a")
	if err != nil {
		t.Fatal(err)
	}
	at := t0.UTC()
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

func TestApplyFailureRollsBack(t *testing.T) {
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
			s := newStore(t)
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

func TestRecordFailure(t *testing.T) {
	s := newStore(t)
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
	r1.Seq, r1.StartedAt = 1, r1.StartedAt.UTC()
	r2.Seq, r2.StartedAt = 2, r2.StartedAt.UTC()
	r3 := store.Revision{Seq: 3, Revision: "r3", Result: store.ResultFailed, StartedAt: t0.Add(2 * time.Minute).UTC()}
	wantRevs := []store.Revision{r3, r2, r1}
	if !reflect.DeepEqual(revs, wantRevs) {
		t.Errorf("Revisions(0) =\n%+v\nwant\n%+v", revs, wantRevs)
	}
	if revs, err := s.Revisions(ctx, 2); err != nil || len(revs) != 2 || revs[0].Revision != "r3" {
		t.Errorf("Revisions(2) = %+v, %v; want r3, r2", revs, err)
	}
}

func TestTimeRoundTrip(t *testing.T) {
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
	s := newStore(t)
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
		if revs[0].Seq != int64(i+1) || got != tt.t.UTC().Round(0) {
			t.Errorf("%s: StartedAt = %v, want %v", tt.name, got, tt.t.UTC())
		}
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "pier.db") // Open creates the directory
	ctx := context.Background()
	changes := []store.Change{create(bpService, doc(`{}`)), create(svcA, doc(`{"v":1}`))}

	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
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

	s = open(t, path)
	checkState(t, s, want("r1", changes...))
	revs, err := s.Revisions(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(revs, revsBefore) {
		t.Errorf("Revisions() after reopen = %+v, want %+v", revs, revsBefore)
	}
	if h, err := s.History(ctx, "service", "a"); err != nil || len(h) != 1 {
		t.Errorf("History(service, a) after reopen = %+v, %v; want one entry", h, err)
	}

	// Reopening applied no migration twice.
	db := rawDB(t, path)
	var n, v int
	if err := db.QueryRow(`SELECT count(*), max(version) FROM schema_version`).Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	if n != v {
		t.Errorf("schema_version has %d rows up to version %d", n, v)
	}
}

// rawDB opens the file behind the store's back, to check what is really
// on disk.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pier.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db := rawDB(t, path)
	if _, err := db.Exec(`INSERT INTO schema_version (version, applied_at) VALUES (1000, '')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := sqlite.Open(context.Background(), path); err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer pier succeeded")
	} else {
		t.Logf("Open error: %v", err)
	}
}

// TestPathNeedsEscaping uses a path that a plain DSN would cut at the '?'.
func TestPathNeedsEscaping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a?b#c %41", "pier.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	apply(t, s, applied("r1"), create(svcA, doc(`{}`)))
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	checkState(t, open(t, path), want("r1", create(svcA, doc(`{}`))))
}

func TestWALMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pier.db")
	open(t, path)
	// The journal mode is recorded in the file, so a fresh connection
	// that sets nothing sees it.
	var mode string
	if err := rawDB(t, path).QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

// TestConcurrentReads reads while revisions are applied. Every revision
// rewrites every entity with its own name, so a reader that saw part of a
// revision would find entities that disagree with each other or with the
// state's revision.
func TestConcurrentReads(t *testing.T) {
	s := newStore(t)
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

const benchEntities = 20000

func benchChanges() []store.Change {
	changes := make([]store.Change, 0, benchEntities+1)
	changes = append(changes, create(bpService, doc(`{"identifier":"service","schema":{"properties":{}}}`)))
	for i := range benchEntities {
		id := fmt.Sprintf("service-%05d", i)
		js := doc(`{"identifier":%q,"title":"Service %d","properties":{"lifecycle":"production","tier":"%d","language":"go","url":"https://git.example.com/org/%s"},"relations":{"owner":"team-%d"}}`,
			id, i, i%4, id, i%50)
		changes = append(changes, create(entityKey("service", id), js))
	}
	return changes
}

func BenchmarkApply20k(b *testing.B) {
	changes := benchChanges()
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "pier.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := s.Apply(ctx, applied("r1"), changes); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(changes)), "ns/change")
}

func BenchmarkState20k(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	apply(b, s, applied("r1"), benchChanges()...)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := s.State(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(st.Objects) != benchEntities+1 {
			b.Fatalf("State() has %d objects", len(st.Objects))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(benchEntities+1)), "ns/object")
}
