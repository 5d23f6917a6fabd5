package compute

import (
	"encoding/json"
	"fmt"

	"github.com/pierhq/pier/internal/catalog"
)

// fixture returns a catalog of domains, systems, teams and services with
// no computed properties; tests add the ones they exercise.
//
//	domain d1; system s1 -> d1; system s2 (no domain)
//	team t1 (slack #t1), t2 (slack #t2), t3 (no services)
//	service a: team t1, system s1, cost 10, deps [b, c]
//	service b: team t1, system s2, cost 20
//	service c: team t1, cost 30, lang Go
//	service d: team t2, cost null, deps [gone]
//	service e: no team
func fixture() *catalog.Catalog {
	c := catalog.New()
	num := func(t string) catalog.Property { return catalog.Property{Type: t} }
	c.Blueprints["domain"] = &catalog.Blueprint{Identifier: "domain",
		Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{"name": num("string")}}}
	c.Blueprints["system"] = &catalog.Blueprint{Identifier: "system",
		Schema:    catalog.BlueprintSchema{Properties: map[string]catalog.Property{}},
		Relations: map[string]catalog.Relation{"domain": {Target: "domain"}}}
	c.Blueprints["team"] = &catalog.Blueprint{Identifier: "team",
		Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{"slack_channel": num("string")}}}
	c.Blueprints["service"] = &catalog.Blueprint{Identifier: "service",
		Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
			"cpu_requests": num("number"), "cpu_limits": num("number"),
			"cost_per_month": num("number"), "requests_per_month": num("number"),
			"repository": num("string"), "lang": num("string"), "tags": num("array"),
		}},
		Relations: map[string]catalog.Relation{
			"team":   {Target: "team"},
			"system": {Target: "system"},
			"deps":   {Target: "service", Many: true},
		}}
	add := func(bp, id, title string, props, rels map[string]any) {
		if c.Entities[bp] == nil {
			c.Entities[bp] = map[string]*catalog.Entity{}
		}
		if props == nil {
			props = map[string]any{}
		}
		if rels == nil {
			rels = map[string]any{}
		}
		c.Entities[bp][id] = &catalog.Entity{Blueprint: bp, Identifier: id, Title: title, Properties: props, Relations: rels}
	}
	add("domain", "d1", "Payments", map[string]any{"name": "payments"}, nil)
	add("system", "s1", "Checkout", nil, map[string]any{"domain": "d1"})
	add("system", "s2", "Search", nil, nil)
	add("team", "t1", "Team One", map[string]any{"slack_channel": "#t1"}, nil)
	add("team", "t2", "Team Two", map[string]any{"slack_channel": "#t2"}, nil)
	add("team", "t3", "Team Three", nil, nil)
	add("service", "a", "A", map[string]any{"cost_per_month": json.Number("10"), "lang": "Go", "repository": "https://x/a"},
		map[string]any{"team": "t1", "system": "s1", "deps": []any{"b", "c"}})
	add("service", "b", "B", map[string]any{"cost_per_month": json.Number("20"), "lang": "Python"},
		map[string]any{"team": "t1", "system": "s2"})
	add("service", "c", "C", map[string]any{"cost_per_month": json.Number("30"), "lang": "Go"},
		map[string]any{"team": "t1"})
	add("service", "d", "D", map[string]any{"cost_per_month": nil},
		map[string]any{"team": "t2", "deps": []any{"gone"}})
	add("service", "e", "E", nil, nil)
	return c
}

func key(bp, id string) catalog.Key { return entityKey(bp, id) }

// show renders a computed value for comparison: JSON, or "<absent>".
func show(m map[string]any, name string) string {
	v, ok := m[name]
	if !ok {
		return "<absent>"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}
