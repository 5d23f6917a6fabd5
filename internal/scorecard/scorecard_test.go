package scorecard

import (
	"slices"
	"strings"
	"testing"
)

const ladderSrc = `{
  "identifier": "ladder",
  "blueprintIdentifier": "service",
  "rules": [
    {"identifier": "gold", "level": "Gold", "query": {"combinator": "and", "conditions": [{"property": "g", "operator": "=", "value": true}]}},
    {"identifier": "bronze1", "level": "Bronze", "query": {"combinator": "and", "conditions": [{"property": "b1", "operator": "=", "value": true}]}},
    {"identifier": "silver", "level": "Silver", "query": {"combinator": "and", "rules": [{"property": "s", "operator": ">=", "value": 80}]}},
    {"identifier": "bronze2", "level": "Bronze", "query": {"combinator": "and", "rules": [{"property": "b2", "operator": "isNotEmpty"}]}}
  ]
}`

func TestLevelLadder(t *testing.T) {
	s := mustCompile(t, decodeScorecard(t, ladderSrc))
	tests := []struct {
		name  string
		props string
		level string
		index int
		rules []string
	}{
		{"all pass", `{"g": true, "b1": true, "s": 80, "b2": "x"}`, "Gold", 3,
			[]string{"gold:+", "bronze1:+", "silver:+", "bronze2:+"}},
		{"nothing set", `{}`, "Basic", 0,
			[]string{"gold:-", "bronze1:-", "silver:-", "bronze2:-"}},
		{"failed bronze blocks silver and gold", `{"g": true, "b1": false, "s": 99, "b2": "x"}`, "Basic", 0,
			[]string{"gold:+", "bronze1:-", "silver:+", "bronze2:+"}},
		{"one of two bronze rules failing is enough", `{"g": true, "b1": true, "s": 99}`, "Basic", 0,
			[]string{"gold:+", "bronze1:+", "silver:+", "bronze2:-"}},
		{"failed silver keeps bronze despite gold", `{"g": true, "b1": true, "s": 79.5, "b2": "x"}`, "Bronze", 1,
			[]string{"gold:+", "bronze1:+", "silver:-", "bronze2:+"}},
		{"failed gold keeps silver", `{"g": false, "b1": true, "s": 100, "b2": "x"}`, "Silver", 2,
			[]string{"gold:-", "bronze1:+", "silver:+", "bronze2:+"}},
		{"type mismatch fails the rule", `{"g": "true", "b1": true, "s": "90", "b2": "x"}`, "Bronze", 1,
			[]string{"gold:-", "bronze1:+", "silver:-", "bronze2:+"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := s.Evaluate(entity(t, "service", "e", tt.props), nil)
			if !ok {
				t.Fatal("scorecard does not apply")
			}
			if r.Level != tt.level || r.LevelIndex != tt.index {
				t.Errorf("level = %s (%d), want %s (%d)", r.Level, r.LevelIndex, tt.level, tt.index)
			}
			if got := statuses(r); !slices.Equal(got, tt.rules) {
				t.Errorf("rules = %v, want %v", got, tt.rules)
			}
		})
	}
}

func TestCustomLevels(t *testing.T) {
	s := mustCompile(t, decodeScorecard(t, `{
	  "identifier": "custom",
	  "levels": [{"title": "Poor", "color": "red"}, {"title": "Fair", "color": "orange"}, {"title": "Empty", "color": "blue"}, {"title": "Great", "color": "green"}],
	  "rules": [
	    {"identifier": "base", "level": "Poor", "query": {"combinator": "and", "rules": [{"property": "p", "operator": "=", "value": true}]}},
	    {"identifier": "fair", "level": "Fair", "query": {"combinator": "and", "rules": [{"property": "f", "operator": "=", "value": true}]}},
	    {"identifier": "great", "level": "Great", "query": {"combinator": "or", "rules": [{"property": "g", "operator": "=", "value": true}, {"property": "h", "operator": "=", "value": true}]}}
	  ]
	}`))
	tests := []struct {
		name         string
		props        string
		level, color string
		index        int
	}{
		{"all pass", `{"p": true, "f": true, "h": true}`, "Great", "green", 3},
		{"level without rules is reached when lower ones are", `{"p": true, "f": true}`, "Empty", "blue", 2},
		{"failed base rule holds everything back", `{"p": false, "f": true, "g": true}`, "Poor", "red", 0},
		{"failed fair", `{"p": true, "g": true}`, "Poor", "red", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := s.Evaluate(entity(t, "any", "e", tt.props), nil)
			if !ok {
				t.Fatal("scorecard does not apply")
			}
			if r.Level != tt.level || r.Color != tt.color || r.LevelIndex != tt.index {
				t.Errorf("got %s/%s (%d), want %s/%s (%d)", r.Level, r.Color, r.LevelIndex, tt.level, tt.color, tt.index)
			}
		})
	}
	if got := s.Levels(); len(got) != 4 || got[0].Title != "Poor" || got[3].Title != "Great" {
		t.Errorf("Levels() = %v", got)
	}
}

func TestApplies(t *testing.T) {
	rules := `"rules": [{"identifier": "r", "level": "Bronze", "query": {"combinator": "and", "rules": [{"property": "ok", "operator": "=", "value": true}]}}]`
	filter := `"filter": {"combinator": "and", "rules": [{"property": "lifecycle", "operator": "in", "value": ["Production", "Staging"]}]}`
	seedFilter := `"filter": {"combinator": "and", "rules": [{"property": "$blueprint", "operator": "=", "value": "service"}]}`
	tests := []struct {
		name      string
		sc        string
		blueprint string
		props     string
		applies   bool
	}{
		{"no blueprint, no filter: everything", `{"identifier": "x", ` + rules + `}`, "team", `{}`, true},
		{"blueprintIdentifier matches", `{"identifier": "x", "blueprintIdentifier": "service", ` + rules + `}`, "service", `{}`, true},
		{"blueprintIdentifier excludes", `{"identifier": "x", "blueprintIdentifier": "service", ` + rules + `}`, "team", `{}`, false},
		{"filter keeps", `{"identifier": "x", ` + filter + `, ` + rules + `}`, "service", `{"lifecycle": "Staging"}`, true},
		{"filter excludes", `{"identifier": "x", ` + filter + `, ` + rules + `}`, "service", `{"lifecycle": "Development"}`, false},
		{"filter excludes missing property", `{"identifier": "x", ` + filter + `, ` + rules + `}`, "service", `{}`, false},
		{"blueprint and filter both needed", `{"identifier": "x", "blueprintIdentifier": "service", ` + filter + `, ` + rules + `}`, "team", `{"lifecycle": "Production"}`, false},
		{"$blueprint in the filter, as in the seed", `{"identifier": "x", ` + seedFilter + `, ` + rules + `}`, "service", `{}`, true},
		{"$blueprint in the filter excludes", `{"identifier": "x", ` + seedFilter + `, ` + rules + `}`, "team", `{}`, false},
		{"empty and-filter keeps all", `{"identifier": "x", "filter": {"combinator": "and", "rules": []}, ` + rules + `}`, "team", `{}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustCompile(t, decodeScorecard(t, tt.sc))
			r, ok := s.Evaluate(entity(t, tt.blueprint, "e", tt.props), nil)
			if ok != tt.applies {
				t.Fatalf("applies = %v, want %v", ok, tt.applies)
			}
			if ok && r.Level != "Basic" {
				t.Errorf("level = %s, want Basic", r.Level)
			}
		})
	}
	s := mustCompile(t, decodeScorecard(t, `{"identifier": "x", `+rules+`}`))
	if _, ok := s.Evaluate(nil, nil); ok {
		t.Error("nil entity applies")
	}
}

func TestCompileErrors(t *testing.T) {
	q := `{"combinator": "and", "rules": []}`
	tests := []struct {
		name string
		sc   string
		want []string // substrings of the error
	}{
		{"unknown level", `{"identifier": "sc", "rules": [{"identifier": "r1", "level": "Platinum", "query": ` + q + `}]}`,
			[]string{`scorecard "sc"`, `rule "r1"`, `unknown level "Platinum"`, "Basic, Bronze, Silver, Gold"}},
		{"default level with custom levels", `{"identifier": "sc", "levels": [{"title": "Low"}, {"title": "High"}], "rules": [{"identifier": "r1", "level": "Gold", "query": ` + q + `}]}`,
			[]string{`unknown level "Gold"`, "Low, High"}},
		{"duplicate rule", `{"identifier": "sc", "rules": [{"identifier": "r1", "level": "Gold", "query": ` + q + `}, {"identifier": "r1", "level": "Bronze", "query": ` + q + `}]}`,
			[]string{`rule "r1" is declared twice`}},
		{"rule without identifier", `{"identifier": "sc", "rules": [{"level": "Gold", "query": ` + q + `}]}`,
			[]string{`rules[0] has no identifier`}},
		{"duplicate level", `{"identifier": "sc", "levels": [{"title": "A"}, {"title": "A"}], "rules": []}`,
			[]string{`level "A" is declared twice`}},
		{"bad filter", `{"identifier": "sc", "filter": {"combinator": "xor", "rules": []}, "rules": []}`,
			[]string{`scorecard "sc": filter:`, "xor"}},
		{"bad rule query", `{"identifier": "sc", "rules": [{"identifier": "r1", "level": "Gold", "query": {"combinator": "and", "rules": [{"property": "$nope", "operator": "=", "value": 1}]}}]}`,
			[]string{`rule "r1"`, "rules[0]", "$nope"}},
		{"missing identifier", `{"rules": []}`, []string{"missing identifier"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(decodeScorecard(t, tt.sc), opts())
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := Compile(nil, opts()); err == nil {
		t.Error("nil scorecard compiled")
	}
}

// TestSeedScorecards evaluates the seed's two scorecards, verbatim, on
// hand-made entities.
func TestSeedScorecards(t *testing.T) {
	pr := mustCompile(t, loadScorecard(t, "seed_production_readiness.json"))
	sec := mustCompile(t, loadScorecard(t, "seed_security_compliance.json"))
	const perfect = `"has_readme": true, "test_coverage": 92, "has_monitoring": true, "has_alerts": true,
		"critical_vulnerabilities": 0, "uses_secrets_manager": true, "hardcoded_secrets": 0, "security_review_status": "approved"`
	tests := []struct {
		name      string
		blueprint string
		props     string
		pr, sec   string // "" when the scorecard does not apply
	}{
		{"perfect production service", "service", `{"lifecycle": "Production", ` + perfect + `}`, "Gold", "Gold"},
		{"staging counts for readiness", "service", `{"lifecycle": "Staging", ` + perfect + `}`, "Gold", "Gold"},
		{"development is filtered out of readiness only", "service", `{"lifecycle": "Development", ` + perfect + `}`, "", "Gold"},
		{"other blueprint: neither applies", "microservice", `{"lifecycle": "Production", ` + perfect + `}`, "", ""},
		{"bare production service", "service", `{"lifecycle": "Production"}`, "Basic", "Basic"},
		{"coverage 79.9 stops at Bronze", "service", `{"lifecycle": "Production", "has_readme": true, "test_coverage": 79.9, "has_monitoring": true, "has_alerts": true}`, "Bronze", "Basic"},
		{"coverage exactly 80 is Silver without alerts", "service", `{"lifecycle": "Production", "has_readme": true, "test_coverage": 80, "has_monitoring": true, "has_alerts": false}`, "Silver", "Basic"},
		{"no README: Basic despite monitoring and tests", "service", `{"lifecycle": "Production", "has_readme": false, "test_coverage": 95, "has_monitoring": true, "has_alerts": true}`, "Basic", "Basic"},
		{"a critical vulnerability: Basic despite approved review", "service", `{"lifecycle": "Production", "critical_vulnerabilities": 1, "uses_secrets_manager": true, "hardcoded_secrets": 0, "security_review_status": "approved"}`, "Basic", "Basic"},
		{"hardcoded secrets: Bronze", "service", `{"lifecycle": "Production", "critical_vulnerabilities": 0, "uses_secrets_manager": true, "hardcoded_secrets": 2, "security_review_status": "approved"}`, "Basic", "Bronze"},
		{"pending review: Silver", "service", `{"lifecycle": "Production", "critical_vulnerabilities": 0.0, "uses_secrets_manager": true, "hardcoded_secrets": 0, "security_review_status": "pending"}`, "Basic", "Silver"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := entity(t, tt.blueprint, "svc", tt.props)
			for _, c := range []struct {
				s    *Scorecard
				want string
			}{{pr, tt.pr}, {sec, tt.sec}} {
				r, ok := c.s.Evaluate(e, nil)
				got := ""
				if ok {
					got = r.Level
				}
				if got != c.want {
					t.Errorf("%s = %q, want %q (rules %v)", c.s.Identifier(), got, c.want, statuses(r))
				}
			}
		})
	}
}

func TestDependencyScan(t *testing.T) {
	s := mustCompile(t, decodeScorecard(t, `{
	  "identifier": "x",
	  "filter": {"combinator": "and", "rules": [{"property": "$scorecard.a.level", "operator": ">=", "value": "Bronze"}]},
	  "rules": [
	    {"identifier": "r1", "level": "Gold", "query": {"combinator": "or", "rules": [
	      {"combinator": "and", "rules": [{"property": "$scorecard.b", "operator": "=", "value": "Gold"}]},
	      {"property": "$team", "operator": "isNotEmpty"}]}},
	    {"identifier": "r2", "level": "Gold", "query": {"combinator": "and", "rules": [{"property": "due", "operator": "isExpired"}]}},
	    {"identifier": "r3", "level": "Silver", "query": {"combinator": "and", "rules": [{"operator": "relatedTo", "blueprint": "team", "value": "t"}]}}
	  ]
	}`))
	if got := s.DependsOn(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("DependsOn = %v, want [a b]", got)
	}
	if !s.Relational() || !s.Clocked() {
		t.Errorf("Relational = %v, Clocked = %v, want both", s.Relational(), s.Clocked())
	}
	plain := mustCompile(t, decodeScorecard(t, ladderSrc))
	if len(plain.DependsOn()) != 0 || plain.Relational() || plain.Clocked() {
		t.Errorf("ladder: DependsOn = %v, Relational = %v, Clocked = %v", plain.DependsOn(), plain.Relational(), plain.Clocked())
	}
}
