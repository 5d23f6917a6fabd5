package reconciler

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/pierhq/pier/internal/catalog"
)

// TestSpliceProperties checks the splice against json.Marshal of the
// merged entity, byte for byte, over random entities and values.
func TestSpliceProperties(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	strs := []string{"", "plain", `quo"te`, `back\slash`, "<html>&", "ünï", "a,\"properties\":{", "}{]["}
	var value func(depth int) any
	value = func(depth int) any {
		switch rnd.IntN(8) {
		case 0:
			return nil
		case 1:
			return rnd.IntN(2) == 0
		case 2:
			return json.Number(fmt.Sprint(rnd.IntN(1000) - 500))
		case 3:
			return []json.Number{"1.5e3", "-0.25", "7", "0"}[rnd.IntN(4)]
		case 6:
			// What jq gives computed properties; json.Marshal switches
			// to exponents below 1e-6 and from 1e21.
			return []any{0.0, -3.0, 57.5, 1e-7, 1e-6, 1e21, 123456789.125, 1e20, -2.5e-5, 7, int64(-9)}[rnd.IntN(11)]
		case 4:
			if depth < 2 {
				return []any{value(depth + 1), strs[rnd.IntN(len(strs))]}
			}
		case 5:
			if depth < 2 {
				return map[string]any{strs[rnd.IntN(len(strs))]: value(depth + 1), "k": value(depth + 1)}
			}
		}
		return strs[rnd.IntN(len(strs))]
	}
	names := []string{"a", "b", "cost", "coverage_gap", "team_slack", "z", `we"ird`, "Ünicode", "<x>"}
	props := func(n int) map[string]any {
		if n < 0 {
			return nil
		}
		m := map[string]any{}
		for range n {
			m[names[rnd.IntN(len(names))]] = value(0)
		}
		return m
	}
	for i := range 3000 {
		e := &catalog.Entity{Blueprint: "service", Identifier: fmt.Sprintf("svc-%d", i), Title: strs[rnd.IntN(len(strs))],
			Properties: props(rnd.IntN(6) - 1), Relations: map[string]any{"team": strs[rnd.IntN(len(strs))]}}
		if rnd.IntN(2) == 0 {
			e.Team = []string{strs[rnd.IntN(len(strs))]}
		}
		vals := props(1 + rnd.IntN(3))
		if rnd.IntN(10) == 0 {
			// Numbers json.Marshal writes differently ("" as 0) or refuses.
			vals["n"] = []json.Number{"", " 1", "1 ", "1e", "0x10", "--1", "01"}[rnd.IntN(7)]
		}
		orig, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		merged := *e
		merged.Properties = maps.Clone(e.Properties)
		if merged.Properties == nil {
			merged.Properties = map[string]any{}
		}
		maps.Copy(merged.Properties, vals)
		want, err := json.Marshal(&merged)
		got, ok := spliceProperties(orig, vals)
		if err != nil {
			// An invalid json.Number: no splice, and encoding the
			// merged entity reports the error.
			if ok {
				t.Fatalf("case %d: spliced %s although json.Marshal says %v", i, got, err)
			}
			continue
		}
		if !ok || string(got) != string(want) {
			t.Fatalf("case %d (ok %v):\n orig %s\n vals %v\n got  %s\n want %s", i, ok, orig, vals, got, want)
		}
	}
}

// BenchmarkSpliceProperties splices a calculation and a mirror into a
// service shaped like the synthetic benchmark catalog's.
func BenchmarkSpliceProperties(b *testing.B) {
	e := &catalog.Entity{Blueprint: "service", Identifier: "svc-000042", Title: "Service 42", Team: []string{"team-042"},
		Properties: map[string]any{"language": "go", "lifecycle": "Production", "tier": "Tier 1",
			"repository": "https://github.com/acme/svc-000042", "test_coverage": json.Number("42.5"),
			"on_call": "oncall-42@acme.example", "created": "2026-07-15T10:00:00Z", "tags": []any{"svc", "team-042"},
			"has_readme": true, "replicas": json.Number("43")},
		Relations: map[string]any{"team": "team-042"}}
	orig, err := json.Marshal(e)
	if err != nil {
		b.Fatal(err)
	}
	vals := map[string]any{"coverage_gap": json.Number("57.5"), "team_slack": "#team-042"}
	for b.Loop() {
		if _, ok := spliceProperties(orig, vals); !ok {
			b.Fatal("not spliced")
		}
	}
}
