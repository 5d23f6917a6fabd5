package scorecard

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
)

const benchEntities = 20000

// benchRules are ten rules of mixed operators over benchEntity's
// properties, spread over Bronze, Silver and Gold.
var benchRules = []string{
	`{"property": "has_readme", "operator": "=", "value": true}`,
	`{"property": "owner", "operator": "isNotEmpty"}`,
	`{"property": "language", "operator": "in", "value": ["Go", "Java", "Python"]}`,
	`{"property": "coverage", "operator": ">=", "value": 60}`,
	`{"property": "critical", "operator": "=", "value": 0}`,
	`{"property": "repository", "operator": "beginsWith", "value": "https://github.com/"}`,
	`{"property": "tags", "operator": "contains", "value": "pci"}`,
	`{"property": "coverage", "operator": "between", "value": {"from": 80, "to": 100}}`,
	`{"property": "review", "operator": "!=", "value": "rejected"}`,
	`{"property": "incidents", "operator": "<", "value": 3}`,
}

var benchLevels = []string{"Bronze", "Bronze", "Bronze", "Silver", "Silver", "Silver", "Gold", "Gold", "Gold", "Gold"}

// benchScorecards returns three scorecards of ten rules each. When
// linked, the third reads the first's level.
func benchScorecards(t testing.TB, linked bool) []*catalog.Scorecard {
	filters := []string{
		`"blueprintIdentifier": "service", "filter": {"combinator": "and", "rules": [{"property": "lifecycle", "operator": "in", "value": ["Production", "Staging"]}]}`,
		`"filter": {"combinator": "and", "rules": [{"property": "$blueprint", "operator": "=", "value": "service"}]}`,
		`"blueprintIdentifier": "service"`,
	}
	var out []*catalog.Scorecard
	for i, f := range filters {
		var rs []string
		for j, r := range benchRules {
			if linked && i == 2 && j == 9 {
				r = `{"property": "$scorecard.sc0.level", "operator": ">=", "value": "Basic"}`
			}
			// Rotate so that each scorecard puts different rules on
			// each level.
			lv := benchLevels[(j+i*3)%len(benchLevels)]
			rs = append(rs, fmt.Sprintf(`{"identifier": "r%d", "level": %q, "query": {"combinator": "and", "rules": [%s]}}`, j, lv, r))
		}
		out = append(out, decodeScorecard(t, fmt.Sprintf(`{"identifier": "sc%d", %s, "rules": [%s]}`, i, f, strings.Join(rs, ", "))))
	}
	return out
}

// benchEntity is a service whose properties vary with i so that every
// level and rule outcome occurs.
func benchEntity(i int) *query.Entity {
	langs := []string{"Go", "Java", "Python", "Rust", "C#"}
	lifecycles := []string{"Production", "Staging", "Development", "Production"}
	tags := []any{"team-x"}
	if i%3 == 0 {
		tags = append(tags, "pci")
	}
	owner := ""
	if i%11 != 0 {
		owner = "team-" + fmt.Sprint(i%40)
	}
	return &query.Entity{Entity: &catalog.Entity{
		Blueprint:  "service",
		Identifier: fmt.Sprintf("svc-%05d", i),
		Properties: map[string]any{
			"has_readme": i%7 != 0,
			"owner":      owner,
			"language":   langs[i%len(langs)],
			"lifecycle":  lifecycles[i%len(lifecycles)],
			"coverage":   json.Number(fmt.Sprint(i % 101)),
			"critical":   json.Number(fmt.Sprint(i % 13 / 12)),
			"repository": []string{"https://github.com/acme/svc-", "https://gitlab.com/acme/svc-"}[min(i%17, 1)^1] + fmt.Sprint(i),
			"tags":       tags,
			"review":     []string{"approved", "pending", "rejected"}[i%3],
			"incidents":  json.Number(fmt.Sprint(i % 9)),
		},
		Relations: map[string]any{},
	}}
}

func BenchmarkEvaluateAll(b *testing.B) {
	es := make([]*query.Entity, benchEntities)
	for i := range es {
		es[i] = benchEntity(i)
	}
	for _, linked := range []bool{false, true} {
		name := "independent"
		if linked {
			name = "linked"
		}
		b.Run(name, func(b *testing.B) {
			set, err := CompileAll(catalogOf(benchScorecards(b, linked)), opts())
			if err != nil {
				b.Fatal(err)
			}
			var res Results
			b.ReportAllocs()
			for b.Loop() {
				res = set.EvaluateAll(slices.Values(es), nil)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchEntities, "ns/entity")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/run")
			if len(res) == 0 {
				b.Fatal("no results")
			}
		})
	}
	b.Run("incremental-100", func(b *testing.B) {
		set, err := CompileAll(catalogOf(benchScorecards(b, true)), opts())
		if err != nil {
			b.Fatal(err)
		}
		res := set.EvaluateAll(slices.Values(es), nil)
		keys := make([]catalog.Key, 100)
		byKey := make(map[catalog.Key]*query.Entity, len(keys))
		for i := range keys {
			e := es[i*(benchEntities/len(keys))]
			keys[i] = entityKey(e.Entity)
			byKey[keys[i]] = e
		}
		lookup := func(k catalog.Key) *query.Entity { return byKey[k] }
		b.ReportAllocs()
		for b.Loop() {
			if err := set.EvaluateOnly(res, keys, lookup, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestBenchDistribution keeps the benchmark honest: its data must reach
// every level of every scorecard, so that no rule short-circuits.
func TestBenchDistribution(t *testing.T) {
	es := make([]*query.Entity, 2000)
	for i := range es {
		es[i] = benchEntity(i)
	}
	set, err := CompileAll(catalogOf(benchScorecards(t, true)), opts())
	if err != nil {
		t.Fatal(err)
	}
	res := set.EvaluateAll(slices.Values(es), nil)
	for _, sum := range set.Summaries(res) {
		for _, l := range sum.Levels {
			if l.Entities == 0 {
				t.Errorf("%s: no entity at %s", sum.Identifier, l.Title)
			}
		}
		for _, r := range sum.Rules {
			if r.Passed == 0 || r.Failed == 0 {
				t.Errorf("%s: rule %s passed %d failed %d", sum.Identifier, r.Identifier, r.Passed, r.Failed)
			}
		}
	}
}

// TestEvaluateAllInParallel checks that the parallel full evaluation
// gives exactly what entity-by-entity evaluation gives.
func TestEvaluateAllInParallel(t *testing.T) {
	es := make([]*query.Entity, 6000) // enough for several workers
	for i := range es {
		es[i] = benchEntity(i)
	}
	set, err := CompileAll(catalogOf(benchScorecards(t, true)), opts())
	if err != nil {
		t.Fatal(err)
	}
	got := set.EvaluateAll(slices.Values(es), nil)
	want := Results{}
	ev := set.evaluator(nil)
	for _, e := range es {
		if r := ev.entity(e); r != nil {
			want[entityKey(e.Entity)] = r
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parallel results differ: %d vs %d entities", len(got), len(want))
	}
}
