package compute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/synth"
)

// evalOne compiles c, evaluates it and returns the values of entity k.
func evalOne(t *testing.T, c *catalog.Catalog, k catalog.Key) (map[string]any, []error) {
	t.Helper()
	p, err := Compile(c)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	res, all := p.Evaluate(c)
	var errs []error
	for _, err := range all {
		if strings.Contains(err.Error(), k.String()+":") {
			errs = append(errs, err)
		}
	}
	return res[k], errs
}

func TestFormula(t *testing.T) {
	tests := []struct {
		name    string
		formula string
		props   map[string]any
		want    string
	}{
		{"seed cpu utilisation", "(cpu_requests / cpu_limits) * 100",
			map[string]any{"cpu_requests": json.Number("1"), "cpu_limits": json.Number("2")}, "50"},
		{"seed cost per request, requests missing", "cost_per_month / (requests_per_month || 1)",
			map[string]any{"cost_per_month": json.Number("300")}, "300"},
		{"seed cost per request, requests zero", "cost_per_month / (requests_per_month || 1)",
			map[string]any{"cost_per_month": json.Number("300"), "requests_per_month": json.Number("0")}, "300"},
		{"seed cost per request, requests null", "cost_per_month / (requests_per_month || 1)",
			map[string]any{"cost_per_month": json.Number("300"), "requests_per_month": nil}, "300"},
		{"seed cost per request, requests set", "cost_per_month / (requests_per_month || 1)",
			map[string]any{"cost_per_month": json.Number("300"), "requests_per_month": json.Number("1200")}, "0.25"},
		{"division by zero is null", "(cpu_requests / cpu_limits) * 100",
			map[string]any{"cpu_requests": json.Number("1"), "cpu_limits": json.Number("0")}, "null"},
		{"missing divisor is null", "(cpu_requests / cpu_limits) * 100",
			map[string]any{"cpu_requests": json.Number("1")}, "null"},
		{"missing operand is null", "cpu_requests + 1", map[string]any{}, "null"},
		{"precedence", "1 + 2 * 3 - 4 / 2", nil, "5"},
		{"unary minus and parentheses", "-(1 + 2) * 2", nil, "-6"},
		{"|| keeps a non-zero left", "cpu_limits || 7", map[string]any{"cpu_limits": json.Number("3")}, "3"},
		{"decimals", "cpu_requests * 0.5", map[string]any{"cpu_requests": json.Number("1.5")}, "0.75"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fixture()
			bp := c.Blueprints["service"]
			bp.Schema.Properties["out"] = catalog.Property{Type: "number",
				Calculation: &catalog.Formula{Type: "formula", Formula: tt.formula}}
			e := c.Entities["service"]["a"]
			e.Properties = tt.props
			got, errs := evalOne(t, c, key("service", "a"))
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if s := show(got, "out"); s != tt.want {
				t.Errorf("%s = %s, want %s", tt.formula, s, tt.want)
			}
		})
	}
}

func TestFormulaErrors(t *testing.T) {
	tests := []struct {
		formula, wantErr string
	}{
		{"(a + 1", "expected )"},
		{"a +", "expected a number"},
		{"a b", "unexpected"},
		{"a % b", `unexpected "%"`},
		{"", "expected a number"},
	}
	for _, tt := range tests {
		t.Run(tt.formula, func(t *testing.T) {
			c := fixture()
			c.Blueprints["service"].Schema.Properties["out"] = catalog.Property{Type: "number",
				Calculation: &catalog.Formula{Type: "formula", Formula: tt.formula}}
			_, err := Compile(c)
			if err == nil || !strings.Contains(err.Error(), "service.out") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Compile error = %v, want one naming service.out and containing %q", err, tt.wantErr)
			}
		})
	}
	// A property that is not a number is an evaluation error.
	c := fixture()
	c.Blueprints["service"].Schema.Properties["out"] = catalog.Property{Type: "number",
		Calculation: &catalog.Formula{Type: "formula", Formula: "lang * 2"}}
	got, errs := evalOne(t, c, key("service", "a"))
	if len(errs) == 0 || !strings.Contains(errors.Join(errs...).Error(), "entity service/a: property out") {
		t.Errorf("errors = %v, want one naming entity service/a property out", errs)
	}
	if s := show(got, "out"); s != "<absent>" {
		t.Errorf("failed property = %s, want absent", s)
	}
}

func TestMirror(t *testing.T) {
	tests := []struct {
		name, path, entity, want string
	}{
		{"one hop property", "team.slack_channel", "a", `"#t1"`},
		{"one hop title", "team.$title", "a", `"Team One"`},
		{"two hops identifier", "system.domain.$identifier", "a", `"d1"`},
		{"two hops property", "system.domain.name", "a", `"payments"`},
		{"second hop missing", "system.domain.$identifier", "b", "null"},
		{"relation missing", "team.slack_channel", "e", "null"},
		{"many relation", "deps.$identifier", "a", `["b","c"]`},
		{"many relation through property", "deps.lang", "a", `["Python","Go"]`},
		{"many relation then single", "deps.team.$identifier", "a", `["t1","t1"]`},
		{"many relation to missing entity", "deps.$identifier", "d", `[]`},
		{"many relation absent", "deps.$identifier", "e", `[]`},
		{"leaf relation", "system.domain", "a", `"d1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fixture()
			c.Blueprints["service"].MirrorProperties = map[string]catalog.MirrorProperty{"m": {Path: tt.path}}
			got, errs := evalOne(t, c, key("service", tt.entity))
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if s := show(got, "m"); s != tt.want {
				t.Errorf("mirror %s on %s = %s, want %s", tt.path, tt.entity, s, tt.want)
			}
		})
	}
}

func TestCalculation(t *testing.T) {
	tests := []struct {
		name, typ, expr, want string
	}{
		{"string", "string", `.properties.repository + "/actions"`, `"https://x/a/actions"`},
		{"string or null", "string", `if .properties.nothing then "x" else null end`, "null"},
		{"number", "number", `.properties.cost_per_month * 12`, "120"},
		{"fraction", "number", `.properties.cost_per_month / 4`, "2.5"},
		{"boolean", "boolean", `.properties.lang == "Go"`, "true"},
		{"object", "object", `{id: .identifier, team: .relations.team}`, `{"id":"a","team":"t1"}`},
		{"array", "array", `.relations.deps`, `["b","c"]`},
		{"title and blueprint", "string", `.blueprint + ":" + .title`, `"service:A"`},
		{"no output is null", "string", `empty`, "null"},
		{"untyped", "", `[1, "x"]`, `[1,"x"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fixture()
			c.Blueprints["service"].CalculationProperties = map[string]catalog.CalculationProperty{
				"calc": {Type: tt.typ, Calculation: tt.expr}}
			got, errs := evalOne(t, c, key("service", "a"))
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if s := show(got, "calc"); s != tt.want {
				t.Errorf("%s = %s, want %s", tt.expr, s, tt.want)
			}
		})
	}
}

func TestCalculationErrors(t *testing.T) {
	tests := []struct {
		name, typ, expr string
		want            []string
	}{
		{"type mismatch", "number", `.properties.lang`,
			[]string{"entity service/a", "property calc", `produced string "Go"`, "of type number"}},
		{"object for string", "string", `{a: 1}`,
			[]string{"entity service/a", "property calc", `produced object {"a":1}`}},
		{"runtime error", "number", `.properties.lang - 1`,
			[]string{"entity service/a", "property calc", "cannot subtract"}},
		{"error builtin", "string", `error("boom")`, []string{"property calc", "boom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fixture()
			c.Blueprints["service"].CalculationProperties = map[string]catalog.CalculationProperty{
				"calc": {Type: tt.typ, Calculation: tt.expr}}
			got, errs := evalOne(t, c, key("service", "a"))
			err := errors.Join(errs...)
			if err == nil {
				t.Fatalf("no error, value %s", show(got, "calc"))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if s := show(got, "calc"); s != "<absent>" {
				t.Errorf("failed property = %s, want absent", s)
			}
		})
	}
}

func TestCalculationTimeout(t *testing.T) {
	c := fixture()
	c.Blueprints["service"].CalculationProperties = map[string]catalog.CalculationProperty{
		"calc": {Type: "number", Calculation: `last(range(1e15))`}}
	p, err := Options{Timeout: 20 * time.Millisecond}.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	delete(c.Entities, "domain") // fewer entities to time out on
	c.Entities["service"] = map[string]*catalog.Entity{"a": c.Entities["service"]["a"]}
	start := time.Now()
	_, errs := p.Evaluate(c)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "stopped after") {
		t.Errorf("errors = %v, want one timeout", errs)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestDependencies(t *testing.T) {
	c := fixture()
	svc := c.Blueprints["service"]
	svc.Schema.Properties["yearly"] = catalog.Property{Type: "number",
		Calculation: &catalog.Formula{Type: "formula", Formula: "monthly * 12"}}
	svc.CalculationProperties = map[string]catalog.CalculationProperty{
		// Names sort before their dependencies, so order is not luck.
		"label":   {Type: "string", Calculation: `"\(.properties.channel) costs \(.properties.yearly)"`},
		"monthly": {Type: "number", Calculation: `.properties["cost_per_month"] + 1`},
		"share":   {Type: "number", Calculation: `if .properties.team_total then .properties.yearly / .properties.team_total else null end`},
	}
	svc.MirrorProperties = map[string]catalog.MirrorProperty{
		"channel":    {Path: "team.slack_channel"},
		"team_total": {Path: "team.total"},
	}
	c.Blueprints["team"].AggregationProperties = map[string]catalog.AggregationProperty{
		"total": {Target: "service", CalculationSpec: catalog.CalculationSpec{Func: "sum", CalculationBy: "property", Property: "yearly"}},
	}
	p, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	res, errs := p.Evaluate(c)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	a := res[key("service", "a")]
	tests := []struct{ prop, want string }{
		{"monthly", "11"},
		{"yearly", "132"},
		{"label", `"#t1 costs 132"`},
		{"team_total", "756"},           // (11+21+31)*12
		{"share", "0.1746031746031746"}, // 132/756
	}
	for _, tt := range tests {
		if s := show(a, tt.prop); s != tt.want {
			t.Errorf("service a %s = %s, want %s", tt.prop, s, tt.want)
		}
	}
	if got := show(res[key("team", "t1")], "total"); got != "756" {
		t.Errorf("team t1 total = %s, want 756", got)
	}
}

func TestCycles(t *testing.T) {
	tests := []compileCase{
		{"two calculations", func(c *catalog.Catalog) {
			c.Blueprints["service"].CalculationProperties = map[string]catalog.CalculationProperty{
				"a": {Calculation: `.properties.b`}, "b": {Calculation: `.properties.a + 1`}}
		}, "service.a -> service.b -> service.a"},
		{"self", func(c *catalog.Catalog) {
			c.Blueprints["service"].CalculationProperties = map[string]catalog.CalculationProperty{
				"a": {Calculation: `.properties.a`}}
		}, "service.a -> service.a"},
		{"formula and jq", func(c *catalog.Catalog) {
			c.Blueprints["service"].Schema.Properties["f"] = catalog.Property{Type: "number",
				Calculation: &catalog.Formula{Type: "formula", Formula: "g * 2"}}
			c.Blueprints["service"].CalculationProperties = map[string]catalog.CalculationProperty{
				"g": {Calculation: `.properties.f`}}
		}, "service.f -> service.g -> service.f"},
		{"undeterminable reads all", func(c *catalog.Catalog) {
			c.Blueprints["service"].CalculationProperties = map[string]catalog.CalculationProperty{
				"a": {Calculation: `.properties | length`}, "b": {Calculation: `.properties.a`}}
		}, "service.a -> service.b -> service.a"},
		{"across blueprints", func(c *catalog.Catalog) {
			c.Blueprints["service"].MirrorProperties = map[string]catalog.MirrorProperty{"t": {Path: "team.total"}}
			c.Blueprints["team"].AggregationProperties = map[string]catalog.AggregationProperty{
				"total": {Target: "service", CalculationSpec: catalog.CalculationSpec{Func: "sum", CalculationBy: "property", Property: "t"}}}
		}, "service.t -> team.total -> service.t"},
	}
	compileFails(t, tests)
}

func TestCompileErrors(t *testing.T) {
	tests := []compileCase{
		{"bad jq", func(c *catalog.Catalog) {
			c.Blueprints["service"].CalculationProperties = map[string]catalog.CalculationProperty{"x": {Calculation: `.a |`}}
		}, "service.x: jq"},
		{"unknown relation", func(c *catalog.Catalog) {
			c.Blueprints["service"].MirrorProperties = map[string]catalog.MirrorProperty{"x": {Path: "owner.name"}}
		}, `service.x: mirror path "owner.name": blueprint service has no relation "owner"`},
		{"unknown property at the end", func(c *catalog.Catalog) {
			c.Blueprints["service"].MirrorProperties = map[string]catalog.MirrorProperty{"x": {Path: "team.nope"}}
		}, `blueprint team has no property "nope"`},
		{"mirror without relation", func(c *catalog.Catalog) {
			c.Blueprints["service"].MirrorProperties = map[string]catalog.MirrorProperty{"x": {Path: "lang"}}
		}, "service.x: mirror path"},
		{"unknown target", func(c *catalog.Catalog) {
			c.Blueprints["team"].AggregationProperties = map[string]catalog.AggregationProperty{
				"x": {Target: "nope", CalculationSpec: catalog.CalculationSpec{Func: "count"}}}
		}, `team.x: unknown target blueprint "nope"`},
		{"unrelated target", func(c *catalog.Catalog) {
			c.Blueprints["team"].AggregationProperties = map[string]catalog.AggregationProperty{
				"x": {Target: "domain", CalculationSpec: catalog.CalculationSpec{Func: "count"}}}
		}, "team.x: no relation between team and target domain"},
		{"unknown func", func(c *catalog.Catalog) {
			c.Blueprints["team"].AggregationProperties = map[string]catalog.AggregationProperty{
				"x": {Target: "service", CalculationSpec: catalog.CalculationSpec{Func: "mode", CalculationBy: "property", Property: "cost_per_month"}}}
		}, `team.x: unknown func "mode"`},
		{"bad query", func(c *catalog.Catalog) {
			c.Blueprints["team"].AggregationProperties = map[string]catalog.AggregationProperty{
				"x": {Target: "service", CalculationSpec: catalog.CalculationSpec{Func: "count"},
					Query: &catalog.Query{Combinator: "xor"}}}
		}, "team.x: query"},
		{"unknown type", func(c *catalog.Catalog) {
			c.Blueprints["service"].CalculationProperties = map[string]catalog.CalculationProperty{"x": {Type: "int", Calculation: `1`}}
		}, `service.x: unknown type "int"`},
		{"declared twice", func(c *catalog.Catalog) {
			c.Blueprints["service"].CalculationProperties = map[string]catalog.CalculationProperty{"x": {Calculation: `1`}}
			c.Blueprints["service"].MirrorProperties = map[string]catalog.MirrorProperty{"x": {Path: "team.$title"}}
		}, "service.x: declared as more than one"},
	}
	compileFails(t, tests)
}

// compileFails checks that each case, applied to the fixture, fails to
// compile with an error containing want.
func compileFails(t *testing.T, tests []compileCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fixture()
			tt.setup(c)
			_, err := Compile(c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Compile error = %v, want %q", err, tt.want)
			}
		})
	}
}

type compileCase struct {
	name  string
	setup func(c *catalog.Catalog)
	want  string
}

func TestAggregation(t *testing.T) {
	goOnly := &catalog.Query{Combinator: "and", Rules: []catalog.Rule{{Property: "lang", Operator: "=", Value: "Go"}}}
	spec := func(fn string) catalog.CalculationSpec {
		if fn == "count" {
			return catalog.CalculationSpec{Func: fn, CalculationBy: "entities"}
		}
		return catalog.CalculationSpec{Func: fn, CalculationBy: "property", Property: "cost_per_month"}
	}
	tests := []struct {
		fn     string
		filter *catalog.Query
		team   string
		want   string
	}{
		// t1 has a (10, Go), b (20, Python), c (30, Go).
		{"count", nil, "t1", "3"},
		{"sum", nil, "t1", "60"},
		{"average", nil, "t1", "20"},
		{"min", nil, "t1", "10"},
		{"max", nil, "t1", "30"},
		{"median", nil, "t1", "20"},
		{"count", goOnly, "t1", "2"},
		{"sum", goOnly, "t1", "40"},
		{"average", goOnly, "t1", "20"},
		{"min", goOnly, "t1", "10"},
		{"max", goOnly, "t1", "30"},
		{"median", goOnly, "t1", "20"}, // even count: mean of the middle two
		// t2 has d whose cost is null: it counts as an entity, not a value.
		{"count", nil, "t2", "1"},
		{"sum", nil, "t2", "0"},
		{"average", nil, "t2", "null"},
		// t3 has no services.
		{"count", nil, "t3", "0"},
		{"sum", nil, "t3", "0"},
		{"average", nil, "t3", "null"},
		{"min", nil, "t3", "null"},
		{"max", nil, "t3", "null"},
		{"median", nil, "t3", "null"},
		{"count", goOnly, "t2", "0"},
	}
	for _, tt := range tests {
		name := tt.fn + "/" + tt.team
		if tt.filter != nil {
			name += "/filtered"
		}
		t.Run(name, func(t *testing.T) {
			c := fixture()
			c.Blueprints["team"].AggregationProperties = map[string]catalog.AggregationProperty{
				"agg": {Target: "service", CalculationSpec: spec(tt.fn), Query: tt.filter}}
			got, errs := evalOne(t, c, key("team", tt.team))
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if s := show(got, "agg"); s != tt.want {
				t.Errorf("%s = %s, want %s", name, s, tt.want)
			}
		})
	}
}

func TestAggregationOutgoingAndComputedFilter(t *testing.T) {
	c := fixture()
	svc := c.Blueprints["service"]
	// Services aggregate over the services they depend on (service ->
	// service relations point both ways here; incoming wins, so use a
	// separate blueprint for the outgoing case: system aggregates its
	// domain).
	svc.CalculationProperties = map[string]catalog.CalculationProperty{
		"expensive": {Type: "boolean", Calculation: `.properties.cost_per_month >= 20`}}
	c.Blueprints["team"].AggregationProperties = map[string]catalog.AggregationProperty{
		"expensive_count": {Target: "service", CalculationSpec: catalog.CalculationSpec{Func: "count"},
			Query: &catalog.Query{Combinator: "and", Rules: []catalog.Rule{{Property: "expensive", Operator: "=", Value: true}}}}}
	c.Blueprints["system"].AggregationProperties = map[string]catalog.AggregationProperty{
		"domains": {Target: "domain", CalculationSpec: catalog.CalculationSpec{Func: "count"}}}
	p, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	res, errs := p.Evaluate(c)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, tt := range []struct {
		k          catalog.Key
		prop, want string
	}{
		{key("team", "t1"), "expensive_count", "2"},
		{key("system", "s1"), "domains", "1"},
		{key("system", "s2"), "domains", "0"},
	} {
		if s := show(res[tt.k], tt.prop); s != tt.want {
			t.Errorf("%s %s = %s, want %s", tt.k, tt.prop, s, tt.want)
		}
	}
}

// incrementalFixture has a team that aggregates over its services and
// services that mirror from their team and from their dependencies.
func incrementalFixture() *catalog.Catalog {
	c := fixture()
	c.Blueprints["team"].AggregationProperties = map[string]catalog.AggregationProperty{
		"cost": {Target: "service", CalculationSpec: catalog.CalculationSpec{Func: "sum", CalculationBy: "property", Property: "cost_per_month"}}}
	c.Blueprints["service"].MirrorProperties = map[string]catalog.MirrorProperty{
		"team_cost": {Path: "team.cost"},
		"dep_langs": {Path: "deps.lang"},
	}
	return c
}

func TestAffected(t *testing.T) {
	tests := []struct {
		name    string
		changed []catalog.Key
		want    []catalog.Key
	}{
		// c is aggregated by t1, whose cost every t1 service mirrors,
		// and a mirrors c's lang through deps.
		{"leaf service", []catalog.Key{key("service", "c")},
			[]catalog.Key{key("service", "a"), key("service", "b"), key("service", "c"), key("team", "t1")}},
		{"team", []catalog.Key{key("team", "t2")},
			[]catalog.Key{key("service", "d"), key("team", "t2")}},
		{"unrelated", []catalog.Key{key("service", "e")}, []catalog.Key{key("service", "e")}},
		{"domain nobody computes from", []catalog.Key{key("domain", "d1")}, []catalog.Key{key("domain", "d1")}},
	}
	c := incrementalFixture()
	p, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	s := p.Bind(c)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Affected(tt.changed); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Affected(%v) = %v, want %v", tt.changed, got, tt.want)
			}
		})
	}
}

// TestIncremental checks that Affected+EvaluateOnly over a previous
// result gives what a full Evaluate gives, for edits that change values,
// relations, or remove an entity.
func TestIncremental(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *catalog.Catalog) catalog.Key
	}{
		{"cost change", func(c *catalog.Catalog) catalog.Key {
			c.Entities["service"]["c"].Properties["cost_per_month"] = json.Number("99")
			return key("service", "c")
		}},
		{"lang change", func(c *catalog.Catalog) catalog.Key {
			c.Entities["service"]["b"].Properties["lang"] = "Rust"
			return key("service", "b")
		}},
		{"team switch", func(c *catalog.Catalog) catalog.Key {
			c.Entities["service"]["c"].Relations["team"] = "t2"
			return key("service", "c")
		}},
		{"removal", func(c *catalog.Catalog) catalog.Key {
			delete(c.Entities["service"], "b")
			return key("service", "b")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := incrementalFixture()
			p, err := Compile(old)
			if err != nil {
				t.Fatal(err)
			}
			prevSnap := p.Bind(old)
			prev, errs := prevSnap.Evaluate()
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			next := incrementalFixture()
			changed := tt.edit(next)
			want, errs := p.Bind(next).Evaluate()
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			nextSnap, keys := prevSnap.Rebind(next, []catalog.Key{changed})
			if got, want := sortedRefs(nextSnap), sortedRefs(p.Bind(next)); !reflect.DeepEqual(got, want) {
				t.Fatalf("rebound index differs from a fresh one:\n got %v\nwant %v", got, want)
			}
			part, errs := nextSnap.EvaluateOnly(keys, prev)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			got := Result{}
			for k, v := range prev {
				got[k] = v
			}
			for _, k := range keys {
				delete(got, k)
				if v, ok := part[k]; ok {
					got[k] = v
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("incremental result differs (affected %v)\n got %v\nwant %v", keys, got, want)
			}
		})
	}
}

func TestJQRefs(t *testing.T) {
	tests := []struct {
		expr string
		want []string
		all  bool
	}{
		{`.properties.a + .properties.b`, []string{"a", "b"}, false},
		{`.properties["a b"] // .properties."c"`, []string{"a b", "c"}, false},
		{`. as $e | $e.properties.x`, []string{"x"}, false},
		{`.properties.tags[0]`, []string{"tags"}, false},
		{`.properties | length`, nil, true},
		{`[..] | length`, nil, true},
		{`to_entries`, nil, true},
		{`.["properties"].a`, nil, true},
		{`.identifier`, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, all := jqRefs(tt.expr)
			if all != tt.all || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("jqRefs(%q) = %v, %v; want %v, %v", tt.expr, got, all, tt.want, tt.all)
			}
		})
	}
}

// sortedRefs is a snapshot's reverse index in a comparable form.
func sortedRefs(s *Snapshot) map[catalog.Key][]string {
	out := map[catalog.Key][]string{}
	for k, rs := range s.refs {
		for _, r := range rs {
			out[k] = append(out[k], r.from.String()+"."+r.rel)
		}
		slices.Sort(out[k])
	}
	return out
}

// TestParallelEvaluate checks the parallel full evaluation against the
// sequential one on a synthetic catalog with calculations, mirrors
// through relations and aggregations over them.
func TestParallelEvaluate(t *testing.T) {
	dir := t.TempDir()
	if err := synth.Write(dir, synth.Options{Services: 600, Derived: true, Teams: 7}); err != nil {
		t.Fatal(err)
	}
	l, err := loader.New(1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Load(context.Background(), os.DirFS(dir))
	if err != nil || !res.OK() {
		t.Fatalf("load: %v %v", err, res.Diagnostics)
	}
	p, err := Compile(res.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	want, werrs := p.Bind(res.Catalog).Evaluate()
	pp, err := Options{Parallel: 50}.Compile(res.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	// Each entity's values are reported once, complete, from whichever
	// goroutine computed them.
	var mu sync.Mutex
	reported := Result{}
	got, gerrs := pp.Bind(res.Catalog).EvaluateFunc(func(k catalog.Key, vals map[string]any) {
		mu.Lock()
		defer mu.Unlock()
		if _, twice := reported[k]; twice {
			t.Errorf("%s reported twice", k)
		}
		reported[k] = maps.Clone(vals)
	})
	if !reflect.DeepEqual(got, want) || len(gerrs) != len(werrs) {
		t.Fatalf("parallel evaluation differs: %d values (%d errors), sequential %d (%d)", len(got), len(gerrs), len(want), len(werrs))
	}
	if !reflect.DeepEqual(reported, want) {
		t.Fatalf("reported %d entities' values, evaluated %d; or they differ", len(reported), len(want))
	}
	if len(want) < 600 {
		t.Fatalf("only %d entities have computed values", len(want))
	}
}

// A calculation's value does not depend on the machine's load: an
// expression whose shared deadline was spent before it ran (the
// scheduler, a GC pause) is run again under a deadline of its own. Only
// an expression that overruns that one too is an error.
func TestCalculationsDoNotDependOnTheLoad(t *testing.T) {
	defer func(d time.Duration) { starvedBy = d }(starvedBy)
	starvedBy = time.Hour // every shared deadline is long gone
	c := catalog.New()
	c.Blueprints["svc"] = &catalog.Blueprint{Identifier: "svc", CalculationProperties: map[string]catalog.CalculationProperty{
		"double": {Type: "number", Calculation: ".properties.n * 2"},
	}}
	c.Entities["svc"] = map[string]*catalog.Entity{"a": {Blueprint: "svc", Identifier: "a", Properties: map[string]any{"n": json.Number("21")}}}
	vals, errs := evalOne(t, c, catalog.Key{Kind: catalog.KindEntityObj, Blueprint: "svc", ID: "a"})
	if len(errs) > 0 || fmt.Sprint(vals["double"]) != "42" {
		t.Fatalf("values %v, errors %v", vals, errs)
	}
}
