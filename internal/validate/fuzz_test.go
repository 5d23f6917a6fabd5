package validate

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/node"
)

func num(s string) *json.Number { n := json.Number(s); return &n }

// fuzzBlueprints are rich fixed blueprints for the fuzz target: every
// property feature, names that need quoting, every relation shape.
func fuzzBlueprints() []*catalog.Blueprint {
	str := func(p catalog.Property) catalog.Property { p.Type = "string"; return p }
	number := func(p catalog.Property) catalog.Property { p.Type = "number"; return p }
	array := func(p catalog.Property) catalog.Property { p.Type = "array"; return p }
	rich := &catalog.Blueprint{
		Identifier: "service",
		Schema: catalog.BlueprintSchema{
			Properties: map[string]catalog.Property{
				"name":      str(catalog.Property{Pattern: `^[a-z0-9-]+$`, MinLength: ip(2), MaxLength: ip(8)}),
				"lifecycle": str(catalog.Property{Enum: []any{"Production", "Staging", "Développement", "quote\"d\\", nil}}),
				"replicas":  number(catalog.Property{Minimum: num("1"), ExclusiveMaximum: num("100.5")}),
				"ratio":     number(catalog.Property{ExclusiveMinimum: num("-0.5"), Maximum: num("0.3")}),
				"level":     number(catalog.Property{Enum: []any{json.Number("1"), json.Number("2.5"), json.Number("-3"), json.Number("0"), json.Number("1e400"), "1", true}}),
				"huge":      number(catalog.Property{Minimum: num("-1e400"), Maximum: num("1E400")}),
				"tiny":      number(catalog.Property{ExclusiveMinimum: num("0"), ExclusiveMaximum: num("1e-400")}),
				"created":   str(catalog.Property{Format: "date-time"}),
				"deadline":  str(catalog.Property{Format: "timer"}),
				"email":     str(catalog.Property{Format: "email", MaxLength: ip(30)}),
				"homepage":  str(catalog.Property{Format: "url"}),
				"ip":        str(catalog.Property{Format: "ipv4"}),
				"ip6":       str(catalog.Property{Format: "ipv6"}),
				"owner":     str(catalog.Property{Format: "user"}),
				"squad":     str(catalog.Property{Format: "team"}),
				"readme":    str(catalog.Property{Format: "markdown", MinLength: ip(1)}),
				"cjk":       str(catalog.Property{Pattern: `^[\x{4e00}-\x{9fff}]+$`, MaxLength: ip(3)}),
				"enabled":   {Type: "boolean", Enum: []any{true}},
				"flag":      {Type: "boolean"},
				"meta":      {Type: "object"},
				"tags":      array(catalog.Property{Items: &catalog.Property{Type: "string", MinLength: ip(1), MaxLength: ip(5)}, UniqueItems: true, MaxItems: ip(4)}),
				"ports":     array(catalog.Property{Items: &catalog.Property{Type: "number", Minimum: num("1"), Maximum: num("65535")}, UniqueItems: true}),
				"mixed":     array(catalog.Property{Items: &catalog.Property{Enum: []any{"a", json.Number("1"), true, nil, json.Number("2.5")}}, UniqueItems: true}),
				"loose":     array(catalog.Property{Items: &catalog.Property{Pattern: "^x", Minimum: num("0"), MaxItems: ip(1)}}),
				"any":       array(catalog.Property{UniqueItems: true, MinItems: ip(1)}),
				"matrix":    array(catalog.Property{Items: &catalog.Property{Type: "array", Items: &catalog.Property{Type: "string", Format: "ipv4"}, UniqueItems: true}}),
				"urls":      array(catalog.Property{Items: &catalog.Property{Type: "string", Format: "url"}, MinItems: ip(1), MaxItems: ip(2)}),
				"my-prop":   str(catalog.Property{}),
				"$x":        number(catalog.Property{}),
				"health":    str(catalog.Property{Runtime: true}),
				"cost":      number(catalog.Property{Calculation: &catalog.Formula{Type: "jq", Formula: ".properties.replicas * 2"}}),
				"twin":      str(catalog.Property{}),
			},
			Required: []string{"name", "replicas", "created", "health", "cost", "twin"},
		},
		Relations: map[string]catalog.Relation{
			"team":     {Target: "team", Required: true},
			"owners":   {Target: "user", Required: true, Many: true},
			"deps":     {Target: "service", Many: true},
			"domain":   {Target: "domain"},
			"my-rel":   {Target: "service"},
			"with sp":  {Target: "service", Many: true},
			"consumer": {Target: "service", Required: true, Many: false},
		},
		CalculationProperties: map[string]catalog.CalculationProperty{"score": {Calculation: ".x", Type: "number"}},
		MirrorProperties:      map[string]catalog.MirrorProperty{"owner_name": {Path: "team.$title"}, "twin": {Path: "team.$identifier"}},
		AggregationProperties: map[string]catalog.AggregationProperty{"open_prs": {Target: "pr", CalculationSpec: catalog.CalculationSpec{Func: "count"}}},
	}
	plain := &catalog.Blueprint{
		Identifier: "team",
		Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
			"size":  number(catalog.Property{Enum: []any{json.Number("0"), json.Number("1.0"), json.Number("-0.0")}}),
			"slack": str(catalog.Property{Pattern: `^#`}),
		}},
	}
	return []*catalog.Blueprint{rich, plain}
}

var (
	fuzzOnce  sync.Once
	fuzzPairs []*pair
)

// FuzzValidatorAgreesWithCUE feeds arbitrary JSON to the Go validator and
// to the CUE definition of the same blueprint; they must agree on the
// verdict, and CUE must not fail at a path the Go validator passed.
//
// go test -run='^$' -fuzz=FuzzValidatorAgreesWithCUE -fuzztime=60s ./internal/validate/
func FuzzValidatorAgreesWithCUE(f *testing.F) {
	fuzzOnce.Do(func() {
		for _, bp := range fuzzBlueprints() {
			fuzzPairs = append(fuzzPairs, compilePair(f, bp))
		}
	})
	for which, bp := range fuzzBlueprints() {
		g := newGen(uint64(100 + which))
		info := infoOf(bp)
		for range 20 {
			valid := g.validEntity(info)
			b, _ := json.Marshal(valid)
			f.Add(uint8(which), b)
			c, _ := g.mutate(info, valid)
			b, _ = json.Marshal(c.entity)
			f.Add(uint8(which), b)
		}
	}
	base := `"team":"a","owners":["u"],"consumer":"c"`
	for _, s := range []string{
		`{}`, `{"properties":{}}`, `{"properties":null}`, `{"relations":null}`, `[]`, `null`, `1`, `"x"`,
		`{"identifier":null,"title":null,"icon":null,"team":null,"properties":{"name":null,"replicas":null,"created":null,"lifecycle":null,"tags":null},"relations":{"team":null,"owners":null,"deps":null,"domain":null}}`,
		`{"properties":{"name":"ab","replicas":1,"created":"2026-01-02T15:04:05Z"},"relations":{` + base + `}}`,
		`{"properties":{"name":"ab","replicas":1.0,"created":"2026-01-02T15:04:05Z","level":1.0},"relations":{` + base + `}}`,
		`{"properties":{"name":"ab","replicas":1E0,"created":"2026-01-02T15:04:05Z","level":1e0},"relations":{` + base + `}}`,
		`{"properties":{"name":"ab","replicas":100.49999999999999999999,"created":"2026-01-02T15:04:05Z","level":10e-1},"relations":{` + base + `}}`,
		`{"properties":{"name":"ab","replicas":100.5,"created":"2026-01-02T15:04:05Z","level":2.50},"relations":{` + base + `}}`,
		`{"properties":{"name":"ab","replicas":0.99999999999999999999,"created":"2026-01-02T15:04:05Z","level":-0},"relations":{` + base + `}}`,
		`{"properties":{"name":"ab","replicas":1,"created":"2026-01-02T15:04:05Z","level":1e400,"huge":1e400,"tiny":1e-401},"relations":{` + base + `}}`,
		`{"properties":{"name":"ab","replicas":1,"created":"2026-01-02T15:04:05Z","level":10e399,"huge":1.0000000000000000001e400,"tiny":1e-400},"relations":{` + base + `}}`,
		`{"properties":{"name":"ab","replicas":1e1000000000,"created":"2026-01-02T15:04:05Z","huge":-1e99999999999999999999},"relations":{` + base + `}}`,
		`{"properties":{"ratio":-0.5,"$x":-0.0}}`, `{"properties":{"ratio":0.30000000000000001}}`, `{"properties":{"ratio":-0.49999999999999999}}`,
		`{"properties":{"name":"abé","cjk":"日本語"}}`, `{"properties":{"cjk":"日本語中"}}`, `{"properties":{"name":"a\ud800"}}`, `{"properties":{"name":"a\u0000b","my-prop":"\/\b"}}`,
		`{"properties":{"created":"2026-13-01T00:00:00Z"}}`, `{"properties":{"created":"2026-01-01T00:00:00z"}}`, `{"properties":{"created":"2026-01-01T00:00:00+24:00"}}`,
		`{"properties":{"deadline":"2026-02-29T00:00:00Z"}}`, `{"properties":{"created":"2026-01-01T00:00:00.000000000001Z"}}`,
		`{"properties":{"ip":"::ffff:1.2.3.4","ip6":"::ffff:1.2.3.4"}}`, `{"properties":{"ip":"1.2.3.4%eth0","ip6":"fe80::1%eth0"}}`, `{"properties":{"ip":"1.2.3.04","ip6":"::ffff:01.2.3.4"}}`,
		`{"properties":{"email":"a@b.c","homepage":"https://x"}}`, `{"properties":{"email":"ä@ö.ü","homepage":"h://x y"}}`,
		`{"properties":{"tags":["a","a"],"ports":[1,1.0],"mixed":[null,null]}}`, `{"properties":{"ports":[1.0,1e0],"mixed":[1,1.0]}}`, `{"properties":{"ports":[0,-0],"mixed":[2.5,25e-1]}}`,
		`{"properties":{"any":[{"a":1},{"a":1.0}]}}`, `{"properties":{"any":[{"a":1.0},{"a":10e-1}]}}`, `{"properties":{"any":[{"a":1,"b":2},{"b":2,"a":1}]}}`, `{"properties":{"any":[[],{}]}}`,
		`{"properties":{"matrix":[["1.2.3.4"],["1.2.3.4"]]}}`, `{"properties":{"matrix":[["1.2.3.4","1.2.3.4"]]}}`, `{"properties":{"matrix":[[],[null]]}}`,
		`{"properties":{"loose":["x",1,true,null,{},[1,2]]}}`, `{"properties":{"loose":["y",-1,[]]}}`,
		`{"properties":{"mixed":["a",1e0,true]}}`, `{"properties":{"mixed":["b"]}}`, `{"properties":{"urls":[]}}`,
		`{"properties":{"lifecycle":"quote\"d\\","enabled":true,"flag":false}}`, `{"properties":{"lifecycle":"Développement","enabled":false}}`,
		`{"properties":{"health":"ok"}}`, `{"properties":{"cost":1}}`, `{"properties":{"score":null}}`, `{"properties":{"twin":"x"}}`, `{"properties":{"owner_name":"x","open_prs":1}}`,
		`{"properties":{"name":"ab","name":"x"}}`, `{"properties":{"name":1,"name":"ab"}}`, `{"properties":{"":1}}`,
		`{"relations":{"owners":[],"deps":[],"domain":null,"my-rel":"x","with sp":null}}`, `{"relations":{"team":["a"],"owners":"a","consumer":null}}`,
		`{"team":1}`, `{"team":["a",1]}`, `{"team":[]}`, `{"identifier":"has space"}`, `{"identifier":""}`, `{"identifier":"a@b:c/d=e+f"}`, `{"blueprint":"service"}`,
	} {
		f.Add(uint8(0), []byte(s))
	}
	for _, s := range []string{`{"properties":{"size":-0}}`, `{"properties":{"size":0.0}}`, `{"properties":{"size":1}}`, `{"properties":{"size":1e0,"slack":"#a"}}`, `{"properties":{"size":1e-1}}`} {
		f.Add(uint8(1), []byte(s))
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		p := fuzzPairs[int(which)%len(fuzzPairs)]
		n, err := node.Decode(data, catalog.Pos{})
		if err != nil || n.Kind != node.Struct || !cueExact(n) {
			return
		}
		canonical := n.JSON()
		gv := p.goVerdict(n)
		cv := p.cueVerdict(canonical)
		if gv.valid != cv.valid || !subset(cv.keys, gv.keys) {
			t.Fatalf("blueprint %s: Go valid=%v at [%s], CUE valid=%v at [%s]\nentity: %s\nGo:%s\nCUE:%s",
				p.bp.Identifier, gv.valid, keyList(gv.keys), cv.valid, keyList(cv.keys), canonical, gv.text, cv.text)
		}
	})
}

// FuzzGeneratedAgreesWithCUE runs the differential test's generator from
// seeds the fuzzer picks: one blueprint, and valid and single-mutation
// entities for it, with every check of TestDifferential.
//
// go test -run='^$' -fuzz=FuzzGeneratedAgreesWithCUE -fuzztime=60s ./internal/validate/
func FuzzGeneratedAgreesWithCUE(f *testing.F) {
	for seed := range uint64(8) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		g := newGen(seed)
		info := g.blueprint(int(seed % 1000))
		p := compilePair(t, info.bp)
		for range 4 {
			valid := g.validEntity(info)
			if !checkCase(t, p, tcase{desc: "valid", entity: valid, valid: true}) {
				t.Fatalf("seed %d", seed)
			}
			c, _ := g.mutate(info, valid)
			if !checkCase(t, p, c) {
				t.Fatalf("seed %d", seed)
			}
		}
	})
}
