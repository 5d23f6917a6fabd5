package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/store/sqlite"
	"github.com/pierhq/pier/internal/synth"
)

const blueprints = `
blueprints: team: {title: "Team", schema: properties: size: {type: "number", minimum: 1}}
blueprints: service: {
	title: "Service"
	schema: {
		properties: {
			lifecycle: {type: "string", enum: ["Production", "Staging", "Development"]}
			health: {type: "string", runtime: true}
		}
		required: ["lifecycle"]
	}
	relations: team: {target: "team", required: true, many: false}
}
`

// catalogFS builds a catalog of n services owned by one team.
func catalogFS(n int, lifecycle string) fstest.MapFS {
	fs := fstest.MapFS{
		"blueprints.cue": {Data: []byte(blueprints)},
		"teams.json":     {Data: []byte(`{"entities": {"team": {"payments": {"title": "Payments", "properties": {"size": 4}}}}}`)},
	}
	for i := 0; i < n; i++ {
		fs[fmt.Sprintf("services/svc-%02d.yaml", i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf(
			"entities:\n  service:\n    svc-%02d:\n      title: Service %d\n      properties:\n        lifecycle: %s\n      relations:\n        team: payments\n", i, i, lifecycle))}
	}
	return fs
}

type recordingSink struct{ events []Event }

func (s *recordingSink) Emit(_ context.Context, es []Event) error {
	s.events = append(s.events, es...)
	return nil
}

func setup(t *testing.T) (*Reconciler, *sqlite.Store, *recordingSink) {
	t.Helper()
	st, l := storeAndLoader(t)
	sink := &recordingSink{}
	return New(l, st, sink, Options{}), st, sink
}

// storeAndLoader opens a SQLite store in a temporary directory, closed
// when the test ends, and makes a loader.
func storeAndLoader(t *testing.T) (*sqlite.Store, *loader.Loader) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, err := loader.New(2)
	if err != nil {
		t.Fatal(err)
	}
	return st, l
}

func entityCount(t *testing.T, st *sqlite.Store) int {
	t.Helper()
	objs, err := st.List(context.Background(), catalog.KindEntityObj, "")
	if err != nil {
		t.Fatal(err)
	}
	return len(objs)
}

func TestReconcileAppliesDiffsAndKeepsHistory(t *testing.T) {
	ctx := context.Background()
	r, st, sink := setup(t)

	res, err := r.Reconcile(ctx, Revision{ID: "rev1", FS: catalogFS(4, "Staging")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != Applied || len(res.Diagnostics) > 0 {
		t.Fatalf("rev1: outcome %s, diagnostics %v", res.Outcome, res.Diagnostics)
	}
	if got := entityCount(t, st); got != 5 {
		t.Fatalf("after rev1: %d entities, want 5", got)
	}
	if len(sink.events) != 5 || sink.events[0].Type != EntityCreated {
		t.Fatalf("rev1 events: %+v", sink.events)
	}

	// The same revision again changes nothing.
	res, err = r.Reconcile(ctx, Revision{ID: "rev1", FS: catalogFS(4, "Staging")})
	if err != nil || res.Outcome != Unchanged {
		t.Fatalf("rev1 again: outcome %v, err %v", res.Outcome, err)
	}

	// rev2 promotes every service and drops one.
	sink.events = nil
	res, err = r.Reconcile(ctx, Revision{ID: "rev2", FS: catalogFS(3, "Production")})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Plan.Total()
	if res.Outcome != Applied || c.Created != 0 || c.Updated != 3 || c.Deleted != 1 {
		t.Fatalf("rev2: outcome %s counts %+v diags %v", res.Outcome, c, res.Diagnostics)
	}
	types := map[string]int{}
	for _, e := range sink.events {
		types[e.Type]++
	}
	if types[EntityUpdated] != 3 || types[EntityDeleted] != 1 {
		t.Fatalf("rev2 events by type: %v", types)
	}

	h, err := st.History(ctx, "service", "svc-00")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Op != store.OpCreate || h[1].Op != store.OpUpdate || h[1].Revision != "rev2" {
		t.Fatalf("history of svc-00: %+v", h)
	}
	var before, after catalog.Entity
	if err := json.Unmarshal(h[1].Before, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(h[1].After, &after); err != nil {
		t.Fatal(err)
	}
	if before.Properties["lifecycle"] != "Staging" || after.Properties["lifecycle"] != "Production" {
		t.Fatalf("history before %v after %v", before.Properties, after.Properties)
	}
	last, err := st.LastApplied(ctx)
	if err != nil || last.Revision != "rev2" || last.Counts.Entities != 4 {
		t.Fatalf("last applied: %+v, %v", last, err)
	}
}

func TestFailedRevisionLeavesStateUnchanged(t *testing.T) {
	ctx := context.Background()
	r, st, sink := setup(t)
	if _, err := r.Reconcile(ctx, Revision{ID: "good", FS: catalogFS(3, "Staging")}); err != nil {
		t.Fatal(err)
	}
	before, err := st.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sink.events = nil

	bad := catalogFS(3, "Prod") // not in the enum
	res, err := r.Reconcile(ctx, Revision{ID: "bad", FS: bad})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != Failed || len(res.Diagnostics) != 3 {
		t.Fatalf("outcome %s, %d diagnostics: %v", res.Outcome, len(res.Diagnostics), res.Diagnostics)
	}
	d := res.Diagnostics[0]
	if d.Pos.File != "services/svc-00.yaml" || d.Pos.Line != 6 || d.Pos.Col != 20 || !strings.Contains(d.Message, `got "Prod"`) {
		t.Fatalf("first diagnostic: %+v", d)
	}
	after, err := st.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Revision != "good" || len(after.Objects) != len(before.Objects) {
		t.Fatalf("state moved: revision %q, %d objects (was %d)", after.Revision, len(after.Objects), len(before.Objects))
	}
	for k, o := range before.Objects {
		if after.Objects[k].Hash != o.Hash {
			t.Fatalf("%s changed", k)
		}
	}
	if len(sink.events) != 0 {
		t.Fatalf("a failed revision emitted %d events", len(sink.events))
	}
	revs, err := st.Revisions(ctx, 1)
	if err != nil || len(revs) != 1 || revs[0].Result != store.ResultFailed || len(revs[0].Errors) != 3 {
		t.Fatalf("recorded revision: %+v, %v", revs, err)
	}
}

func TestDeletionGuard(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		keep     int
		settings string
		want     string
	}{
		{"half is allowed", 5, "", Applied}, // deletes 5 of 11
		{"more than half is refused", 2, "", Failed},
		{"catalog opts in", 2, "settings: deletionGuard: allow: true\n", Applied},
		{"catalog lowers the share", 8, "settings: deletionGuard: maxShare: 0.1\n", Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, st, _ := setup(t)
			if _, err := r.Reconcile(ctx, Revision{ID: "full", FS: catalogFS(10, "Staging")}); err != nil {
				t.Fatal(err)
			}
			fs := catalogFS(tt.keep, "Staging")
			if tt.settings != "" {
				fs["settings.cue"] = &fstest.MapFile{Data: []byte(tt.settings)}
			}
			res, err := r.Reconcile(ctx, Revision{ID: "shrink", FS: fs})
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.want {
				t.Fatalf("outcome %s, want %s (diagnostics %v)", res.Outcome, tt.want, res.Diagnostics)
			}
			wantEntities := 11
			if tt.want == Applied {
				wantEntities = tt.keep + 1
			} else if d := res.Diagnostics[0]; d.Kind != catalog.KindDeletionGuard || d.Pos.File != fmt.Sprintf("services/svc-%02d.yaml", tt.keep) {
				t.Fatalf("guard diagnostic: %+v", d)
			}
			if got := entityCount(t, st); got != wantEntities {
				t.Fatalf("%d entities stored, want %d", got, wantEntities)
			}
		})
	}
}

// The reconciler caches what it applied; a store changed by someone else
// must be read again rather than diffed against the stale cache.
func TestCacheYieldsToAnotherWriter(t *testing.T) {
	ctx := context.Background()
	r, st, _ := setup(t)
	if _, err := r.Reconcile(ctx, Revision{ID: "rev1", FS: catalogFS(4, "Staging")}); err != nil {
		t.Fatal(err)
	}
	l2, _ := loader.New(1)
	other := New(l2, st, nil, Options{})
	if res, err := other.Reconcile(ctx, Revision{ID: "rev2", FS: catalogFS(3, "Staging")}); err != nil || res.Plan.Total().Deleted != 1 {
		t.Fatalf("other writer: %v %+v", err, res)
	}
	res, err := r.Reconcile(ctx, Revision{ID: "rev1", FS: catalogFS(4, "Staging")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != Applied || res.Plan.Total().Created != 1 {
		t.Fatalf("after another writer: outcome %s, plan %+v", res.Outcome, res.Plan.Total())
	}
	if got := entityCount(t, st); got != 5 {
		t.Fatalf("%d entities stored, want 5", got)
	}
}

// coarseStore reads times back to the microsecond, as PostgreSQL does,
// and counts the reads of the whole state.
type coarseStore struct {
	*sqlite.Store
	states int
}

func (c *coarseStore) LastApplied(ctx context.Context) (store.Revision, error) {
	rev, err := c.Store.LastApplied(ctx)
	rev.StartedAt = rev.StartedAt.Truncate(time.Microsecond)
	return rev, err
}

func (c *coarseStore) State(ctx context.Context) (*store.State, error) {
	c.states++
	return c.Store.State(ctx)
}

// TestCacheSurvivesCoarseTimes: on a store that keeps times less
// precisely than the clock, the reconciler still diffs a
// change against what it cached rather than reading every object back.
func TestCacheSurvivesCoarseTimes(t *testing.T) {
	ctx := context.Background()
	_, st, _ := setup(t)
	coarse := &coarseStore{Store: st}
	l, _ := loader.New(1)
	r := New(l, coarse, nil, Options{Now: func() time.Time { return time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC) }})
	for i, lifecycle := range []string{"Staging", "Production", "Staging"} {
		res, err := r.Reconcile(ctx, Revision{ID: fmt.Sprint("rev", i), FS: catalogFS(4, lifecycle)})
		if err != nil || res.Outcome != Applied {
			t.Fatalf("rev%d: %v %+v", i, err, res.Diagnostics)
		}
	}
	if coarse.states != 1 {
		t.Errorf("the state was read %d times in three reconciles, want once (the first)", coarse.states)
	}
}

const computedBlueprints = `
blueprints: team: {title: "Team", schema: properties: slack: {type: "string"}}
blueprints: service: {
	schema: properties: {
		requests: {type: "number"}
		limits: {type: "number"}
		utilization: {type: "number", calculation: {type: "formula", formula: "(requests / limits) * 100"}}
	}
	relations: team: {target: "team", required: true, many: false}
	mirrorProperties: team_slack: path: "team.slack"
	calculationProperties: label: {type: "string", calculation: ".identifier + \"@\" + .relations.team"}
}
entities: service: api: {properties: {requests: 1, limits: 2}, relations: team: "payments"}
entities: service: web: {properties: {requests: 3, limits: 4}, relations: team: "payments"}
`

func TestComputedPropertiesAreAppliedAndFollowRelations(t *testing.T) {
	ctx := context.Background()
	r, st, sink := setup(t)
	fs := func(slack string) fstest.MapFS {
		return fstest.MapFS{
			"bp.cue":    {Data: []byte(computedBlueprints)},
			"team.json": {Data: []byte(fmt.Sprintf(`{"entities": {"team": {"payments": {"properties": {"slack": %q}}}}}`, slack))},
		}
	}
	if res, err := r.Reconcile(ctx, Revision{ID: "r1", FS: fs("#payments")}); err != nil || res.Outcome != Applied {
		t.Fatalf("r1: %v %+v", err, res.Diagnostics)
	}
	get := func(id string) catalog.Entity {
		t.Helper()
		o, err := st.Get(ctx, catalog.Key{Kind: catalog.KindEntityObj, Blueprint: "service", ID: id})
		if err != nil {
			t.Fatal(err)
		}
		var e catalog.Entity
		if err := json.Unmarshal(o.JSON, &e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	api := get("api")
	if api.Properties["utilization"] != float64(50) || api.Properties["team_slack"] != "#payments" || api.Properties["label"] != "api@payments" {
		t.Fatalf("computed values stored: %v", api.Properties)
	}

	// Only the team changes in git; both services' mirrors follow.
	sink.events = nil
	res, err := r.Reconcile(ctx, Revision{ID: "r2", FS: fs("#payments-eng")})
	if err != nil || res.Outcome != Applied {
		t.Fatalf("r2: %v %+v", err, res.Diagnostics)
	}
	if c := res.Plan.Total(); c.Updated != 3 {
		t.Fatalf("r2 updated %d objects, want the team and its two services", c.Updated)
	}
	if got := get("web").Properties["team_slack"]; got != "#payments-eng" {
		t.Fatalf("web's mirror after the team changed: %v", got)
	}

	// A cycle fails the revision and names it.
	bad := fs("#payments-eng")
	bad["bp.cue"] = &fstest.MapFile{Data: []byte(strings.Replace(computedBlueprints,
		`calculationProperties: label: {type: "string", calculation: ".identifier + \"@\" + .relations.team"}`,
		`calculationProperties: {label: {type: "string", calculation: ".properties.other"}, other: {type: "string", calculation: ".properties.label"}}`, 1))}
	res, err = r.Reconcile(ctx, Revision{ID: "r3", FS: bad})
	if err != nil || res.Outcome != Failed || len(res.Diagnostics) == 0 || !strings.Contains(res.Diagnostics[0].Message, "cycle") || res.Diagnostics[0].Pos.File != "bp.cue" {
		t.Fatalf("cycle: %v %+v", err, res.Diagnostics)
	}
}

// Outbound deliveries are written by the same transaction as the
// revision: after Reconcile returns they are in the store, without any
// sink having run.
func TestOutboxIsWrittenWithTheRevision(t *testing.T) {
	ctx := context.Background()
	st, l := storeAndLoader(t)
	build := func(_ *catalog.Catalog, events []Event) ([]record.Delivery, error) {
		var ds []record.Delivery
		for i, e := range events {
			ds = append(ds, record.Delivery{ID: fmt.Sprintf("%s-%d", e.Revision, i), Subscription: "s", URL: "http://127.0.0.1:1/", Event: e.Type, Body: json.RawMessage(`{}`), NextAt: e.At, CreatedAt: e.At})
		}
		return ds, nil
	}
	r := New(l, st, nil, Options{Outbox: build})
	if _, err := r.Reconcile(ctx, Revision{ID: "r1", FS: catalogFS(3, "Staging")}); err != nil {
		t.Fatal(err)
	}
	ds, err := st.Deliveries(ctx, 100, "")
	if err != nil || len(ds) != 4 { // three services and a team
		t.Fatalf("deliveries after r1: %d, %v", len(ds), err)
	}
	// A revision that fails validation queues nothing.
	if res, _ := r.Reconcile(ctx, Revision{ID: "bad", FS: catalogFS(3, "Prod")}); res.Outcome != Failed {
		t.Fatalf("bad revision: %s", res.Outcome)
	}
	if ds, _ := st.Deliveries(ctx, 100, ""); len(ds) != 4 {
		t.Fatalf("a failed revision queued deliveries: %d", len(ds))
	}
}

// Changes made by a revision that failed must still reach the computed
// values of the next good revision.
func TestComputedValuesSurviveAFailedRevisionInBetween(t *testing.T) {
	ctx := context.Background()
	r, st, _ := setup(t)
	files := func(slack string, broken bool) fstest.MapFS {
		fs := fstest.MapFS{
			"bp.cue":    {Data: []byte(computedBlueprints)},
			"team.json": {Data: []byte(fmt.Sprintf(`{"entities": {"team": {"payments": {"properties": {"slack": %q}}}}}`, slack))},
		}
		if broken {
			fs["broken.cue"] = &fstest.MapFile{Data: []byte("entities: nope: x: {}")}
		}
		return fs
	}
	for i, step := range []struct {
		slack  string
		broken bool
		want   string
	}{{"#a", false, Applied}, {"#b", true, Failed}, {"#b", false, Applied}} {
		res, err := r.Reconcile(ctx, Revision{ID: fmt.Sprint(i), FS: files(step.slack, step.broken), Changed: changedAfterFirst(i)})
		if err != nil || res.Outcome != step.want {
			t.Fatalf("step %d: %v %s %v", i, err, res.Outcome, res.Diagnostics)
		}
	}
	o, err := st.Get(ctx, catalog.Key{Kind: catalog.KindEntityObj, Blueprint: "service", ID: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(o.JSON), `"team_slack":"#b"`) {
		t.Fatalf("api after the failed revision in between: %s", o.JSON)
	}
}

// changedAfterFirst makes the reconciler reload only the files that the
// test changes between steps (the team file, and the broken file coming
// and going), as a watcher would report them.
func changedAfterFirst(step int) []string {
	switch step {
	case 0:
		return nil
	case 1:
		return []string{"team.json", "broken.cue"}
	}
	return []string{"broken.cue"} // the team is as step 1 left it
}

// TestIncrementalComputeMatchesCold edits a synthetic catalog with
// computed properties (calculations, mirrors through relations,
// aggregations) revision after revision, and checks that every
// incremental reconcile yields exactly the objects a cold reconcile of
// the same files yields.
func TestIncrementalComputeMatchesCold(t *testing.T) {
	ctx := context.Background()
	defer func(n int) { parallelCompute = n }(parallelCompute)
	parallelCompute = 50 // cold reconciles evaluate and merge in parallel
	const n = 300
	opts := synth.Options{Services: n, Derived: true, Teams: 3}
	dir := t.TempDir()
	if err := synth.Write(dir, opts); err != nil {
		t.Fatal(err)
	}
	r, _, _ := setup(t)
	if res, err := r.Reconcile(ctx, Revision{ID: "r0", FS: os.DirFS(dir)}); err != nil || res.Outcome != Applied {
		t.Fatalf("cold: %v %v", err, res.Diagnostics)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for step := 1; step <= 25; step++ {
		var changed []string
		if rnd.IntN(4) == 0 {
			// A team's Slack channel: every member's mirror follows.
			b, err := os.ReadFile(filepath.Join(dir, "teams.cue"))
			if err != nil {
				t.Fatal(err)
			}
			b = []byte(strings.Replace(string(b), fmt.Sprintf(`"#team-%d`, rnd.IntN(3)), fmt.Sprintf(`"#team-%d`, 10*step), 1))
			os.WriteFile(filepath.Join(dir, "teams.cue"), b, 0o644)
			changed = append(changed, "teams.cue")
		}
		for range 1 + rnd.IntN(3) {
			i := rnd.IntN(n)
			p := synth.ServicePath(i)
			changed = append(changed, p)
			if rnd.IntN(5) == 0 {
				os.Remove(filepath.Join(dir, p))
				continue
			}
			o := opts
			o.Teams = 1 + rnd.IntN(3) // moves the service to another team
			if err := os.WriteFile(filepath.Join(dir, p), synth.Service(i, step, o), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		res, err := r.Reconcile(ctx, Revision{ID: fmt.Sprintf("r%d", step), FS: os.DirFS(dir), Changed: changed})
		if err != nil || res.Outcome == Failed {
			t.Fatalf("step %d: %v %v", step, err, res.Diagnostics)
		}
		fresh, _, _ := setup(t)
		cold, err := fresh.Reconcile(ctx, Revision{ID: "cold", FS: os.DirFS(dir)})
		if err != nil || cold.Outcome != Applied {
			t.Fatalf("step %d cold: %v %v", step, err, cold.Diagnostics)
		}
		if len(res.Objects) != len(cold.Objects) {
			t.Fatalf("step %d: %d objects, cold %d", step, len(res.Objects), len(cold.Objects))
		}
		for k, o := range cold.Objects {
			if got := res.Objects[k]; got.Hash != o.Hash {
				t.Fatalf("step %d: %s differs from a cold reconcile:\n got %s\nwant %s", step, k, got.JSON, o.JSON)
			}
		}
		for bp, es := range cold.Catalog.Entities {
			for id, e := range es {
				got := res.Catalog.Entities[bp][id]
				if got == nil || !reflect.DeepEqual(got.Properties, e.Properties) {
					t.Fatalf("step %d: catalog entity %s/%s differs:\n got %v\nwant %v", step, bp, id, got, e)
				}
			}
			if len(es) != len(res.Catalog.Entities[bp]) {
				t.Fatalf("step %d: %d %s entities, cold %d", step, len(res.Catalog.Entities[bp]), bp, len(es))
			}
		}
	}
}

// failingStore fails writes with fail, when set.
type failingStore struct {
	*sqlite.Store
	fail error
}

func (s *failingStore) Apply(ctx context.Context, rev store.Revision, changes []store.Change) error {
	if s.fail != nil {
		return s.fail
	}
	return s.Store.Apply(ctx, rev, changes)
}

// WhileApplying sees every revision that is written, with what the state
// needs, and Reconcile waits for it.
func TestWhileApplying(t *testing.T) {
	ctx := context.Background()
	st, l := storeAndLoader(t)
	type call struct {
		res      *Result
		created  int
		at       time.Time
		finished bool
	}
	var calls []*call
	fs := &failingStore{Store: st}
	r := New(l, fs, nil, Options{WhileApplying: func(res *Result) {
		c := &call{res: res, created: res.Plan.Total().Created, at: res.At}
		calls = append(calls, c)
		time.Sleep(20 * time.Millisecond) // longer than the write
		c.finished = true
	}})
	for _, tt := range []struct {
		rev     string
		fs      fstest.MapFS
		outcome string
		calls   int
	}{
		{"r1", catalogFS(3, "Staging"), Applied, 1},
		{"r1-again", catalogFS(3, "Staging"), Unchanged, 2},
		{"bad", catalogFS(3, "Prod"), Failed, 2}, // nothing to write
	} {
		res, err := r.Reconcile(ctx, Revision{ID: tt.rev, FS: tt.fs})
		if err != nil || res.Outcome != tt.outcome || len(calls) != tt.calls {
			t.Fatalf("%s: %v, outcome %v, %d calls", tt.rev, err, res, len(calls))
		}
		if tt.outcome == Failed {
			continue
		}
		c := calls[len(calls)-1]
		if c.res != res || !c.finished || c.at.IsZero() || !c.at.Equal(res.At) {
			t.Fatalf("%s: called with %p (returned %p), finished %v, at %v (result at %v)", tt.rev, c.res, res, c.finished, c.at, res.At)
		}
	}
	if calls[0].created != 6 { // 2 blueprints, 3 services and their team
		t.Fatalf("first revision seen with %d creations", calls[0].created)
	}
	// A write that fails fails the reconcile: what was built is dropped
	// by the caller.
	fs.fail = errors.New("disk full")
	if _, err := r.Reconcile(ctx, Revision{ID: "r2", FS: catalogFS(4, "Staging")}); err == nil || len(calls) != 3 || !calls[2].finished {
		t.Fatalf("reconcile on a closed store: %v, %d calls", err, len(calls))
	}
}

// An aggregation whose filter follows relations (relatedTo) can change
// when an entity it does not aggregate over changes: such a plan is
// evaluated in full, and the value matches a cold reconcile.
func TestAggregationFilterFollowingRelations(t *testing.T) {
	ctx := context.Background()
	fs := fstest.MapFS{
		"blueprints.cue": {Data: []byte(`
blueprints: region: {title: "Region", schema: properties: {}}
blueprints: cluster: {title: "Cluster", schema: properties: {}, relations: region: {target: "region", required: true}}
blueprints: team: {
	title: "Team"
	schema: properties: {}
	aggregationProperties: eu_services: {
		target: "service"
		calculationSpec: func: "count"
		query: {combinator: "and", rules: [{operator: "relatedTo", blueprint: "region", value: "eu", direction: "downstream"}]}
	}
}
blueprints: service: {title: "Service", schema: properties: {}, relations: {team: {target: "team"}, cluster: {target: "cluster"}}}
`)},
		"entities.cue": {Data: []byte(`
entities: region: {eu: {}, us: {}}
entities: team: t: {}
entities: service: {s1: relations: {team: "t", cluster: "c1"}, s2: relations: {team: "t", cluster: "c2"}}
`)},
		"clusters.cue": {Data: []byte(`entities: cluster: {c1: relations: region: "eu", c2: relations: region: "us"}`)},
	}
	r, _, _ := setup(t)
	count := func(res *Result) any {
		if res == nil || res.Catalog.Entities["team"]["t"] == nil {
			return nil
		}
		return res.Catalog.Entities["team"]["t"].Properties["eu_services"]
	}
	res, err := r.Reconcile(ctx, Revision{ID: "r1", FS: fs})
	if err != nil || res.Outcome != Applied || fmt.Sprint(count(res)) != "1" {
		t.Fatalf("r1: %v %v, eu_services %v", err, res.Diagnostics, count(res))
	}
	fs["clusters.cue"] = &fstest.MapFile{Data: []byte(`entities: cluster: {c1: relations: region: "eu", c2: relations: region: "eu"}`)}
	res, err = r.Reconcile(ctx, Revision{ID: "r2", FS: fs, Changed: []string{"clusters.cue"}})
	if err != nil || res.Outcome != Applied || fmt.Sprint(count(res)) != "2" {
		t.Fatalf("r2 (c2 moved to eu): %v %v, eu_services %v, want 2", err, res.Diagnostics, count(res))
	}
}

// A revision Options.Check refuses is not applied, with its diagnostics.
func TestCheckRefusesARevision(t *testing.T) {
	ctx := context.Background()
	st, l := storeAndLoader(t)
	refuse := false
	r := New(l, st, nil, Options{Check: func(c *catalog.Catalog, objects map[catalog.Key]catalog.Object) catalog.Diagnostics {
		if !refuse {
			return nil
		}
		k := catalog.Key{Kind: catalog.KindEntityObj, Blueprint: "team", ID: "payments"}
		return catalog.Diagnostics{{Pos: objects[k].Source, Kind: catalog.KindReference, Message: "refused"}}
	}})
	if res, err := r.Reconcile(ctx, Revision{ID: "r1", FS: catalogFS(2, "Staging")}); err != nil || res.Outcome != Applied {
		t.Fatalf("r1: %v %v", err, res)
	}
	refuse = true
	res, err := r.Reconcile(ctx, Revision{ID: "r2", FS: catalogFS(3, "Staging")})
	if err != nil || res.Outcome != Failed || len(res.Diagnostics) != 1 || res.Diagnostics[0].Pos.File != "teams.json" {
		t.Fatalf("r2: %v, %v", err, res)
	}
	if n := entityCount(t, st); n != 3 { // the team and r1's two services
		t.Fatalf("%d entities stored after a refused revision", n)
	}
}

// A computed property that does not compile is reported at its own
// blueprint, also when another blueprint's name is part of its name.
func TestComputeErrorsNameTheirBlueprint(t *testing.T) {
	fs := fstest.MapFS{
		"a_service.cue":      {Data: []byte(`blueprints: service: {title: "S", schema: properties: {}}`)},
		"b_microservice.cue": {Data: []byte(`blueprints: microservice: {title: "M", schema: properties: {}, calculationProperties: x: {type: "number", calculation: ".a |"}}`)},
	}
	r, _, _ := setup(t)
	res, err := r.Reconcile(context.Background(), Revision{ID: "r1", FS: fs})
	if err != nil || res.Outcome != Failed || len(res.Diagnostics) != 1 {
		t.Fatalf("%v %v", err, res)
	}
	if d := res.Diagnostics[0]; d.Pos.File != "b_microservice.cue" || d.Path != "blueprints.microservice" || !strings.Contains(d.Message, "microservice.x: jq") {
		t.Fatalf("diagnostic %+v", d)
	}
}

// The checks after the loader (computed properties here) quote what a
// file wrote; a failed revision's messages quote only an excerpt of it.
func TestFailureMessagesQuoteExcerpts(t *testing.T) {
	long := strings.Repeat(".properties.a + ", 500)
	fs := fstest.MapFS{
		"bp.cue": {Data: []byte(`blueprints: service: {title: "S", schema: properties: {}, calculationProperties: x: {type: "number", calculation: "` + long + `|"}}`)},
	}
	r, st, _ := setup(t)
	res, err := r.Reconcile(context.Background(), Revision{ID: "r1", FS: fs})
	if err != nil || res.Outcome != Failed || len(res.Diagnostics) != 1 {
		t.Fatalf("%v %v", err, res)
	}
	revs, err := st.Revisions(context.Background(), 1)
	if err != nil || len(revs) != 1 {
		t.Fatal(err, revs)
	}
	for _, d := range append(res.Diagnostics, revs[0].Errors...) {
		if s := d.String(); len(s) > 300 || !strings.Contains(s, "jq") {
			t.Errorf("%d bytes: %.200s", len(s), s)
		}
	}
}
