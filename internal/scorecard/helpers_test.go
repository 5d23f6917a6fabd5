package scorecard

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
)

// clock is the fixed instant every test evaluates at.
var clock = time.Date(2024, 5, 15, 12, 0, 0, 0, time.UTC)

func opts() query.Options { return query.Options{Now: func() time.Time { return clock }} }

// decodeScorecard reads a scorecard the way the API does.
func decodeScorecard(t testing.TB, src string) *catalog.Scorecard {
	t.Helper()
	var sc catalog.Scorecard
	if err := json.Unmarshal([]byte(src), &sc); err != nil {
		t.Fatalf("decode scorecard: %v\n%s", err, src)
	}
	return &sc
}

func loadScorecard(t testing.TB, name string) *catalog.Scorecard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return decodeScorecard(t, string(b))
}

func mustCompile(t testing.TB, sc *catalog.Scorecard) *Scorecard {
	t.Helper()
	s, err := Compile(sc, opts())
	if err != nil {
		t.Fatalf("compile %s: %v", sc.Identifier, err)
	}
	return s
}

// entity builds an entity from JSON properties, numbers kept as
// json.Number as the loader keeps them.
func entity(t testing.TB, blueprint, id, props string) *query.Entity {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader([]byte(props)))
	d.UseNumber()
	var p map[string]any
	if err := d.Decode(&p); err != nil {
		t.Fatalf("decode properties %s: %v", props, err)
	}
	return &query.Entity{Entity: &catalog.Entity{Blueprint: blueprint, Identifier: id, Properties: p, Relations: map[string]any{}}}
}

func key(blueprint, id string) catalog.Key {
	return catalog.Key{Kind: catalog.KindEntityObj, Blueprint: blueprint, ID: id}
}

// statuses renders rule outcomes as "id:+" / "id:-" in rule order.
func statuses(r Result) []string {
	out := make([]string, len(r.Rules()))
	for i, rr := range r.Rules() {
		s := "-"
		if rr.Passed() {
			s = "+"
		}
		out[i] = rr.Identifier + ":" + s
	}
	return out
}

// catalogOf builds a catalog with the given scorecards and entities.
func catalogOf(scs []*catalog.Scorecard, es ...*query.Entity) *catalog.Catalog {
	c := catalog.New()
	for _, sc := range scs {
		c.Scorecards[sc.Identifier] = sc
	}
	for _, e := range es {
		if c.Entities[e.Blueprint] == nil {
			c.Entities[e.Blueprint] = map[string]*catalog.Entity{}
		}
		c.Entities[e.Blueprint][e.Identifier] = e.Entity
	}
	return c
}
