package compute

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/pierhq/pier/internal/catalog"
)

// benchCatalog has 20,000 services, each with one jq calculation and
// one mirror, and 100 teams, each summing its services' cost.
func benchCatalog() *catalog.Catalog {
	c := catalog.New()
	c.Blueprints["team"] = &catalog.Blueprint{Identifier: "team",
		Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{"slack_channel": {Type: "string"}}},
		AggregationProperties: map[string]catalog.AggregationProperty{
			"cost": {Target: "service", CalculationSpec: catalog.CalculationSpec{Func: "sum", CalculationBy: "property", Property: "cost_per_month"}}},
	}
	c.Blueprints["service"] = &catalog.Blueprint{Identifier: "service",
		Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
			"cost_per_month": {Type: "number"}, "repository": {Type: "string"}}},
		Relations:             map[string]catalog.Relation{"team": {Target: "team", Required: true}},
		MirrorProperties:      map[string]catalog.MirrorProperty{"team_slack_channel": {Path: "team.slack_channel"}},
		CalculationProperties: map[string]catalog.CalculationProperty{"yearly": {Type: "number", Calculation: `.properties.cost_per_month * 12`}},
	}
	c.Entities["team"] = map[string]*catalog.Entity{}
	c.Entities["service"] = map[string]*catalog.Entity{}
	for i := range 100 {
		id := fmt.Sprintf("team-%d", i)
		c.Entities["team"][id] = &catalog.Entity{Blueprint: "team", Identifier: id,
			Properties: map[string]any{"slack_channel": "#" + id}, Relations: map[string]any{}}
	}
	for i := range 20000 {
		id := fmt.Sprintf("svc-%d", i)
		c.Entities["service"][id] = &catalog.Entity{Blueprint: "service", Identifier: id,
			Properties: map[string]any{"cost_per_month": json.Number(strconv.Itoa(i % 97)), "repository": "https://x/" + id},
			Relations:  map[string]any{"team": fmt.Sprintf("team-%d", i%100)}}
	}
	return c
}

func BenchmarkEvaluateFull(b *testing.B) {
	c := benchCatalog()
	p, err := Compile(c)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, errs := p.Evaluate(c); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

func BenchmarkBind(b *testing.B) {
	c := benchCatalog()
	p, err := Compile(c)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		p.Bind(c)
	}
}

// BenchmarkIncremental measures Affected+EvaluateOnly for a change of
// one service over a bound snapshot and the previous result.
func BenchmarkIncremental(b *testing.B) {
	c := benchCatalog()
	p, err := Compile(c)
	if err != nil {
		b.Fatal(err)
	}
	s := p.Bind(c)
	prev, errs := s.Evaluate()
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	changed := []catalog.Key{entityKey("service", "svc-4242")}
	c.Entities["service"]["svc-4242"].Properties["cost_per_month"] = json.Number("1000")
	keys := s.Affected(changed)
	if len(keys) != 2 {
		b.Fatalf("affected %v, want the service and its team", keys)
	}
	b.ResetTimer()
	for b.Loop() {
		keys := s.Affected(changed)
		if _, errs := s.EvaluateOnly(keys, prev); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}
