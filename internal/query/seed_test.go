package query

import (
	"encoding/json"
	"testing"

	"github.com/pierhq/pier/internal/catalog"
)

// The two scorecards of seed 003 (Port's cheat sheet), as written there.
const (
	productionReadiness = `{
  "identifier": "production_readiness",
  "title": "Production Readiness",
  "filter": {
    "combinator": "and",
    "rules": [
      {"property": "$blueprint", "operator": "=", "value": "service"},
      {"property": "lifecycle", "operator": "in", "value": ["Production", "Staging"]}
    ]
  },
  "rules": [
    {"identifier": "has_readme", "level": "Bronze", "query": {"combinator": "and", "rules": [
      {"property": "has_readme", "operator": "=", "value": true}]}},
    {"identifier": "has_tests", "level": "Silver", "query": {"combinator": "and", "rules": [
      {"property": "test_coverage", "operator": ">=", "value": 80}]}},
    {"identifier": "has_monitoring", "level": "Gold", "query": {"combinator": "and", "rules": [
      {"property": "has_monitoring", "operator": "=", "value": true},
      {"property": "has_alerts", "operator": "=", "value": true}]}}
  ]
}`
	securityCompliance = `{
  "identifier": "security_compliance",
  "title": "Security Compliance",
  "filter": {
    "combinator": "and",
    "rules": [{"property": "$blueprint", "operator": "=", "value": "service"}]
  },
  "rules": [
    {"identifier": "vulnerability_scan", "level": "Bronze", "query": {"combinator": "and", "rules": [
      {"property": "critical_vulnerabilities", "operator": "=", "value": 0}]}},
    {"identifier": "secrets_management", "level": "Silver", "query": {"combinator": "and", "rules": [
      {"property": "uses_secrets_manager", "operator": "=", "value": true},
      {"property": "hardcoded_secrets", "operator": "=", "value": 0}]}},
    {"identifier": "security_review", "level": "Gold", "query": {"combinator": "and", "rules": [
      {"property": "security_review_status", "operator": "=", "value": "approved"}]}}
  ]
}`
)

// compiledScorecard is a scorecard with its queries compiled.
type compiledScorecard struct {
	filter *Query
	levels []catalog.Level
	rules  []struct {
		level string
		query *Query
	}
}

func compileScorecard(t *testing.T, src string) compiledScorecard {
	t.Helper()
	var sc catalog.Scorecard
	if err := json.Unmarshal([]byte(src), &sc); err != nil {
		t.Fatal(err)
	}
	out := compiledScorecard{levels: sc.Levels}
	if len(out.levels) == 0 {
		out.levels = catalog.DefaultLevels
	}
	var err error
	if out.filter, err = Compile(*sc.Filter); err != nil {
		t.Fatalf("%s filter: %v", sc.Identifier, err)
	}
	for _, r := range sc.Rules {
		q, err := Compile(r.Query)
		if err != nil {
			t.Fatalf("%s rule %s: %v", sc.Identifier, r.Identifier, err)
		}
		out.rules = append(out.rules, struct {
			level string
			query *Query
		}{r.Level, q})
	}
	return out
}

// level evaluates e the way Port does: the entity reaches the highest
// level whose rules, and those of every level below it, all pass; the
// first level needs no rules. It returns "" when the filter excludes e.
func (sc compiledScorecard) level(e *Entity) string {
	if !sc.filter.Match(e, nil) {
		return ""
	}
	failed := map[string]bool{}
	for _, r := range sc.rules {
		if !r.query.Match(e, nil) {
			failed[r.level] = true
		}
	}
	reached := sc.levels[0].Title
	for _, l := range sc.levels[1:] {
		if failed[l.Title] {
			break
		}
		reached = l.Title
	}
	return reached
}

func TestSeedScorecards(t *testing.T) {
	pr := compileScorecard(t, productionReadiness)
	sec := compileScorecard(t, securityCompliance)
	cases := []struct {
		entity        string
		prLevel       string
		securityLevel string
	}{
		{`{"blueprint":"service","identifier":"gold","properties":{
			"lifecycle":"Production","has_readme":true,"test_coverage":92,"has_monitoring":true,"has_alerts":true,
			"critical_vulnerabilities":0,"uses_secrets_manager":true,"hardcoded_secrets":0,"security_review_status":"approved"}}`,
			"Gold", "Gold"},
		{`{"blueprint":"service","identifier":"silver","properties":{
			"lifecycle":"Staging","has_readme":true,"test_coverage":80,"has_monitoring":true,"has_alerts":false,
			"critical_vulnerabilities":0.0,"uses_secrets_manager":true,"hardcoded_secrets":0,"security_review_status":"pending"}}`,
			"Silver", "Silver"},
		{`{"blueprint":"service","identifier":"bronze","properties":{
			"lifecycle":"Production","has_readme":true,"test_coverage":79.99,"has_monitoring":true,"has_alerts":true,
			"critical_vulnerabilities":0,"uses_secrets_manager":false,"hardcoded_secrets":0,"security_review_status":"approved"}}`,
			"Bronze", "Bronze"},
		{`{"blueprint":"service","identifier":"basic","properties":{
			"lifecycle":"Production","has_readme":false,"test_coverage":95,"has_monitoring":true,"has_alerts":true,
			"critical_vulnerabilities":2,"uses_secrets_manager":true,"hardcoded_secrets":0,"security_review_status":"approved"}}`,
			"Basic", "Basic"},
		// Nothing set: every rule fails, including = on missing values.
		{`{"blueprint":"service","identifier":"bare","properties":{"lifecycle":"Staging"}}`, "Basic", "Basic"},
		// Strings are not numbers: "0" fails critical_vulnerabilities = 0.
		{`{"blueprint":"service","identifier":"stringly","properties":{
			"lifecycle":"Production","critical_vulnerabilities":"0","has_readme":"true"}}`, "Basic", "Basic"},
		// Out of production_readiness' filter, still in security's.
		{`{"blueprint":"service","identifier":"dev","properties":{
			"lifecycle":"Development","has_readme":true,"critical_vulnerabilities":0}}`, "", "Bronze"},
		{`{"blueprint":"team","identifier":"payments","properties":{"lifecycle":"Production","has_readme":true}}`, "", ""},
	}
	for _, tc := range cases {
		e := &Entity{Entity: decodeEntity(t, tc.entity)}
		t.Run(e.Identifier, func(t *testing.T) {
			if got := pr.level(e); got != tc.prLevel {
				t.Errorf("production_readiness = %q, want %q", got, tc.prLevel)
			}
			if got := sec.level(e); got != tc.securityLevel {
				t.Errorf("security_compliance = %q, want %q", got, tc.securityLevel)
			}
		})
	}
	if bps := pr.filter.Blueprints(); len(bps) != 1 || bps[0] != "service" {
		t.Errorf("production_readiness filter pins %v, want [service]", bps)
	}
}

// TestSeedDashboardQueries evaluates the seed's dashboard datasets,
// including the widget property $scorecard.production_readiness.level.
func TestSeedDashboardQueries(t *testing.T) {
	prod := &Entity{
		Entity:     decodeEntity(t, `{"blueprint":"service","identifier":"a","properties":{"lifecycle":"Production"}}`),
		Scorecards: LevelMap{"production_readiness": "Gold"},
	}
	incident := &Entity{Entity: decodeEntity(t, `{"blueprint":"incident","identifier":"i1","properties":{"status":"open","assigned_team":"payments"}}`)}
	deployment := &Entity{Entity: decodeEntity(t, `{"blueprint":"deployment","identifier":"d1","properties":{}}`)}
	cases := []struct {
		query string
		e     *Entity
		want  bool
	}{
		{`{"combinator":"and","rules":[{"property":"$blueprint","operator":"=","value":"service"},
			{"property":"lifecycle","operator":"=","value":"Production"}]}`, prod, true},
		{`{"combinator":"and","rules":[{"property":"$blueprint","operator":"=","value":"service"},
			{"property":"lifecycle","operator":"=","value":"Production"}]}`, incident, false},
		{`{"combinator":"and","rules":[{"property":"$blueprint","operator":"=","value":"incident"},
			{"property":"status","operator":"=","value":"open"},
			{"property":"assigned_team","operator":"=","value":"payments"}]}`, incident, true},
		{`{"combinator":"and","rules":[{"property":"$blueprint","operator":"=","value":"deployment"}]}`, deployment, true},
		{one(`{"property":"$scorecard.production_readiness.level","operator":">=","value":"Silver"}`), prod, true},
		{one(`{"property":"$scorecard.production_readiness.level","operator":">=","value":"Silver"}`), incident, false},
	}
	for _, tc := range cases {
		if got := mustCompile(t, tc.query).Match(tc.e, nil); got != tc.want {
			t.Errorf("%s on %s: Match = %v, want %v", tc.query, tc.e.Identifier, got, tc.want)
		}
	}
}
