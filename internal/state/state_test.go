package state

import (
	"encoding/json"
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
