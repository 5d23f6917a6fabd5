package schema

import (
	"encoding/json"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"

	"github.com/pierhq/pier/internal/catalog"
)

func jnum(s string) *json.Number { n := json.Number(s); return &n }
func iptr(i int) *int            { return &i }

// entityDef compiles bp's definition and returns #Entity.
func entityDef(t *testing.T, bp *catalog.Blueprint) cue.Value {
	t.Helper()
	src := EntityDefinition(bp)
	v := cuecontext.New().CompileString(src)
	if err := v.Err(); err != nil {
		t.Fatalf("definition does not compile: %v\n%s", err, src)
	}
	def := v.LookupPath(cue.ParsePath("#Entity"))
	if err := def.Err(); err != nil {
		t.Fatalf("no #Entity: %v\n%s", err, src)
	}
	return def
}

func checkEntity(def cue.Value, entity string) error {
	return def.Unify(cuecontext.New().CompileString(entity)).Validate(cue.Concrete(true))
}

func TestEntityDefinition(t *testing.T) {
	str := catalog.Property{Type: "string"}
	tests := []struct {
		name    string
		bp      catalog.Blueprint
		valid   []string
		invalid []string
	}{
		{
			name:    "no properties, no relations",
			bp:      catalog.Blueprint{},
			valid:   []string{`{}`, `{"properties": {}, "relations": {}}`, `{"identifier": "a@b.c:d/e=f+g", "title": "T", "icon": "I", "team": ["x"]}`, `{"team": "x"}`},
			invalid: []string{`{"properties": {"a": 1}}`, `{"relations": {"r": "x"}}`, `{"identifier": "has space"}`, `{"team": 1}`, `{"colour": "red"}`, `{"properties": null}`},
		},
		{
			name: "names that need quoting",
			bp: catalog.Blueprint{
				Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
					"my-prop": str, "$x": str, "with space": str, "_hidden": str, "#def": str,
					`quote"d`: str, `back\slash`: str, "日本": str, "if": str, "null": str, "true": str, "": str,
				}, Required: []string{"my-prop", "_hidden"}},
				Relations: map[string]catalog.Relation{"my-rel": {Target: "x"}, "$r": {Target: "x", Required: true}},
			},
			valid: []string{
				`{"properties": {"my-prop": "a", "_hidden": "b", "$x": "c", "with space": "d", "#def": "e", "quote\"d": "f", "back\\slash": "g", "日本": "h", "if": "i", "null": "j", "true": "k", "": "l"}, "relations": {"$r": "x", "my-rel": null}}`,
			},
			invalid: []string{
				`{"properties": {"my-prop": "a"}, "relations": {"$r": "x"}}`,                                 // _hidden is required
				`{"properties": {"my-prop": "a", "_hidden": "b", "my_prop": "c"}, "relations": {"$r": "x"}}`, // unknown
				`{"properties": {"my-prop": "a", "_hidden": "b"}, "relations": {}}`,                          // $r is required
				`{"properties": {"my-prop": 1, "_hidden": "b"}, "relations": {"$r": "x"}}`,
			},
		},
		{
			name: "enum strings with quotes, backslashes and unicode",
			bp: catalog.Blueprint{Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
				"e": {Type: "string", Enum: []any{`a"b`, `c\d`, "日本", "\u2028", "\x00", "e\n", `\(x)`, "#", nil}},
			}}},
			valid:   []string{`{"properties": {"e": "a\"b"}}`, `{"properties": {"e": "c\\d"}}`, `{"properties": {"e": "日本"}}`, `{"properties": {"e": "\u2028"}}`, `{"properties": {"e": "\u0000"}}`, `{"properties": {"e": "e\n"}}`, `{"properties": {"e": "\\(x)"}}`, `{"properties": {"e": null}}`},
			invalid: []string{`{"properties": {"e": "ab"}}`, `{"properties": {"e": "c\\\\d"}}`, `{"properties": {"e": "x"}}`, `{"properties": {"e": "e"}}`},
		},
		{
			name: "patterns and lengths",
			bp: catalog.Blueprint{Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
				"p": {Type: "string", Pattern: `^\p{Lu}[\w"\\-]*\.\d$`, MinLength: iptr(3), MaxLength: iptr(5)},
			}}},
			valid:   []string{`{"properties": {"p": "A\"\\.1"}}`, `{"properties": {"p": "Éa.1"}}`},
			invalid: []string{`{"properties": {"p": "A.1x"}}`, `{"properties": {"p": ".1"}}`, `{"properties": {"p": "Aaaaa.1"}}`, `{"properties": {"p": "a.1"}}`},
		},
		{
			name: "formats",
			bp: catalog.Blueprint{Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
				"t": {Type: "string", Format: "date-time"}, "tm": {Type: "string", Format: "timer"},
				"m": {Type: "string", Format: "email"}, "u": {Type: "string", Format: "url"},
				"v4": {Type: "string", Format: "ipv4"}, "v6": {Type: "string", Format: "ipv6"},
				"who": {Type: "string", Format: "user"}, "md": {Type: "string", Format: "markdown"},
			}}},
			valid: []string{`{"properties": {"t": "2026-01-02T15:04:05.5+02:00", "tm": "2030-01-01T00:00:00Z", "m": "a@b.co", "u": "https://x.io/p?q#f", "v4": "10.0.0.1", "v6": "::ffff:1.2.3.4", "who": "anything", "md": "# hi"}}`},
			invalid: []string{
				`{"properties": {"t": "2026-13-01T00:00:00Z"}}`, `{"properties": {"tm": "1h"}}`, `{"properties": {"m": "a@b"}}`,
				`{"properties": {"u": "example.com"}}`, `{"properties": {"v4": "::ffff:1.2.3.4"}}`, `{"properties": {"v6": "1.2.3.4"}}`, `{"properties": {"who": 1}}`,
			},
		},
		{
			name: "negative, decimal and exclusive bounds",
			bp: catalog.Blueprint{Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
				"n": {Type: "number", ExclusiveMinimum: jnum("-2.5"), ExclusiveMaximum: jnum("-1")},
				"m": {Type: "number", Minimum: jnum("-1E2"), Maximum: jnum("0.3")},
			}}},
			valid:   []string{`{"properties": {"n": -2.4999999999999999999, "m": 0.3}}`, `{"properties": {"n": -1.0000000000000000001, "m": -100}}`, `{"properties": {"m": -1e2}}`},
			invalid: []string{`{"properties": {"n": -1}}`, `{"properties": {"n": -2.5}}`, `{"properties": {"m": 0.30000000000000001}}`, `{"properties": {"m": -100.1}}`, `{"properties": {"n": "-2"}}`},
		},
		{
			name: "number enums compare by value",
			bp: catalog.Blueprint{Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
				"n": {Type: "number", Enum: []any{json.Number("1"), json.Number("2.50"), json.Number("-0"), 0.5, 7}},
			}}},
			valid:   []string{`{"properties": {"n": 1}}`, `{"properties": {"n": 1.0}}`, `{"properties": {"n": 1e0}}`, `{"properties": {"n": 2.5}}`, `{"properties": {"n": 25e-1}}`, `{"properties": {"n": 0.0}}`, `{"properties": {"n": 0}}`, `{"properties": {"n": 5e-1}}`, `{"properties": {"n": 7.0}}`},
			invalid: []string{`{"properties": {"n": 1.000000000000000000001}}`, `{"properties": {"n": 3}}`, `{"properties": {"n": "1"}}`},
		},
		{
			name: "arrays",
			bp: catalog.Blueprint{Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
				"tags": {Type: "array", Items: &catalog.Property{Type: "string", Enum: []any{"a", "b", "c"}}, MinItems: iptr(1), MaxItems: iptr(2), UniqueItems: true},
				"nums": {Type: "array", Items: &catalog.Property{Type: "number"}, UniqueItems: true},
				"any":  {Type: "array", Items: &catalog.Property{}},
				"mix":  {Type: "array", Items: &catalog.Property{Enum: []any{"a", json.Number("1"), nil}}},
				"kind": {Type: "array", Items: &catalog.Property{Pattern: "^x", Minimum: jnum("0")}},
			}}},
			valid: []string{
				`{"properties": {"tags": ["a", "c"], "nums": [1, 1.0, 2], "any": [1, "x", null, {}, []], "mix": ["a", 1.0, null], "kind": ["x1", 0, true, null, {}, [-1]]}}`,
			},
			invalid: []string{
				`{"properties": {"tags": []}}`, `{"properties": {"tags": ["a", "b", "c"]}}`, `{"properties": {"tags": ["a", "a"]}}`, `{"properties": {"tags": ["d"]}}`,
				`{"properties": {"nums": [1.0, 1e0]}}`, `{"properties": {"nums": [0, -0]}}`, `{"properties": {"nums": ["1"]}}`,
				`{"properties": {"mix": ["b"]}}`, `{"properties": {"mix": [true]}}`, `{"properties": {"kind": ["y"]}}`, `{"properties": {"kind": [-1]}}`,
			},
		},
		{
			name: "required, optional, null",
			bp: catalog.Blueprint{Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
				"req": {Type: "string", Enum: []any{"x", nil}}, "opt": {Type: "number"}, "obj": {Type: "object"}, "b": {Type: "boolean"},
				"anything": {},
			}, Required: []string{"req", "anything", "undeclared", "req"}}},
			valid:   []string{`{"properties": {"req": "x", "anything": 0, "opt": null, "obj": {"deep": [1, {"x": null}]}, "b": false}}`, `{"properties": {"req": "x", "anything": {}}}`},
			invalid: []string{`{"properties": {"req": null, "anything": 0}}`, `{"properties": {"req": "x", "anything": null}}`, `{"properties": {"req": "x"}}`, `{"properties": {"req": "x", "anything": 0, "obj": []}}`, `{"properties": {"req": "x", "anything": 0, "b": "true"}}`},
		},
		{
			name: "runtime and computed properties may not be set",
			bp: catalog.Blueprint{
				Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
					"health": {Type: "string", Runtime: true},
					"cost":   {Type: "number", Calculation: &catalog.Formula{Type: "jq", Formula: "1"}},
					"twin":   {Type: "string"},
					"ok":     {Type: "string"},
				}, Required: []string{"health", "cost", "twin"}},
				CalculationProperties: map[string]catalog.CalculationProperty{"score": {Calculation: ".", Type: "number"}},
				MirrorProperties:      map[string]catalog.MirrorProperty{"twin": {Path: "team.$title"}},
				AggregationProperties: map[string]catalog.AggregationProperty{"prs": {Target: "pr"}},
			},
			valid:   []string{`{"properties": {"ok": "x"}}`, `{}`},
			invalid: []string{`{"properties": {"health": "ok"}}`, `{"properties": {"cost": 1}}`, `{"properties": {"twin": "x"}}`, `{"properties": {"score": null}}`, `{"properties": {"prs": 1}}`},
		},
		{
			name: "relations",
			bp: catalog.Blueprint{Relations: map[string]catalog.Relation{
				"one": {Target: "t", Required: true}, "many": {Target: "t", Required: true, Many: true},
				"maybe": {Target: "t"}, "some": {Target: "t", Many: true},
			}},
			valid: []string{
				`{"relations": {"one": "a", "many": ["a"]}}`,
				`{"relations": {"one": "a", "many": ["a", "b"], "maybe": null, "some": null}}`,
				`{"relations": {"one": "a", "many": ["a"], "maybe": "b", "some": []}}`,
			},
			invalid: []string{
				`{"relations": {"one": "a"}}`, `{"relations": {"many": ["a"]}}`, `{"relations": {"one": null, "many": ["a"]}}`,
				`{"relations": {"one": "a", "many": []}}`, `{"relations": {"one": ["a"], "many": ["a"]}}`, `{"relations": {"one": "a", "many": "a"}}`,
				`{"relations": {"one": "a", "many": ["a", 1]}}`, `{"relations": {"one": "a", "many": ["a"], "maybe": ["b"]}}`,
				`{"relations": {"one": "a", "many": ["a"], "other": "x"}}`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := entityDef(t, &tt.bp)
			for _, e := range tt.valid {
				if err := checkEntity(def, e); err != nil {
					t.Errorf("want valid, got %v\nentity: %s\n%s", err, e, EntityDefinition(&tt.bp))
				}
			}
			for _, e := range tt.invalid {
				if checkEntity(def, e) == nil {
					t.Errorf("want invalid, got valid\nentity: %s\n%s", e, EntityDefinition(&tt.bp))
				}
			}
		})
	}
}

// TestEntityDefinitionIsDeterministic guards the definition as a cache
// key: map iteration order must not leak into it.
func TestEntityDefinitionIsDeterministic(t *testing.T) {
	bp := &catalog.Blueprint{
		Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
			"a": {Type: "string"}, "b": {Type: "number"}, "c": {Type: "boolean"}, "d": {Type: "object"}, "e": {Type: "array"},
		}, Required: []string{"c", "a"}},
		Relations: map[string]catalog.Relation{"x": {Target: "t"}, "y": {Target: "t", Many: true}, "z": {Target: "t", Required: true}},
	}
	first := EntityDefinition(bp)
	for range 20 {
		if got := EntityDefinition(bp); got != first {
			t.Fatalf("definition changed between calls:\n%s\n---\n%s", first, got)
		}
	}
	if !strings.Contains(first, `"a"!:`) || !strings.Contains(first, `"b"?: null |`) {
		t.Errorf("required and optional properties not rendered as expected:\n%s", first)
	}
}
