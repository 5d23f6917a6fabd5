package query

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
)

const benchEntities = 20000

// synthetic builds n entities shaped like a real catalog: mostly
// services with a lifecycle, a coverage number, tags and a deploy time,
// related to one of 50 teams.
func synthetic(n int) ([]*Entity, *catalog.Catalog) {
	r := rand.New(rand.NewPCG(1, 2))
	c := catalog.New()
	c.Blueprints["team"] = &catalog.Blueprint{Identifier: "team"}
	c.Blueprints["service"] = &catalog.Blueprint{Identifier: "service", Relations: map[string]catalog.Relation{
		"team": {Target: "team", Required: true},
	}}
	c.Entities["team"] = map[string]*catalog.Entity{}
	c.Entities["service"] = map[string]*catalog.Entity{}
	lifecycles := []string{"Production", "Staging", "Development", "Deprecated"}
	tags := []string{"pci", "gdpr", "internal", "edge", "batch", "eu", "us"}
	out := make([]*Entity, 0, n)
	for i := range n {
		var e *catalog.Entity
		if i%5 == 0 {
			e = &catalog.Entity{Blueprint: "team", Identifier: fmt.Sprintf("team-%d", i/5%50),
				Properties: map[string]any{"size": json.Number(fmt.Sprint(r.IntN(30)))}}
		} else {
			ts := []any{}
			for _, t := range tags {
				if r.IntN(4) == 0 {
					ts = append(ts, t)
				}
			}
			e = &catalog.Entity{
				Blueprint:  "service",
				Identifier: fmt.Sprintf("svc-%d", i),
				Title:      fmt.Sprintf("Service %d", i),
				Team:       []string{fmt.Sprintf("team-%d", i%50)},
				Properties: map[string]any{
					"lifecycle":     lifecycles[r.IntN(len(lifecycles))],
					"test_coverage": json.Number(fmt.Sprintf("%d.%d", r.IntN(101), r.IntN(10))),
					"tags":          ts,
					"deployedAt":    clock.Add(-time.Duration(r.IntN(90*24)) * time.Hour).Format(time.RFC3339),
					"language":      "Go",
				},
				Relations: map[string]any{"team": fmt.Sprintf("team-%d", i%50)},
			}
		}
		c.Entities[e.Blueprint][e.Identifier] = e
		out = append(out, &Entity{Entity: e, CreatedAt: clock.Add(-time.Duration(i) * time.Minute)})
	}
	return out, c
}

const benchQuery = `{"combinator":"and","rules":[
	{"property":"$blueprint","operator":"=","value":"service"},
	{"property":"lifecycle","operator":"in","value":["Production","Staging"]},
	{"property":"test_coverage","operator":">=","value":80},
	{"property":"tags","operator":"containsAny","value":["pci","gdpr"]},
	{"property":"deployedAt","operator":"between","value":{"preset":"lastMonth"}}
]}`

func runBench(b *testing.B, match func(*Entity) bool, es []*Entity) {
	b.ReportAllocs()
	hits := 0
	start := time.Now()
	loops := 0
	for b.Loop() {
		hits = 0
		for _, e := range es {
			if match(e) {
				hits++
			}
		}
		loops++
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(loops*len(es)), "ns/entity")
	b.ReportMetric(float64(hits), "matches")
}

// BenchmarkMatch evaluates a 5-rule query over 20,000 entities.
func BenchmarkMatch(b *testing.B) {
	es, _ := synthetic(benchEntities)
	q := mustCompile(b, benchQuery)
	runBench(b, func(e *Entity) bool { return q.Match(e, nil) }, es)
}

// BenchmarkMatcher is BenchmarkMatch through a Matcher (one clock read
// per search instead of per entity).
func BenchmarkMatcher(b *testing.B) {
	es, _ := synthetic(benchEntities)
	m := mustCompile(b, benchQuery).Matcher(nil)
	runBench(b, m.Match, es)
}

// BenchmarkRelatedToUpstream: the cached closure makes each entity a
// map lookup.
func BenchmarkRelatedToUpstream(b *testing.B) {
	es, c := synthetic(benchEntities)
	q := mustCompile(b, one(`{"operator":"relatedTo","blueprint":"service","value":["svc-1","svc-2"],"direction":"upstream"}`))
	g := GraphOf(c)
	b.ReportAllocs()
	for b.Loop() {
		m := q.Matcher(g)
		for _, e := range es {
			m.Match(e)
		}
	}
}

// BenchmarkRelatedToDownstream walks each entity's relations.
func BenchmarkRelatedToDownstream(b *testing.B) {
	es, c := synthetic(benchEntities)
	q := mustCompile(b, one(`{"operator":"relatedTo","blueprint":"team","value":"team-7","direction":"downstream"}`))
	g := GraphOf(c)
	m := q.Matcher(g)
	runBench(b, m.Match, es)
}

// BenchmarkMatchHot evaluates the same query on one cached entity: the
// engine's own cost, without the memory traffic of walking 20,000.
func BenchmarkMatchHot(b *testing.B) {
	es, _ := synthetic(benchEntities)
	q := mustCompile(b, benchQuery)
	var e *Entity
	for _, x := range es {
		if q.Match(x, nil) {
			e = x
			break
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		q.Match(e, nil)
	}
}
