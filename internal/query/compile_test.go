package query

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/catalog"
)

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		query, path, msg string
	}{
		{`{"combinator":"xor","rules":[]}`, "", `combinator must be and/or, not "xor"`},
		{`{"rules":[]}`, "", "missing combinator"},
		{one(`{"property":"a","operator":"~=","value":1}`), "rules[0]", `unknown operator "~="`},
		{one(`{"property":"a"}`), "rules[0]", "missing operator"},
		{one(`{"operator":"=","value":1}`), "rules[0]", "operator = needs a property"},
		{one(`{"property":"a","operator":"="}`), "rules[0]", "operator = needs a string, number or boolean value: got no value"},
		{one(`{"property":"a","operator":"=","value":[1]}`), "rules[0]", "got an array"},
		{one(`{"property":"a","operator":"!=","value":{"x":1}}`), "rules[0]", "got an object"},
		{one(`{"property":"a","operator":">","value":true}`), "rules[0]", "booleans only support = and !="},
		{one(`{"property":"a","operator":"<=","value":null}`), "rules[0]", "operator <= needs a number, string or date-time value"},
		{one(`{"property":"a","operator":"in","value":"x"}`), "rules[0]", "operator in needs an array value: got a string"},
		{one(`{"property":"a","operator":"notIn"}`), "rules[0]", "operator notIn needs an array value"},
		{one(`{"property":"a","operator":"in","value":["x",{"y":1}]}`), "rules[0]", "value[1]"},
		{one(`{"property":"a","operator":"containsAny","value":"x"}`), "rules[0]", "operator containsAny needs an array value"},
		{one(`{"property":"a","operator":"contains","value":["x"]}`), "rules[0]", "operator contains needs a string, number or boolean value"},
		{one(`{"property":"a","operator":"beginsWith","value":1}`), "rules[0]", "operator beginsWith needs a string value, got a number"},
		{one(`{"property":"a","operator":"doesNotEndsWith"}`), "rules[0]", "operator doesNotEndsWith needs a string value"},
		{one(`{"property":"a","operator":"between","value":"lastWeek"}`), "rules[0]", "operator between needs a value {from, to} or {preset}"},
		{one(`{"property":"a","operator":"between","value":{"preset":"someday"}}`), "rules[0]", `unknown preset "someday"`},
		{one(`{"property":"a","operator":"between","value":{"preset":1}}`), "rules[0]", "preset must be a string"},
		{one(`{"property":"a","operator":"notBetween","value":{"from":"2024-01-01T00:00:00Z"}}`), "rules[0]", "both from and to are required"},
		{one(`{"property":"a","operator":"between","value":{"from":"2024-01-01T00:00:00Z","to":5}}`), "rules[0]", "from is a string but to is a number"},
		{one(`{"property":"a","operator":"between","value":{"from":"yesterday","to":"today"}}`), "rules[0]", "RFC 3339"},
		{one(`{"property":"a","operator":"between","value":{"from":1,"to":"x"}}`), "rules[0]", "must both be date-times or both numbers"},
		{one(`{"property":"a","operator":"between","value":{"from":5,"to":1}}`), "rules[0]", "from 5 is after to 1"},
		{one(`{"property":"a","operator":"between","value":{"from":"2024-02-01","to":"2024-01-01"}}`), "rules[0]", "is after"},
		{one(`{"property":"$owner","operator":"=","value":"x"}`), "rules[0]", `unknown meta-property "$owner"`},
		{one(`{"property":"$scorecard.","operator":"=","value":"x"}`), "rules[0]", "unknown meta-property"},
		{one(`{"operator":"relatedTo","value":"x"}`), "rules[0]", "operator relatedTo needs a blueprint"},
		{one(`{"operator":"relatedTo","blueprint":"team"}`), "rules[0]", "needs an entity identifier or an array of them, got no value"},
		{one(`{"operator":"relatedTo","blueprint":"team","value":[]}`), "rules[0]", "at least one entity identifier"},
		{one(`{"operator":"relatedTo","blueprint":"team","value":["a",1]}`), "rules[0]", "value[1] is a number"},
		{one(`{"operator":"relatedTo","blueprint":"team","value":"a","direction":"sideways"}`), "rules[0]", `direction must be upstream or downstream, not "sideways"`},
		{one(`{"combinator":"and","property":"a","operator":"=","value":1}`), "rules[0]", "either a group"},
		{one(`{"rules":[{"property":"a","operator":"isEmpty"}]}`), "rules[0]", "missing combinator"},
		{`{"combinator":"and","rules":[
			{"property":"a","operator":"isEmpty"},
			{"property":"b","operator":"isEmpty"},
			{"combinator":"or","rules":[
				{"property":"c","operator":"in","value":1}]}]}`, "rules[2].rules[0]", "operator in needs an array value"},
		{`{"combinator":"and","conditions":[
			{"combinator":"or","conditions":[
				{"property":"c","operator":"isEmpty"},
				{"combinator":"nand","rules":[]}]}]}`, "rules[0].rules[1]", "combinator must be and/or"},
		{deepQuery(maxDepth + 2), strings.TrimSuffix(strings.Repeat("rules[0].", maxDepth+1), "."), "nested deeper than"},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			_, err := Compile(decodeQuery(t, tc.query))
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Compile error = %v, want *Error", err)
			}
			if qe.Path != tc.path {
				t.Errorf("Path = %q, want %q", qe.Path, tc.path)
			}
			if !strings.Contains(qe.Message, tc.msg) {
				t.Errorf("Message = %q, want it to contain %q", qe.Message, tc.msg)
			}
			if !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), qe.Message) {
				t.Errorf("Error() = %q does not name the path and message", err.Error())
			}
		})
	}
}

func deepQuery(depth int) string {
	return strings.Repeat(`{"combinator":"and","rules":[`, depth) + strings.Repeat(`]}`, depth)
}

func TestCompileAccepts(t *testing.T) {
	// Shapes that are valid even if unusual.
	for _, src := range []string{
		deepQuery(maxDepth + 1),
		one(`{"property":"a","operator":"isEmpty","value":"ignored"}`),
		one(`{"property":"a","operator":"in","value":[]}`),
		one(`{"property":"a","operator":"=","value":"2024-01-01T00:00:00Z"}`),
		one(`{"property":"$scorecard.x","operator":"=","value":"Gold"}`),
		one(`{"property":"a.b.c","operator":"=","value":1}`),
		one(`{"property":"a..b","operator":"=","value":1}`),
		one(`{"operator":"relatedTo","blueprint":"team","value":"a","required":false,"direction":"upstream"}`),
	} {
		if _, err := Compile(decodeQuery(t, src)); err != nil {
			t.Errorf("Compile(%s) = %v", src, err)
		}
	}
}

func TestBlueprints(t *testing.T) {
	cases := []struct {
		query string
		want  []string // nil: unknown
	}{
		{`{"combinator":"and","rules":[]}`, nil},
		{one(`{"property":"$blueprint","operator":"=","value":"service"}`), []string{"service"}},
		{one(`{"property":"$blueprint","operator":"in","value":["team","service","team"]}`), []string{"service", "team"}},
		{one(`{"property":"$blueprint","operator":"!=","value":"service"}`), nil},
		{one(`{"property":"$blueprint","operator":"beginsWith","value":"s"}`), nil},
		{one(`{"property":"lang","operator":"=","value":"Go"}`), nil},
		{`{"combinator":"and","rules":[
			{"property":"$blueprint","operator":"in","value":["a","b","c"]},
			{"property":"lang","operator":"=","value":"Go"},
			{"combinator":"and","rules":[{"property":"$blueprint","operator":"in","value":["b","c","d"]}]}]}`, []string{"b", "c"}},
		{`{"combinator":"and","rules":[
			{"property":"$blueprint","operator":"=","value":"a"},
			{"property":"$blueprint","operator":"=","value":"b"}]}`, []string{}},
		{`{"combinator":"or","rules":[
			{"property":"$blueprint","operator":"=","value":"a"},
			{"property":"lang","operator":"=","value":"Go"}]}`, nil},
		{`{"combinator":"or","rules":[
			{"property":"$blueprint","operator":"=","value":"b"},
			{"combinator":"and","rules":[
				{"property":"$blueprint","operator":"=","value":"a"},
				{"property":"lang","operator":"=","value":"Go"}]}]}`, []string{"a", "b"}},
		{`{"combinator":"or","rules":[]}`, []string{}},
		{one(`{"property":"$blueprint","operator":"=","value":1}`), []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			got := mustCompile(t, tc.query).Blueprints()
			if (got == nil) != (tc.want == nil) || !slices.Equal(got, tc.want) {
				t.Errorf("Blueprints() = %#v, want %#v", got, tc.want)
			}
		})
	}
}

// TestBlueprintsSound checks the pre-filter never drops a match: every
// entity a query matches is of a blueprint Blueprints allows.
func TestBlueprintsSound(t *testing.T) {
	queries := []string{
		`{"combinator":"and","rules":[
			{"property":"$blueprint","operator":"in","value":["service","team"]},
			{"property":"lang","operator":"=","value":"Go"}]}`,
		`{"combinator":"or","rules":[
			{"property":"$blueprint","operator":"=","value":"team"},
			{"combinator":"and","rules":[{"property":"$blueprint","operator":"=","value":"service"}]}]}`,
	}
	entities := []*Entity{
		{Entity: &catalog.Entity{Blueprint: "service", Identifier: "a", Properties: map[string]any{"lang": "Go"}}},
		{Entity: &catalog.Entity{Blueprint: "team", Identifier: "b", Properties: map[string]any{"lang": "Go"}}},
		{Entity: &catalog.Entity{Blueprint: "domain", Identifier: "c", Properties: map[string]any{"lang": "Go"}}},
	}
	for _, src := range queries {
		q := mustCompile(t, src)
		allowed := q.Blueprints()
		if allowed == nil {
			t.Fatalf("%s: Blueprints() = nil", src)
		}
		for _, e := range entities {
			if q.Match(e, nil) && !slices.Contains(allowed, e.Blueprint) {
				t.Errorf("%s matches %s/%s outside %v", src, e.Blueprint, e.Identifier, allowed)
			}
		}
	}
}
