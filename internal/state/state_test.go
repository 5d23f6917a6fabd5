package state

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

func catalogWith(lifecycle string) *catalog.Catalog {
	c := catalog.New()
	c.Blueprints["team"] = &catalog.Blueprint{Identifier: "team"}
	c.Blueprints["service"] = &catalog.Blueprint{Identifier: "service", Relations: map[string]catalog.Relation{"team": {Target: "team"}}}
	c.Entities["team"] = map[string]*catalog.Entity{"payments": {Blueprint: "team", Identifier: "payments"}}
	c.Entities["service"] = map[string]*catalog.Entity{
		"api": {Blueprint: "service", Identifier: "api", Properties: map[string]any{"lifecycle": lifecycle}, Relations: map[string]any{"team": "payments"}},
		"web": {Blueprint: "service", Identifier: "web", Properties: map[string]any{"lifecycle": "Staging"}, Relations: map[string]any{"team": "payments"}},
	}
	return c
}

func TestPublishKeepsTimesAndRuntimeValues(t *testing.T) {
	h := NewHolder()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	c1 := catalogWith("Staging")
	h.Publish(Applied{Revision: "r1", At: t0, Catalog: c1})
	first := h.Load()
	if first.Entity("service", "api").CreatedAt != t0 || len(first.Referrers("team", "payments")) != 2 {
		t.Fatalf("first snapshot: %+v", first.Entity("service", "api"))
	}

	t1 := t0.Add(time.Hour)
	if e := h.SetRuntime("service", "api", map[string]any{"health": "Healthy"}, t1, "ci"); e == nil || e.Properties["health"] != "Healthy" || e.UpdatedBy != "ci" {
		t.Fatalf("runtime write: %+v", e)
	}
	if _, ok := first.Entity("service", "api").Properties["health"]; ok {
		t.Fatal("a published snapshot changed after a runtime write")
	}

	// r2 changes api in git and leaves web alone.
	t2 := t0.Add(2 * time.Hour)
	c2 := catalogWith("Production")
	c2.Entities["service"]["web"] = c1.Entities["service"]["web"] // unchanged, as the loader shares it
	key := catalog.Key{Kind: catalog.KindEntityObj, Blueprint: "service", ID: "api"}
	h.Publish(Applied{Revision: "r2", At: t2, Catalog: c2, Updated: map[catalog.Key]bool{key: true}})
	s := h.Load()
	api, web := s.Entity("service", "api"), s.Entity("service", "web")
	if api.CreatedAt != t0 || api.UpdatedAt != t2 || api.UpdatedBy != GitActor {
		t.Fatalf("api times after a git change: created %v updated %v by %s", api.CreatedAt, api.UpdatedAt, api.UpdatedBy)
	}
	if api.Properties["lifecycle"] != "Production" || api.Properties["health"] != "Healthy" {
		t.Fatalf("api properties after a git change: %v", api.Properties)
	}
	if web != h.Load().Entity("service", "web") || web.UpdatedAt != t0 {
		t.Fatalf("an untouched entity was rebuilt or re-dated: %+v", web)
	}

	b, err := json.Marshal(api)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	json.Unmarshal(b, &back)
	if back["identifier"] != "api" || back["properties"].(map[string]any)["health"] != "Healthy" || back["Git"] != nil {
		t.Fatalf("entity JSON: %s", b)
	}
	if idx := s.Index("service", "lifecycle"); len(idx["Production"]) != 1 || len(idx["Staging"]) != 1 {
		t.Fatalf("lifecycle index: %v", idx)
	}
}

// Incremental scorecard results must equal a full evaluation.
func TestScoresIncrementalMatchesFull(t *testing.T) {
	withCard := func(lifecycle string) *catalog.Catalog {
		c := catalogWith(lifecycle)
		c.Scorecards["ready"] = &catalog.Scorecard{Identifier: "ready", BlueprintIdentifier: "service", Rules: []catalog.ScorecardRule{
			{Identifier: "prod", Level: "Bronze", Query: catalog.Query{Combinator: "and", Rules: []catalog.Rule{{Property: "lifecycle", Operator: "=", Value: "Production"}}}},
			{Identifier: "healthy", Level: "Silver", Query: catalog.Query{Combinator: "and", Rules: []catalog.Rule{{Property: "health", Operator: "=", Value: "Healthy"}}}},
		}}
		return c
	}
	h := NewHolder()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	c1 := withCard("Staging")
	h.Publish(Applied{Revision: "r1", At: at, Catalog: c1})
	key := catalog.Key{Kind: catalog.KindEntityObj, Blueprint: "service", ID: "api"}
	if got := h.Load().Scores.Level(key, "ready"); got != "Basic" {
		t.Fatalf("r1 level %q", got)
	}
	c2 := withCard("Production")
	c2.Scorecards = c1.Scorecards
	h.Publish(Applied{Revision: "r2", At: at, Catalog: c2, Updated: map[catalog.Key]bool{key: true}})
	if got := h.Load().Scores.Level(key, "ready"); got != "Bronze" {
		t.Fatalf("r2 level %q", got)
	}
	h.SetRuntime("service", "api", map[string]any{"health": "Healthy"}, at, "ci")
	inc := h.Load().Scores

	full := NewHolder()
	full.Publish(Applied{Revision: "r2", At: at, Catalog: c2})
	full.SetRuntime("service", "api", map[string]any{"health": "Healthy"}, at, "ci")
	want := full.Load().Scores
	if inc.Level(key, "ready") != "Gold" || len(inc.Results) != len(want.Results) {
		t.Fatalf("incremental results %v, full %v", inc.Results, want.Results)
	}
	for k := range want.Results {
		if inc.Level(k, "ready") != want.Level(k, "ready") {
			t.Errorf("%s: incremental %q, full %q", k, inc.Level(k, "ready"), want.Level(k, "ready"))
		}
	}
}

// Approval systems survive a restart (Restore from the store), every
// publication and runtime writes, and reach the rebuilt catalog.
func TestApprovalSystemsRestoreAndCarryOver(t *testing.T) {
	as := &catalog.ApprovalSystem{Identifier: "snow", Schedule: "@every 30s",
		CreationRequest: catalog.ApprovalRequest{Endpoint: catalog.Endpoint{URL: "https://snow.example/c", Method: "POST"}, Parser: &catalog.ApprovalParser{ApprovalID: "/result/sys_id"}},
		StatusRequest: catalog.ApprovalRequest{Endpoint: catalog.Endpoint{URL: "https://snow.example/s/{{ .approval.id }}", Method: "GET",
			Headers: []catalog.Header{{Name: "Authorization", Value: "Bearer {{ .secrets.SNOW }}"}}},
			Parser: &catalog.ApprovalParser{StatusValue: "/result/approval", ApprovalMatcher: "^approved$"}},
	}
	key := catalog.Key{Kind: catalog.KindApprovalSystemObj, ID: "snow"}
	obj, err := catalog.NewObject(key, as, catalog.Pos{File: "approvals.cue", Line: 3})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHolder()
	st := &store.State{Revision: "r1", Objects: map[catalog.Key]store.Object{key: {Key: key, JSON: obj.JSON, Hash: obj.Hash, Source: obj.Source}}}
	if err := h.Restore(st, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	s := h.Load()
	got := s.ApprovalSystems["snow"]
	if got == nil || got.Schedule != "@every 30s" || got.StatusRequest.Endpoint.Headers[0].Value != "Bearer {{ .secrets.SNOW }}" || got.CreationRequest.Parser.ApprovalID != "/result/sys_id" {
		t.Fatalf("restored %+v", got)
	}
	if s.catalog().ApprovalSystems["snow"] != got || s.Source(key).File != "approvals.cue" {
		t.Error("the rebuilt catalog or the source lost the approval system")
	}

	c := catalogWith("Staging")
	c.ApprovalSystems["snow"] = as
	h.Publish(Applied{Revision: "r2", At: time.Now(), Catalog: c})
	h.SetRuntime("service", "api", map[string]any{"health": "Healthy"}, time.Now(), "ci")
	if h.Load().ApprovalSystems["snow"] != as {
		t.Error("a runtime write dropped the approval systems")
	}
	h.Publish(Applied{Revision: "r3", At: time.Now(), Catalog: catalogWith("Staging")})
	if len(h.Load().ApprovalSystems) != 0 {
		t.Error("a revision without approval systems kept them")
	}
}

// A snapshot prepared while its revision is written is what Publish
// would publish; a runtime write that lands in between is not lost.
func TestPrepareCommit(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	key := catalog.Key{Kind: catalog.KindEntityObj, Blueprint: "service", ID: "api"}
	r2 := func(c1 *catalog.Catalog) Applied {
		c2 := catalogWith("Production")
		c2.Entities["service"]["web"] = c1.Entities["service"]["web"]
		return Applied{Revision: "r2", At: t0.Add(time.Hour), Catalog: c2, Updated: map[catalog.Key]bool{key: true}}
	}

	h := NewHolder()
	c1 := catalogWith("Staging")
	h.Publish(Applied{Revision: "r1", At: t0, Catalog: c1})
	p := h.Prepare(r2(c1))
	if h.Load().Revision != "r1" {
		t.Fatal("Prepare published")
	}
	h.Commit(p)
	if got := h.Load(); got != p.s || got.Revision != "r2" || got.Entity("service", "api").UpdatedAt != t0.Add(time.Hour) {
		t.Fatalf("Commit did not publish the prepared snapshot: %+v", got)
	}

	h = NewHolder()
	h.Publish(Applied{Revision: "r1", At: t0, Catalog: c1})
	p = h.Prepare(r2(c1))
	h.SetRuntime("service", "web", map[string]any{"health": "Healthy"}, t0.Add(time.Minute), "ci")
	h.Commit(p)
	got := h.Load()
	if got.Revision != "r2" || got.Entity("service", "web").Properties["health"] != "Healthy" || got.Entity("service", "api").Properties["lifecycle"] != "Production" {
		t.Fatalf("a runtime write between Prepare and Commit was lost: %+v %+v", got.Entity("service", "web"), got.Entity("service", "api"))
	}
}

// Indexes a runtime write carries over, patched, are the indexes a new
// snapshot would build.
func TestRuntimeWritesPatchIndexes(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	c := catalogWith("Staging")
	lifecycles := []string{"Production", "Staging", "Development"}
	for i := range 200 {
		id := fmt.Sprintf("svc-%03d", i)
		c.Entities["service"][id] = &catalog.Entity{Blueprint: "service", Identifier: id,
			Properties: map[string]any{"lifecycle": lifecycles[i%3], "n": json.Number(fmt.Sprint(i % 17)), "tags": []any{"a", "b"}},
			Relations:  map[string]any{"team": "payments"}}
	}
	h := NewHolder()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	h.Publish(Applied{Revision: "r1", At: at, Catalog: c})
	fields := []string{"$identifier", "lifecycle", "tags", "team", "n"}
	build := func(s *Snapshot) {
		for _, f := range fields {
			s.Index("service", f)
			s.Index("team", f)
		}
		s.NumberIndex("service", "n")
		s.NumberIndex("service", "lifecycle")
	}
	build(h.Load())
	values := []any{json.Number("3"), 2.5, "x", nil, []any{"a", "a", "c"}, json.Number("-1")}
	for w := range 300 {
		id := fmt.Sprintf("svc-%03d", rnd.IntN(200))
		rt := map[string]any{}
		for _, f := range []string{"n", "lifecycle", "tags"} {
			if rnd.IntN(2) == 0 {
				rt[f] = values[rnd.IntN(len(values))]
			}
		}
		h.SetRuntime("service", id, rt, at.Add(time.Duration(w)*time.Second), "ci")
		cur := h.Load()
		if w%3 == 0 {
			build(cur) // some indexes are built on patched snapshots, some carried through several writes
		}
		fresh := &Snapshot{Entities: cur.Entities, Blueprints: cur.Blueprints}
		cur.idxMu.RLock()
		for k, got := range cur.idx {
			want := fresh.Index(k.blueprint, k.field)
			if len(got) != len(want) {
				t.Fatalf("write %d, index %v: %d values, fresh %d", w, k, len(got), len(want))
			}
			for v, es := range want {
				if !sameEntities(got[v], es) {
					t.Fatalf("write %d, index %v, value %q: %v, fresh %v", w, k, v, ids(got[v]), ids(es))
				}
			}
		}
		for k, got := range cur.nums {
			want := fresh.NumberIndex(k.blueprint, k.field)
			if !slices.IsSortedFunc(got, func(a, b Ranked) int { return cmp.Compare(a.N, b.N) }) || !sameRanked(got, want) {
				t.Fatalf("write %d, number index %v: %v, fresh %v", w, k, got, want)
			}
		}
		cur.idxMu.RUnlock()
	}
}

func ids(es []*Entity) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Identifier
	}
	slices.Sort(out)
	return out
}

func sameEntities(a, b []*Entity) bool {
	pa, pb := slices.Clone(a), slices.Clone(b)
	byPtr := func(x, y *Entity) int { return strings.Compare(fmt.Sprintf("%p", x), fmt.Sprintf("%p", y)) }
	slices.SortFunc(pa, byPtr)
	slices.SortFunc(pb, byPtr)
	return slices.Equal(pa, pb)
}

func sameRanked(a, b []Ranked) bool {
	key := func(r Ranked) string { return fmt.Sprintf("%v %p", r.N, r.E) }
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		ka[i] = key(a[i])
	}
	for i := range b {
		kb[i] = key(b[i])
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}
