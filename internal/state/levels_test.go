package state

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/store/sqlite"
	"github.com/pierhq/pier/reconciler"
)

func TestLevelMoves(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, _ := loader.New(1)
	rec := reconciler.New(l, st, nil, reconciler.Options{})
	h := NewHolder()
	var got []string
	h.OnMoves = func(rev string, _ time.Time, moves []LevelMove) {
		for _, m := range moves {
			got = append(got, fmt.Sprintf("%s %s/%s %s: %q->%q", rev, m.Key.Blueprint, m.Key.ID, m.Scorecard, m.From, m.To))
		}
	}
	catalog := func(entities string) fstest.MapFS {
		return fstest.MapFS{"c.cue": {Data: []byte(`
blueprints: svc: {title: "S", schema: properties: cov: {type: "number"}}
scorecards: quality: {
	blueprintIdentifier: "svc"
	rules: [
		{identifier: "some", level: "Bronze", query: {combinator: "and", rules: [{property: "cov", operator: ">=", value: 50}]}},
		{identifier: "most", level: "Silver", query: {combinator: "and", rules: [{property: "cov", operator: ">=", value: 80}]}},
	]
}
` + entities)}}
	}
	publish := func(rev, entities string) {
		t.Helper()
		res, err := rec.Reconcile(ctx, reconciler.Revision{ID: rev, FS: catalog(entities)})
		if err != nil || res.Outcome == reconciler.Failed {
			t.Fatalf("%s: %v %v", rev, err, res.Diagnostics)
		}
		h.Publish(FromResult(res))
	}
	expect := func(want ...string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("moves\n got %q\nwant %q", got, want)
		}
		got = nil
	}
	publish("r1", `entities: svc: {a: properties: cov: 10, b: properties: cov: 90}`)
	expect(`r1 svc/a quality: ""->"Basic"`, `r1 svc/b quality: ""->"Gold"`)
	publish("r2", `entities: svc: {a: properties: cov: 60, b: properties: cov: 95}`)
	expect(`r2 svc/a quality: "Basic"->"Bronze"`) // b stays Gold (no Gold rules: passing Silver is enough): no move
	publish("r3", `entities: svc: {a: properties: cov: 60}`)
	expect(`r3 svc/b quality: "Gold"->""`)

	// A snapshot restored from the store records nothing: its levels are
	// the history's last ones already.
	restored := NewHolder()
	restored.OnMoves = h.OnMoves
	state, _ := st.State(ctx)
	if err := restored.Restore(state, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	expect()
}

// Catalog-wide levels are settings, not objects: a restart must bring
// them back with the state, or scorecards fall back to Port's defaults
// until the next reconcile.
func TestRestoreKeepsCatalogLevels(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, _ := loader.New(1)
	res, err := reconciler.New(l, st, nil, reconciler.Options{}).Reconcile(ctx, reconciler.Revision{ID: "r1", FS: fstest.MapFS{"c.cue": {Data: []byte(`
settings: levels: [{title: "Low"}, {title: "High"}]
blueprints: svc: {title: "S", schema: properties: cov: {type: "number"}}
scorecards: quality: {
	blueprintIdentifier: "svc"
	rules: [{identifier: "most", level: "High", query: {combinator: "and", rules: [{property: "cov", operator: ">=", value: 80}]}}]
}
entities: svc: {a: properties: cov: 10, b: properties: cov: 90}
`)}}})
	if err != nil || res.Outcome == reconciler.Failed {
		t.Fatalf("%v %v", err, res.Diagnostics)
	}
	state, err := st.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHolder()
	if err := h.Restore(state, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	snap := h.Load()
	got := fmt.Sprintln(snap.Scores.Level(catalog.Key{Kind: catalog.KindEntityObj, Blueprint: "svc", ID: "a"}, "quality"),
		snap.Scores.Level(catalog.Key{Kind: catalog.KindEntityObj, Blueprint: "svc", ID: "b"}, "quality"))
	if got != "Low High\n" {
		t.Fatalf("restored levels: %s, want Low High", got)
	}
}
