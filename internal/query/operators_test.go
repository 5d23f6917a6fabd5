package query

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
)

type ruleCase struct {
	rule string
	want bool
}

func runRules(t *testing.T, e *Entity, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.rule, func(t *testing.T) {
			q := mustCompile(t, one(tc.rule))
			if got := q.Match(e, nil); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEqual(t *testing.T) {
	runRules(t, subject(t), []ruleCase{
		{`{"property":"name","operator":"=","value":"checkout-api"}`, true},
		{`{"property":"name","operator":"=","value":"checkout"}`, false},
		{`{"property":"replicas","operator":"=","value":3}`, true},
		{`{"property":"replicas","operator":"=","value":3.0}`, true},
		{`{"property":"replicas","operator":"=","value":4}`, false},
		// 9007199254740993 is not a float64; it must not equal 2^53.
		{`{"property":"big","operator":"=","value":9007199254740992}`, false},
		{`{"property":"ratio","operator":"=","value":0.1}`, true},
		{`{"property":"coverage","operator":"=","value":85.5}`, true},
		{`{"property":"enabled","operator":"=","value":true}`, true},
		{`{"property":"enabled","operator":"=","value":false}`, false},
		{`{"property":"disabled","operator":"=","value":false}`, true},
		// Type mismatches never match.
		{`{"property":"replicas","operator":"=","value":"3"}`, false},
		{`{"property":"name","operator":"=","value":3}`, false},
		{`{"property":"enabled","operator":"=","value":"true"}`, false},
		{`{"property":"config","operator":"=","value":"x"}`, false},
		// Arrays match when an element does; nested arrays are not searched.
		{`{"property":"tags","operator":"=","value":"pci"}`, true},
		{`{"property":"tags","operator":"=","value":"gdpr"}`, false},
		{`{"property":"nums","operator":"=","value":3.5}`, true},
		{`{"property":"mixed","operator":"=","value":1}`, true},
		{`{"property":"mixed","operator":"=","value":true}`, true},
		{`{"property":"mixed","operator":"=","value":"nested"}`, false},
		// Meta-properties.
		{`{"property":"$identifier","operator":"=","value":"checkout"}`, true},
		{`{"property":"$title","operator":"=","value":"Checkout API"}`, true},
		{`{"property":"$blueprint","operator":"=","value":"service"}`, true},
		{`{"property":"$blueprint","operator":"=","value":"team"}`, false},
		{`{"property":"$icon","operator":"=","value":"Go"}`, true},
		{`{"property":"$team","operator":"=","value":"platform"}`, true},
		{`{"property":"$team","operator":"=","value":"search"}`, false},
		{`{"property":"$createdAt","operator":"=","value":"2024-01-01T00:00:00Z"}`, true},
		{`{"property":"$createdAt","operator":"=","value":"2024-01-01T01:00:00+01:00"}`, true},
		{`{"property":"$createdAt","operator":"=","value":"yesterday"}`, false},
		{`{"property":"$updatedAt","operator":"=","value":"2024-05-15T09:00:00.000Z"}`, true},
		// Date-times compare as instants when both sides parse.
		{`{"property":"deployedAt","operator":"=","value":"2024-05-10T14:00:00+02:00"}`, true},
		{`{"property":"deployedAtOffset","operator":"=","value":"2024-05-10T12:00:00Z"}`, true},
		{`{"property":"deployedAt","operator":"=","value":"2024-05-10T12:00:01Z"}`, false},
		// Relations read as the related identifiers.
		{`{"property":"team","operator":"=","value":"payments"}`, true},
		{`{"property":"deps","operator":"=","value":"cache"}`, true},
		{`{"property":"deps","operator":"=","value":"billing"}`, false},
		// Runtime values win over properties.
		{`{"property":"status","operator":"=","value":"degraded"}`, true},
		{`{"property":"status","operator":"=","value":"healthy"}`, false},
		{`{"property":"uptime","operator":"=","value":99.95}`, true},
		// Dotted paths: a literal key first, then object descent.
		{`{"property":"config.replicas","operator":"=","value":5}`, true},
		{`{"property":"config.region","operator":"=","value":"eu-west-1"}`, true},
		{`{"property":"config.deep.on","operator":"=","value":true}`, true},
		{`{"property":"config.missing","operator":"=","value":1}`, false},
		{`{"property":"name.length","operator":"=","value":12}`, false},
		{`{"property":"dotted.key","operator":"=","value":"literal"}`, true},
		// Scorecard levels.
		{`{"property":"$scorecard.production_readiness.level","operator":"=","value":"Silver"}`, true},
		{`{"property":"$scorecard.production_readiness","operator":"=","value":"Silver"}`, true},
		{`{"property":"$scorecard.production_readiness.level","operator":"=","value":"Gold"}`, false},
		{`{"property":"$scorecard.security.level","operator":"=","value":"Gold"}`, false},
	})
}

func TestNotEqual(t *testing.T) {
	runRules(t, subject(t), []ruleCase{
		{`{"property":"name","operator":"!=","value":"x"}`, true},
		{`{"property":"name","operator":"!=","value":"checkout-api"}`, false},
		{`{"property":"replicas","operator":"!=","value":3}`, false},
		{`{"property":"replicas","operator":"!=","value":"3"}`, true},
		{`{"property":"big","operator":"!=","value":9007199254740992}`, true},
		{`{"property":"enabled","operator":"!=","value":false}`, true},
		{`{"property":"tags","operator":"!=","value":"pci"}`, false},
		{`{"property":"$team","operator":"!=","value":"search"}`, true},
		{`{"property":"nope","operator":"!=","value":"x"}`, true},
		{`{"property":"nullProp","operator":"!=","value":"x"}`, true},
	})
}

func TestOrdering(t *testing.T) {
	runRules(t, subject(t), []ruleCase{
		{`{"property":"replicas","operator":">","value":2}`, true},
		{`{"property":"replicas","operator":">","value":3}`, false},
		{`{"property":"replicas","operator":">=","value":3}`, true},
		{`{"property":"replicas","operator":"<","value":3.0001}`, true},
		{`{"property":"replicas","operator":"<=","value":2.999}`, false},
		{`{"property":"replicas","operator":"<=","value":3}`, true},
		{`{"property":"replicas","operator":"<","value":3}`, false},
		{`{"property":"big","operator":">","value":9007199254740992}`, true},
		{`{"property":"coverage","operator":">","value":85.49}`, true},
		{`{"property":"coverage","operator":">=","value":85.5}`, true},
		{`{"property":"coverage","operator":"<","value":85.5}`, false},
		{`{"property":"uptime","operator":">","value":99.9}`, true},
		{`{"property":"config.replicas","operator":">=","value":5}`, true},
		// Strings compare bytewise.
		{`{"property":"name","operator":">","value":"a"}`, true},
		{`{"property":"name","operator":"<","value":"a"}`, false},
		{`{"property":"version","operator":">","value":"1.9.0"}`, false},
		// ...unless both sides are date-times: 12:00Z is after 13:00+02:00,
		// though "…T12" sorts before "…T13".
		{`{"property":"deployedAt","operator":">","value":"2024-05-10T13:00:00+02:00"}`, true},
		{`{"property":"deployedAt","operator":"<","value":"2024-05-10T13:00:00+02:00"}`, false},
		{`{"property":"day","operator":">","value":"2024-05-09"}`, true},
		{`{"property":"$createdAt","operator":"<","value":"2024-02-01T00:00:00Z"}`, true},
		{`{"property":"$updatedAt","operator":">=","value":"2024-05-15T09:00:00Z"}`, true},
		{`{"property":"$updatedAt","operator":">","value":"2024-05-15T09:00:00Z"}`, false},
		{`{"property":"$createdAt","operator":">","value":"not a date"}`, false},
		// Type mismatches and arrays are unordered: never match.
		{`{"property":"replicas","operator":">","value":"2"}`, false},
		{`{"property":"name","operator":">","value":1}`, false},
		{`{"property":"tags","operator":">","value":"a"}`, false},
		{`{"property":"enabled","operator":">","value":0}`, false},
		{`{"property":"config","operator":">","value":0}`, false},
		// Scorecard levels compare by rank (Basic < Bronze < Silver < Gold).
		{`{"property":"$scorecard.production_readiness.level","operator":">","value":"Bronze"}`, true},
		{`{"property":"$scorecard.production_readiness.level","operator":">=","value":"Silver"}`, true},
		{`{"property":"$scorecard.production_readiness.level","operator":">","value":"Silver"}`, false},
		{`{"property":"$scorecard.production_readiness.level","operator":"<","value":"Gold"}`, true},
		{`{"property":"$scorecard.production_readiness.level","operator":"<=","value":"Basic"}`, false},
		{`{"property":"$scorecard.production_readiness.level","operator":">","value":"Platinum"}`, false},
	})
}

func TestScorecardLevelsOption(t *testing.T) {
	e := subject(t)
	e.Scorecards.(LevelMap)["custom"] = "B"
	opts := Options{Levels: map[string][]catalog.Level{"custom": {{Title: "C"}, {Title: "B"}, {Title: "A"}}}}
	for _, tc := range []struct {
		rule string
		want bool
	}{
		{`{"property":"$scorecard.custom.level","operator":">","value":"C"}`, true},
		{`{"property":"$scorecard.custom.level","operator":"<","value":"A"}`, true},
		{`{"property":"$scorecard.custom.level","operator":">","value":"A"}`, false},
		// Default levels do not apply to a scorecard with its own.
		{`{"property":"$scorecard.custom.level","operator":">","value":"Basic"}`, false},
	} {
		q, err := opts.Compile(decodeQuery(t, one(tc.rule)))
		if err != nil {
			t.Fatalf("%s: %v", tc.rule, err)
		}
		if got := q.Match(e, nil); got != tc.want {
			t.Errorf("%s: Match = %v, want %v", tc.rule, got, tc.want)
		}
	}
}

func TestIn(t *testing.T) {
	runRules(t, subject(t), []ruleCase{
		{`{"property":"lang","operator":"in","value":["Go","Rust"]}`, true},
		{`{"property":"lang","operator":"in","value":["Rust"]}`, false},
		{`{"property":"lang","operator":"in","value":[]}`, false},
		{`{"property":"lang","operator":"in","value":["a","b","c","d","e","f","g","h","i","Go"]}`, true},
		{`{"property":"lang","operator":"in","value":["a","b","c","d","e","f","g","h","i","j"]}`, false},
		{`{"property":"replicas","operator":"in","value":[1,2,3]}`, true},
		{`{"property":"replicas","operator":"in","value":["3"]}`, false},
		{`{"property":"big","operator":"in","value":[9007199254740992]}`, false},
		{`{"property":"enabled","operator":"in","value":[true]}`, true},
		{`{"property":"disabled","operator":"in","value":[true]}`, false},
		{`{"property":"tags","operator":"in","value":["gdpr","pci"]}`, true},
		{`{"property":"tags","operator":"in","value":["gdpr"]}`, false},
		{`{"property":"$team","operator":"in","value":["platform"]}`, true},
		{`{"property":"$blueprint","operator":"in","value":["service","team"]}`, true},
		{`{"property":"team","operator":"in","value":["payments"]}`, true},
		{`{"property":"config","operator":"in","value":["x"]}`, false},
		{`{"property":"$createdAt","operator":"in","value":["2024-01-01T00:00:00Z"]}`, false},
	})
}

func TestNotIn(t *testing.T) {
	runRules(t, subject(t), []ruleCase{
		{`{"property":"lang","operator":"notIn","value":["Rust"]}`, true},
		{`{"property":"lang","operator":"notIn","value":["Go"]}`, false},
		{`{"property":"lang","operator":"notIn","value":[]}`, true},
		{`{"property":"replicas","operator":"notIn","value":["3"]}`, true},
		{`{"property":"replicas","operator":"notIn","value":[3]}`, false},
		{`{"property":"tags","operator":"notIn","value":["pci"]}`, false},
		{`{"property":"tags","operator":"notIn","value":["gdpr"]}`, true},
		{`{"property":"nope","operator":"notIn","value":["x"]}`, true},
	})
}

func TestContains(t *testing.T) {
	runRules(t, subject(t), []ruleCase{
		{`{"property":"name","operator":"contains","value":"out-a"}`, true},
		{`{"property":"name","operator":"contains","value":"xyz"}`, false},
		{`{"property":"name","operator":"contains","value":"Checkout"}`, false},
		{`{"property":"tags","operator":"contains","value":"pci"}`, true},
		{`{"property":"tags","operator":"contains","value":"pc"}`, false},
		{`{"property":"nums","operator":"contains","value":2}`, true},
		{`{"property":"nums","operator":"contains","value":"2"}`, false},
		{`{"property":"deps","operator":"contains","value":"ledger"}`, true},
		{`{"property":"$team","operator":"contains","value":"payments"}`, true},
		{`{"property":"replicas","operator":"contains","value":3}`, false},
		{`{"property":"name","operator":"contains","value":3}`, false},
		{`{"property":"doesNotContains_negates","operator":"doesNotContains","value":"x"}`, true},
		{`{"property":"name","operator":"doesNotContains","value":"xyz"}`, true},
		{`{"property":"name","operator":"doesNotContains","value":"out"}`, false},
		{`{"property":"tags","operator":"doesNotContains","value":"pci"}`, false},
		{`{"property":"replicas","operator":"doesNotContains","value":3}`, true},
	})
}

func TestContainsAny(t *testing.T) {
	runRules(t, subject(t), []ruleCase{
		{`{"property":"tags","operator":"containsAny","value":["gdpr","eu"]}`, true},
		{`{"property":"tags","operator":"containsAny","value":["gdpr"]}`, false},
		{`{"property":"tags","operator":"containsAny","value":[]}`, false},
		{`{"property":"name","operator":"containsAny","value":["zzz","api"]}`, true},
		{`{"property":"name","operator":"containsAny","value":["zzz"]}`, false},
		{`{"property":"$team","operator":"containsAny","value":["platform","search"]}`, true},
		{`{"property":"nums","operator":"containsAny","value":[3.5]}`, true},
		{`{"property":"replicas","operator":"containsAny","value":[3]}`, false},
		{`{"property":"enabled","operator":"containsAny","value":[true]}`, false},
	})
}

func TestAffixes(t *testing.T) {
	runRules(t, subject(t), []ruleCase{
		{`{"property":"name","operator":"beginsWith","value":"check"}`, true},
		{`{"property":"name","operator":"beginsWith","value":"api"}`, false},
		{`{"property":"tags","operator":"beginsWith","value":"pr"}`, true},
		{`{"property":"tags","operator":"beginsWith","value":"x"}`, false},
		{`{"property":"replicas","operator":"beginsWith","value":"3"}`, false},
		{`{"property":"name","operator":"doesNotBeginsWith","value":"api"}`, true},
		{`{"property":"name","operator":"doesNotBeginsWith","value":"check"}`, false},
		{`{"property":"replicas","operator":"doesNotBeginsWith","value":"3"}`, true},
		{`{"property":"name","operator":"endsWith","value":"-api"}`, true},
		{`{"property":"name","operator":"endsWith","value":"check"}`, false},
		{`{"property":"$identifier","operator":"endsWith","value":"out"}`, true},
		{`{"property":"mixed","operator":"endsWith","value":"a"}`, true},
		{`{"property":"name","operator":"doesNotEndsWith","value":"-api"}`, false},
		{`{"property":"name","operator":"doesNotEndsWith","value":"x"}`, true},
	})
}

func TestEmptiness(t *testing.T) {
	runRules(t, subject(t), []ruleCase{
		{`{"property":"emptyStr","operator":"isEmpty"}`, true},
		{`{"property":"emptyArr","operator":"isEmpty"}`, true},
		{`{"property":"emptyObj","operator":"isEmpty"}`, true},
		{`{"property":"nullProp","operator":"isEmpty"}`, true},
		{`{"property":"nope","operator":"isEmpty"}`, true},
		{`{"property":"none","operator":"isEmpty"}`, true},
		{`{"property":"name","operator":"isEmpty"}`, false},
		{`{"property":"replicas","operator":"isEmpty"}`, false},
		{`{"property":"disabled","operator":"isEmpty"}`, false},
		{`{"property":"tags","operator":"isEmpty"}`, false},
		{`{"property":"config","operator":"isEmpty"}`, false},
		{`{"property":"$title","operator":"isEmpty"}`, false},
		{`{"property":"$team","operator":"isEmpty"}`, false},
		{`{"property":"$scorecard.nope.level","operator":"isEmpty"}`, true},
		{`{"property":"name","operator":"isNotEmpty"}`, true},
		{`{"property":"replicas","operator":"isNotEmpty"}`, true},
		{`{"property":"emptyStr","operator":"isNotEmpty"}`, false},
		{`{"property":"emptyArr","operator":"isNotEmpty"}`, false},
		{`{"property":"nope","operator":"isNotEmpty"}`, false},
		{`{"property":"$createdAt","operator":"isNotEmpty"}`, true},
	})
}

func TestEmptyMetaProperties(t *testing.T) {
	e := &Entity{Entity: decodeEntity(t, `{"blueprint":"service","identifier":"bare","properties":{},"relations":{}}`)}
	runRules(t, e, []ruleCase{
		{`{"property":"$title","operator":"isEmpty"}`, true},
		{`{"property":"$team","operator":"isEmpty"}`, true},
		{`{"property":"$createdAt","operator":"isEmpty"}`, true},
		{`{"property":"$createdAt","operator":"isExpired"}`, false},
		{`{"property":"$team","operator":"notIn","value":["a"]}`, true},
		{`{"property":"$icon","operator":"isNotEmpty"}`, false},
	})
}

func TestBetween(t *testing.T) {
	runRules(t, subject(t), []ruleCase{
		{`{"property":"deployedAt","operator":"between","value":{"from":"2024-05-01T00:00:00Z","to":"2024-05-31T00:00:00Z"}}`, true},
		{`{"property":"deployedAt","operator":"between","value":{"from":"2024-05-10T12:00:00Z","to":"2024-05-10T12:00:00Z"}}`, true},
		{`{"property":"deployedAt","operator":"between","value":{"from":"2024-05-11T00:00:00Z","to":"2024-05-31T00:00:00Z"}}`, false},
		{`{"property":"deployedAt","operator":"between","value":{"from":"2024-05-01T00:00:00Z","to":"2024-05-10T11:59:59Z"}}`, false},
		// A bare date as `to` covers that whole day.
		{`{"property":"deployedAt","operator":"between","value":{"from":"2024-05-10","to":"2024-05-10"}}`, true},
		{`{"property":"day","operator":"between","value":{"from":"2024-05-10","to":"2024-05-10"}}`, true},
		{`{"property":"$createdAt","operator":"between","value":{"from":"2023-12-31T23:00:00-01:00","to":"2024-01-02T00:00:00Z"}}`, true},
		{`{"property":"deployedAt","operator":"between","value":{"preset":"lastWeek"}}`, true},
		{`{"property":"deployedAt","operator":"between","value":{"preset":"today"}}`, false},
		{`{"property":"$updatedAt","operator":"between","value":{"preset":"today"}}`, true},
		{`{"property":"replicas","operator":"between","value":{"from":1,"to":3}}`, true},
		{`{"property":"replicas","operator":"between","value":{"from":3,"to":3}}`, true},
		{`{"property":"replicas","operator":"between","value":{"from":4,"to":10}}`, false},
		{`{"property":"coverage","operator":"between","value":{"from":85.5,"to":100}}`, true},
		// Mismatches: a number against dates, a string against numbers.
		{`{"property":"replicas","operator":"between","value":{"preset":"today"}}`, false},
		{`{"property":"name","operator":"between","value":{"from":1,"to":3}}`, false},
		{`{"property":"name","operator":"between","value":{"preset":"lastWeek"}}`, false},
		{`{"property":"tags","operator":"between","value":{"preset":"lastWeek"}}`, false},
		{`{"property":"deployedAt","operator":"notBetween","value":{"from":"2024-05-11T00:00:00Z","to":"2024-05-31T00:00:00Z"}}`, true},
		{`{"property":"deployedAt","operator":"notBetween","value":{"preset":"lastWeek"}}`, false},
		{`{"property":"replicas","operator":"notBetween","value":{"from":1,"to":3}}`, false},
		{`{"property":"name","operator":"notBetween","value":{"preset":"today"}}`, true},
		{`{"property":"nope","operator":"notBetween","value":{"preset":"today"}}`, true},
	})
}

func TestPresets(t *testing.T) {
	// clock is Wednesday 2024-05-15 12:00 UTC.
	at := func(s string) *Entity {
		return &Entity{Entity: &catalog.Entity{Blueprint: "b", Identifier: "x", Properties: map[string]any{"at": s}}}
	}
	cases := []struct {
		preset string
		at     string
		want   bool
	}{
		{"today", "2024-05-15T00:00:00Z", true},
		{"today", "2024-05-15T23:59:59.999Z", true},
		{"today", "2024-05-16T00:00:00Z", false},
		{"today", "2024-05-14T23:59:59Z", false},
		{"yesterday", "2024-05-14T08:00:00Z", true},
		{"yesterday", "2024-05-15T08:00:00Z", false},
		{"tomorrow", "2024-05-16T23:00:00Z", true},
		{"tomorrow", "2024-05-17T00:00:00Z", false},
		{"lastDay", "2024-05-14T12:00:00Z", true},
		{"lastDay", "2024-05-14T11:59:59Z", false},
		{"lastWeek", "2024-05-08T12:00:00Z", true},
		{"lastWeek", "2024-05-08T11:59:59Z", false},
		{"lastWeek", "2024-05-15T12:00:01Z", false},
		{"last2Weeks", "2024-05-02T00:00:00Z", true},
		{"last2Weeks", "2024-04-30T00:00:00Z", false},
		{"lastMonth", "2024-04-16T00:00:00Z", true},
		{"lastMonth", "2024-04-15T00:00:00Z", false},
		{"last3Months", "2024-02-20T00:00:00Z", true},
		{"last3Months", "2024-02-10T00:00:00Z", false},
		{"last6Months", "2023-11-20T00:00:00Z", true},
		{"last6Months", "2023-11-10T00:00:00Z", false},
		{"last12Months", "2023-05-20T00:00:00Z", true},
		{"last12Months", "2023-05-10T00:00:00Z", false},
		{"last2Years", "2022-05-16T00:00:00Z", true},
		{"last2Years", "2022-05-14T00:00:00Z", false},
		{"last3Years", "2021-05-16T00:00:00Z", true},
		{"last3Years", "2021-05-14T00:00:00Z", false},
		{"nextDay", "2024-05-16T12:00:00Z", true},
		{"nextDay", "2024-05-16T12:00:01Z", false},
		{"nextWeek", "2024-05-20T00:00:00Z", true},
		{"nextWeek", "2024-05-14T00:00:00Z", false},
		{"next2Weeks", "2024-05-29T00:00:00Z", true},
		{"next2Weeks", "2024-05-30T00:00:00Z", false},
		{"nextMonth", "2024-06-14T00:00:00Z", true},
		{"nextMonth", "2024-06-15T00:00:00Z", false},
		{"next3Months", "2024-08-13T00:00:00Z", true},
		{"next3Months", "2024-08-14T00:00:00Z", false},
		{"next6Months", "2024-11-11T00:00:00Z", true},
		{"next6Months", "2024-11-12T00:00:00Z", false},
		{"next12Months", "2025-05-15T00:00:00Z", true},
		{"next12Months", "2025-05-16T00:00:00Z", false},
	}
	for _, tc := range cases {
		t.Run(tc.preset+"/"+tc.at, func(t *testing.T) {
			q := mustCompile(t, one(`{"property":"at","operator":"between","value":{"preset":"`+tc.preset+`"}}`))
			if got := q.Match(at(tc.at), nil); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
			// A Matcher caches the preset's bounds; ask twice.
			m := q.Matcher(nil)
			for range 2 {
				if got := m.Match(at(tc.at)); got != tc.want {
					t.Errorf("Matcher.Match = %v, want %v", got, tc.want)
				}
			}
			nq := mustCompile(t, one(`{"property":"at","operator":"notBetween","value":{"preset":"`+tc.preset+`"}}`))
			if got := nq.Match(at(tc.at), nil); got == tc.want {
				t.Errorf("notBetween Match = %v, want %v", got, !tc.want)
			}
		})
	}
}

// TestPresetLocation checks that calendar-day presets follow the clock's
// location, not UTC.
func TestPresetLocation(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	now := time.Date(2024, 5, 15, 8, 0, 0, 0, tokyo) // 2024-05-14T23:00Z
	q, err := Options{Now: func() time.Time { return now }}.Compile(decodeQuery(t,
		one(`{"property":"at","operator":"between","value":{"preset":"today"}}`)))
	if err != nil {
		t.Fatal(err)
	}
	for at, want := range map[string]bool{
		"2024-05-14T15:00:00Z": true,  // 00:00 JST on the 15th
		"2024-05-14T14:59:59Z": false, // still the 14th in Tokyo
		"2024-05-15T14:59:59Z": true,
		"2024-05-15T15:00:00Z": false,
	} {
		e := &Entity{Entity: &catalog.Entity{Blueprint: "b", Identifier: "x", Properties: map[string]any{"at": at}}}
		if got := q.Match(e, nil); got != want {
			t.Errorf("today(%s) = %v, want %v", at, got, want)
		}
	}
}

func TestExpiry(t *testing.T) {
	runRules(t, subject(t), []ruleCase{
		{`{"property":"expiresAt","operator":"isExpired"}`, true},
		{`{"property":"renewAt","operator":"isExpired"}`, false},
		{`{"property":"$createdAt","operator":"isExpired"}`, true},
		{`{"property":"name","operator":"isExpired"}`, false},
		{`{"property":"nope","operator":"isExpired"}`, false},
		{`{"property":"renewAt","operator":"isNotExpired"}`, true},
		{`{"property":"expiresAt","operator":"isNotExpired"}`, false},
		{`{"property":"name","operator":"isNotExpired"}`, false},
		{`{"property":"nope","operator":"isNotExpired"}`, false},
	})
	// A timer expires at the instant it names.
	e := &Entity{Entity: &catalog.Entity{Blueprint: "b", Identifier: "x",
		Properties: map[string]any{"t": clock.Format(time.RFC3339Nano)}}}
	if !mustCompile(t, one(`{"property":"t","operator":"isExpired"}`)).Match(e, nil) {
		t.Error("a timer at now is not expired")
	}
	if mustCompile(t, one(`{"property":"t","operator":"isNotExpired"}`)).Match(e, nil) {
		t.Error("a timer at now is not expired (isNotExpired)")
	}
}

// TestClockReadPerMatch checks that the clock is read when matching, not
// when compiling, so a long-lived compiled query follows time.
func TestClockReadPerMatch(t *testing.T) {
	now := clock
	q, err := Options{Now: func() time.Time { return now }}.Compile(decodeQuery(t,
		one(`{"property":"t","operator":"isExpired"}`)))
	if err != nil {
		t.Fatal(err)
	}
	e := &Entity{Entity: &catalog.Entity{Blueprint: "b", Identifier: "x",
		Properties: map[string]any{"t": "2024-05-16T00:00:00Z"}}}
	if q.Match(e, nil) {
		t.Fatal("expired before its time")
	}
	now = now.Add(24 * time.Hour)
	if !q.Match(e, nil) {
		t.Fatal("not expired after the clock moved")
	}
	if !q.Matcher(nil).Match(e) {
		t.Fatal("Matcher did not read the clock")
	}
}

// TestMissingTruthTable pins the documented semantics: a missing or null
// property fails every positive operator and passes the negated ones.
func TestMissingTruthTable(t *testing.T) {
	cases := []struct {
		op, value string
		want      bool
	}{
		{"=", `"x"`, false},
		{"=", `0`, false},
		{"=", `false`, false},
		{"!=", `"x"`, true},
		{">", `0`, false},
		{">=", `0`, false},
		{"<", `0`, false},
		{"<=", `"z"`, false},
		{"in", `["x"]`, false},
		{"notIn", `["x"]`, true},
		{"contains", `"x"`, false},
		{"doesNotContains", `"x"`, true},
		{"containsAny", `["x"]`, false},
		{"beginsWith", `"x"`, false},
		{"doesNotBeginsWith", `"x"`, true},
		{"endsWith", `"x"`, false},
		{"doesNotEndsWith", `"x"`, true},
		{"isEmpty", `null`, true},
		{"isNotEmpty", `null`, false},
		{"between", `{"preset":"today"}`, false},
		{"between", `{"from":0,"to":1}`, false},
		{"notBetween", `{"preset":"today"}`, true},
		{"isExpired", `null`, false},
		{"isNotExpired", `null`, false},
	}
	e := subject(t)
	for _, prop := range []string{"nope", "nullProp", "config.nope", "$scorecard.none"} {
		for _, tc := range cases {
			rule := `{"property":"` + prop + `","operator":"` + tc.op + `","value":` + tc.value + `}`
			t.Run(rule, func(t *testing.T) {
				if got := mustCompile(t, one(rule)).Match(e, nil); got != tc.want {
					t.Errorf("Match = %v, want %v", got, tc.want)
				}
			})
		}
	}
}

func TestGroups(t *testing.T) {
	e := subject(t)
	cases := []struct {
		query string
		want  bool
	}{
		{`{"combinator":"and","rules":[]}`, true},
		{`{"combinator":"or","rules":[]}`, false},
		{`{"combinator":"and"}`, true},
		{`{"combinator":"and","rules":[
			{"property":"lang","operator":"=","value":"Go"},
			{"property":"replicas","operator":">","value":1}]}`, true},
		{`{"combinator":"and","rules":[
			{"property":"lang","operator":"=","value":"Go"},
			{"property":"replicas","operator":">","value":5}]}`, false},
		{`{"combinator":"or","rules":[
			{"property":"lang","operator":"=","value":"Rust"},
			{"property":"replicas","operator":">","value":1}]}`, true},
		{`{"combinator":"or","rules":[
			{"property":"lang","operator":"=","value":"Rust"},
			{"property":"replicas","operator":">","value":5}]}`, false},
		{`{"combinator":"and","rules":[
			{"property":"$blueprint","operator":"=","value":"service"},
			{"combinator":"or","rules":[
				{"property":"lang","operator":"=","value":"Rust"},
				{"combinator":"and","rules":[
					{"property":"tags","operator":"contains","value":"pci"},
					{"property":"enabled","operator":"=","value":true}]}]}]}`, true},
		{`{"combinator":"and","rules":[
			{"property":"$blueprint","operator":"=","value":"service"},
			{"combinator":"or","rules":[
				{"property":"lang","operator":"=","value":"Rust"},
				{"combinator":"and","rules":[
					{"property":"tags","operator":"contains","value":"pci"},
					{"property":"enabled","operator":"=","value":false}]}]}]}`, false},
		{`{"combinator":"and","rules":[{"combinator":"or","rules":[]}]}`, false},
		{`{"combinator":"or","rules":[{"combinator":"and","rules":[]}]}`, true},
		// Port's scorecard spelling.
		{`{"combinator":"and","conditions":[{"property":"lang","operator":"=","value":"Go"}]}`, true},
		{`{"combinator":"and","conditions":[{"combinator":"or","conditions":[
			{"property":"lang","operator":"=","value":"Rust"}]}]}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			if got := mustCompile(t, tc.query).Match(e, nil); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestGoValues checks queries built in Go rather than decoded: values
// of Go types JSON decoding would not produce.
func TestGoValues(t *testing.T) {
	e := subject(t)
	cases := []struct {
		rule catalog.Rule
		want bool
	}{
		{catalog.Rule{Property: "replicas", Operator: "=", Value: 3}, true},
		{catalog.Rule{Property: "replicas", Operator: "=", Value: int64(3)}, true},
		{catalog.Rule{Property: "replicas", Operator: "=", Value: json.Number("3.000")}, true},
		{catalog.Rule{Property: "big", Operator: "=", Value: json.Number("9007199254740993")}, true},
		{catalog.Rule{Property: "big", Operator: "=", Value: uint64(9007199254740993)}, true},
		{catalog.Rule{Property: "big", Operator: "<", Value: int64(9007199254740994)}, true},
		{catalog.Rule{Property: "lang", Operator: "in", Value: []string{"Go"}}, true},
		{catalog.Rule{Operator: "relatedTo", Blueprint: "team", Value: []string{"x"}}, false},
	}
	for _, tc := range cases {
		q, err := Options{Now: fixedNow}.Compile(catalog.Query{Combinator: "and", Rules: []catalog.Rule{tc.rule}})
		if err != nil {
			t.Fatalf("%+v: %v", tc.rule, err)
		}
		if got := q.Match(e, nil); got != tc.want {
			t.Errorf("%+v: Match = %v, want %v", tc.rule, got, tc.want)
		}
	}
	// Runtime values of Go types.
	e.Runtime["count"] = 7
	e.Runtime["owners"] = []string{"ann", "bob"}
	e.Runtime["weird"] = struct{}{}
	for _, tc := range []struct {
		rule string
		want bool
	}{
		{`{"property":"count","operator":">","value":6.5}`, true},
		{`{"property":"count","operator":"=","value":7}`, true},
		{`{"property":"owners","operator":"containsAny","value":["bob"]}`, true},
		{`{"property":"owners","operator":"=","value":"ann"}`, true},
		{`{"property":"weird","operator":"=","value":"x"}`, false},
		{`{"property":"weird","operator":"isEmpty"}`, false},
	} {
		if got := mustCompile(t, one(tc.rule)).Match(e, nil); got != tc.want {
			t.Errorf("%s: Match = %v, want %v", tc.rule, got, tc.want)
		}
	}
}

func TestNilEntity(t *testing.T) {
	q := mustCompile(t, `{"combinator":"and","rules":[]}`)
	if q.Match(nil, nil) || q.Match(&Entity{}, nil) || q.Matcher(nil).Match(nil) {
		t.Error("a nil entity matched")
	}
}

// TestNoAllocs holds Match to its promise: simple rules do not allocate.
func TestNoAllocs(t *testing.T) {
	e := subject(t)
	q := mustCompile(t, `{"combinator":"and","rules":[
		{"property":"$blueprint","operator":"=","value":"service"},
		{"property":"lang","operator":"in","value":["Go","Rust"]},
		{"property":"replicas","operator":">=","value":3},
		{"property":"big","operator":"!=","value":9007199254740992},
		{"property":"tags","operator":"containsAny","value":["pci"]},
		{"property":"name","operator":"beginsWith","value":"check"},
		{"property":"deployedAt","operator":"between","value":{"preset":"lastWeek"}},
		{"property":"deployedAt","operator":">","value":"2024-01-01T00:00:00Z"},
		{"property":"uptime","operator":"=","value":99.95},
		{"property":"$team","operator":"contains","value":"payments"},
		{"property":"config.replicas","operator":"=","value":5},
		{"property":"expiresAt","operator":"isExpired"},
		{"property":"emptyObj","operator":"isEmpty"},
		{"property":"$createdAt","operator":"<","value":"2025-01-01"},
		{"property":"mixed","operator":"endsWith","value":"a"},
		{"property":"nums","operator":"contains","value":2},
		{"property":"tags","operator":"notIn","value":["gdpr"]},
		{"property":"$scorecard.production_readiness.level","operator":">","value":"Bronze"}
	]}`)
	if !q.Match(e, nil) {
		t.Fatal("query does not match; the allocation count would measure a short cut")
	}
	if n := testing.AllocsPerRun(200, func() { q.Match(e, nil) }); n != 0 {
		t.Errorf("Match allocates %.1f times per call, want 0", n)
	}
	m := q.Matcher(nil)
	if n := testing.AllocsPerRun(200, func() { m.Match(e) }); n != 0 {
		t.Errorf("Matcher.Match allocates %.1f times per call, want 0", n)
	}
}
