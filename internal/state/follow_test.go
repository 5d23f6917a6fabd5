package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

// stored is what a store holds for c: every object, at a position of its
// own, with the times it was created and last changed (kept from prev
// for objects that did not change).
func stored(t *testing.T, c *catalog.Catalog, seq int64, at time.Time, prev *store.State) *store.State {
	t.Helper()
	st := &store.State{Revision: fmt.Sprintf("r%d", seq), Seq: seq, Objects: map[catalog.Key]store.Object{}}
	add := func(k catalog.Key, v any) {
		o, err := catalog.NewObject(k, v, catalog.Pos{File: k.String() + ".json", Line: 1, Col: 1})
		if err != nil {
			t.Fatal(err)
		}
		so := store.Object{Key: k, JSON: o.JSON, Hash: o.Hash, Source: o.Source, CreatedAt: at, UpdatedAt: at}
		if p, ok := prev.Objects[k]; ok {
			so.CreatedAt = p.CreatedAt
			if p.Hash == so.Hash {
				so.UpdatedAt = p.UpdatedAt
			}
		}
		st.Objects[k] = so
	}
	for id, v := range c.Blueprints {
		add(catalog.Key{Kind: catalog.KindBlueprintObj, ID: id}, v)
	}
	for id, v := range c.Scorecards {
		add(catalog.Key{Kind: catalog.KindScorecardObj, ID: id}, v)
	}
	for id, v := range c.Actions {
		add(catalog.Key{Kind: catalog.KindActionObj, ID: id}, v)
	}
	for bp, es := range c.Entities {
		for id, v := range es {
			add(catalog.Key{Kind: catalog.KindEntityObj, Blueprint: bp, ID: id}, v)
		}
	}
	st.Settings, _ = json.Marshal(c.Settings)
	return st
}

// changes is what ChangesSince answers between two stored states.
func changes(from, to *store.State, at time.Time) *store.Changes {
	ch := &store.Changes{Since: from.Seq, Revision: store.Revision{Seq: to.Seq, Revision: to.Revision, StartedAt: at}, Settings: to.Settings}
	for k, o := range to.Objects {
		if p, ok := from.Objects[k]; !ok || p.Hash != o.Hash {
			ch.Objects = append(ch.Objects, o)
		}
	}
	for k := range from.Objects {
		if _, ok := to.Objects[k]; !ok {
			ch.Deleted = append(ch.Deleted, k)
		}
	}
	return ch
}

// TestFollowMatchesRestore: a replica that follows revision after
// revision serves exactly what one restoring the last revision from the
// store serves — entities with their times and runtime values, sources,
// scorecard levels — over random changes to entities, blueprints,
// scorecards and settings.
func TestFollowMatchesRestore(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	card := &catalog.Scorecard{Identifier: "ready", BlueprintIdentifier: "service", Rules: []catalog.ScorecardRule{
		{Identifier: "prod", Level: "Bronze", Query: catalog.Query{Combinator: "and", Rules: []catalog.Rule{{Property: "lifecycle", Operator: "=", Value: "Production"}}}},
		{Identifier: "healthy", Level: "Silver", Query: catalog.Query{Combinator: "and", Rules: []catalog.Rule{{Property: "health", Operator: "=", Value: "Healthy"}}}},
	}}
	c := catalogWith("Staging")
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	prev := stored(t, c, 1, t0, &store.State{})
	follower := NewHolder()
	if err := follower.Restore(prev, nil, t0); err != nil {
		t.Fatal(err)
	}
	follower.FollowRuntime(store.Runtime{Blueprint: "service", Identifier: "web", Properties: map[string]any{"health": "Healthy"}, UpdatedAt: t0, UpdatedBy: "ci"})
	runtimes := map[string]store.Runtime{"web": {Blueprint: "service", Identifier: "web", Properties: map[string]any{"health": "Healthy"}, UpdatedAt: t0, UpdatedBy: "ci"}}
	var last *Snapshot
	for seq := int64(2); seq < 60; seq++ {
		served := follower.Load()
		next := catalogWith("Staging")
		next.Entities["service"] = maps.Clone(c.Entities["service"])
		next.Scorecards = maps.Clone(c.Scorecards)
		next.Settings = c.Settings
		ids := slices.Sorted(maps.Keys(next.Entities["service"]))
		switch rng.IntN(6) {
		case 0: // a new service
			id := fmt.Sprintf("svc-%d", seq)
			next.Entities["service"][id] = &catalog.Entity{Blueprint: "service", Identifier: id, Properties: map[string]any{"lifecycle": "Production"}, Relations: map[string]any{"team": "payments"}}
		case 1: // one deleted
			if len(ids) > 1 {
				id := ids[rng.IntN(len(ids))]
				delete(next.Entities["service"], id)
				delete(runtimes, id)
			}
		case 2: // one changed
			id := ids[rng.IntN(len(ids))]
			e := *next.Entities["service"][id]
			e.Properties = map[string]any{"lifecycle": []string{"Production", "Staging"}[rng.IntN(2)]}
			next.Entities["service"][id] = &e
		case 3: // the scorecard comes or goes
			if next.Scorecards["ready"] == nil {
				next.Scorecards["ready"] = card
			} else {
				delete(next.Scorecards, "ready")
			}
		case 4: // settings
			next.Settings = catalog.Settings{}
			if rng.IntN(2) == 0 {
				next.Settings.Levels = []catalog.Level{{Title: "Basic"}, {Title: "Bronze"}, {Title: "Silver"}}
			}
		case 5: // a runtime write, followed on its own
			id := ids[rng.IntN(len(ids))]
			rt := store.Runtime{Blueprint: "service", Identifier: id, Properties: map[string]any{"health": []string{"Healthy", "Degraded"}[rng.IntN(2)]}, UpdatedAt: t0.Add(time.Duration(seq) * time.Minute), UpdatedBy: "ci"}
			runtimes[id] = rt
			if !follower.FollowRuntime(rt) {
				t.Fatalf("seq %d: runtime write for served %s not followed", seq, id)
			}
		}
		at := t0.Add(time.Duration(seq) * time.Hour)
		st := stored(t, next, seq, at, prev)
		if err := follower.Follow(changes(prev, st, at)); err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
		if last != nil {
			// Readers of the snapshot served before still see it whole.
			compare(t, seq, served, last)
		}
		restored := NewHolder()
		if err := restored.Restore(st, slices.Collect(maps.Values(runtimes)), at); err != nil {
			t.Fatal(err)
		}
		compare(t, seq, follower.Load(), restored.Load())
		c, prev, last = next, st, restored.Load()
	}
	// A revision already served, or older, changes nothing.
	before := follower.Load()
	if err := follower.Follow(&store.Changes{Since: 2, Revision: store.Revision{Seq: 3, Revision: "r3"}}); err != nil || follower.Load() != before {
		t.Errorf("an old revision was followed: %v", err)
	}
	// Changes read from another state than the one served do not apply.
	if err := follower.Follow(&store.Changes{Since: before.Seq - 1, Revision: store.Revision{Seq: before.Seq + 1, Revision: "rx"}}); !errors.Is(err, ErrMovedOn) || follower.Load() != before {
		t.Errorf("changes read from another state: %v", err)
	}
}

func compare(t *testing.T, seq int64, got, want *Snapshot) {
	t.Helper()
	if got.Revision != want.Revision || got.Seq != want.Seq {
		t.Fatalf("seq %d: serves %s (%d), want %s (%d)", seq, got.Revision, got.Seq, want.Revision, want.Seq)
	}
	if !slices.Equal(slices.Sorted(maps.Keys(got.Scorecards)), slices.Sorted(maps.Keys(want.Scorecards))) ||
		!slices.Equal(slices.Sorted(maps.Keys(got.Blueprints)), slices.Sorted(maps.Keys(want.Blueprints))) {
		t.Fatalf("seq %d: blueprints/scorecards %v %v, want %v %v", seq, slices.Collect(maps.Keys(got.Blueprints)), slices.Collect(maps.Keys(got.Scorecards)),
			slices.Collect(maps.Keys(want.Blueprints)), slices.Collect(maps.Keys(want.Scorecards)))
	}
	if g, w := fmt.Sprint(got.Settings.Levels), fmt.Sprint(want.Settings.Levels); g != w {
		t.Fatalf("seq %d: settings %s, want %s", seq, g, w)
	}
	for bp, es := range want.Entities {
		if len(got.Entities[bp]) != len(es) {
			t.Fatalf("seq %d: %d %s, want %d", seq, len(got.Entities[bp]), bp, len(es))
		}
		for id, e := range es {
			g, _ := json.Marshal(got.Entities[bp][id])
			w, _ := json.Marshal(e)
			if string(g) != string(w) {
				t.Fatalf("seq %d: %s/%s\n got %s\nwant %s", seq, bp, id, g, w)
			}
			k := catalog.Key{Kind: catalog.KindEntityObj, Blueprint: bp, ID: id}
			if got.Source(k) != want.Source(k) {
				t.Fatalf("seq %d: %s at %v, want %v", seq, k, got.Source(k), want.Source(k))
			}
			for card := range want.Scorecards {
				if gl, wl := got.Scores.Level(k, card), want.Scores.Level(k, card); gl != wl {
					t.Fatalf("seq %d: %s %s level %q, want %q", seq, k, card, gl, wl)
				}
			}
		}
	}
}
