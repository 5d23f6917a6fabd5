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
		switch rnd.IntN(7) {
		case 0:
			return nil
		case 1:
			return rnd.IntN(2) == 0
		case 2:
			return json.Number(fmt.Sprint(rnd.IntN(1000) - 500))
		case 3:
			return json.Number("1.5e3")
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
		want, _ := json.Marshal(&merged)
		got, ok := spliceProperties(orig, vals)
		if !ok || string(got) != string(want) {
			t.Fatalf("case %d (ok %v):\n orig %s\n vals %v\n got  %s\n want %s", i, ok, orig, vals, got, want)
		}
	}
}
