package query

import (
	"testing"

	"github.com/pierhq/pier/internal/catalog"
)

// testGraph is a small catalog:
//
//	domain commerce
//	team payments      --domain(required)-->      commerce
//	service checkout   --team(required)-->        payments
//	service checkout   --deps(optional, many)-->  ledger, cache
//	service ledger     --team(required)-->        payments
//	deploymentConfig checkout-prod --microservice(optional)--> checkout
//	deploymentConfig checkout-prod --environment(required)-->  production
//	environment production
//	alert checkout-down --service(required)--> checkout
//	team a --parent--> team b --parent--> team a   (a cycle)
//
// "cache" is referenced but does not exist.
func testGraph(t testing.TB) *catalog.Catalog {
	c := catalog.New()
	rel := func(target string, required, many bool) catalog.Relation {
		return catalog.Relation{Target: target, Required: required, Many: many}
	}
	c.Blueprints["domain"] = &catalog.Blueprint{Identifier: "domain"}
	c.Blueprints["environment"] = &catalog.Blueprint{Identifier: "environment"}
	c.Blueprints["team"] = &catalog.Blueprint{Identifier: "team", Relations: map[string]catalog.Relation{
		"domain": rel("domain", true, false),
		"parent": rel("team", false, false),
	}}
	c.Blueprints["service"] = &catalog.Blueprint{Identifier: "service", Relations: map[string]catalog.Relation{
		"team": rel("team", true, false),
		"deps": rel("service", false, true),
	}}
	c.Blueprints["alert"] = &catalog.Blueprint{Identifier: "alert", Relations: map[string]catalog.Relation{
		"service": rel("service", true, false),
	}}
	c.Blueprints["deploymentConfig"] = &catalog.Blueprint{Identifier: "deploymentConfig", Relations: map[string]catalog.Relation{
		"microservice": rel("service", false, false),
		"environment":  rel("environment", true, false),
	}}
	for _, src := range []string{
		`{"blueprint":"domain","identifier":"commerce","properties":{},"relations":{}}`,
		`{"blueprint":"team","identifier":"payments","properties":{},"relations":{"domain":"commerce"}}`,
		`{"blueprint":"service","identifier":"checkout","properties":{},"relations":{"team":"payments","deps":["ledger","cache"]}}`,
		`{"blueprint":"service","identifier":"ledger","properties":{},"relations":{"team":"payments","deps":[]}}`,
		`{"blueprint":"deploymentConfig","identifier":"checkout-prod","properties":{},"relations":{"microservice":"checkout","environment":"production"}}`,
		`{"blueprint":"environment","identifier":"production","properties":{},"relations":{}}`,
		`{"blueprint":"alert","identifier":"checkout-down","properties":{},"relations":{"service":"checkout"}}`,
		`{"blueprint":"team","identifier":"a","properties":{},"relations":{"parent":"b"}}`,
		`{"blueprint":"team","identifier":"b","properties":{},"relations":{"parent":"a"}}`,
		`{"blueprint":"team","identifier":"solo","properties":{},"relations":{"undeclared":"payments","domain":null}}`,
	} {
		e := decodeEntity(t, src)
		if c.Entities[e.Blueprint] == nil {
			c.Entities[e.Blueprint] = map[string]*catalog.Entity{}
		}
		c.Entities[e.Blueprint][e.Identifier] = e
	}
	return c
}

func TestRelatedTo(t *testing.T) {
	c := testGraph(t)
	g := GraphOf(c)
	cases := []struct {
		rule string
		want map[string]bool // "blueprint/id" -> match; unlisted entities must not match
	}{
		{
			// What depends on payments, transitively.
			`{"operator":"relatedTo","blueprint":"team","value":"payments","direction":"downstream"}`,
			map[string]bool{"service/checkout": true, "service/ledger": true, "deploymentConfig/checkout-prod": true,
				"alert/checkout-down": true},
		},
		{
			// What checkout-prod depends on, transitively; "cache" does
			// not exist so it cannot be listed.
			`{"operator":"relatedTo","blueprint":"deploymentConfig","value":"checkout-prod","direction":"upstream"}`,
			map[string]bool{"service/checkout": true, "environment/production": true, "team/payments": true,
				"domain/commerce": true, "service/ledger": true},
		},
		{
			// Only required relations: checkout-prod's microservice
			// relation is optional, so it does not reach payments.
			`{"operator":"relatedTo","blueprint":"team","value":"payments","direction":"downstream","required":true}`,
			map[string]bool{"service/checkout": true, "service/ledger": true, "alert/checkout-down": true},
		},
		{
			// Every hop must be required: the alert reaches ledger only
			// through checkout's optional deps.
			`{"operator":"relatedTo","blueprint":"service","value":"ledger","direction":"downstream","required":true}`,
			map[string]bool{},
		},
		{
			// Only optional relations.
			`{"operator":"relatedTo","blueprint":"service","value":"ledger","direction":"downstream","required":false}`,
			map[string]bool{"service/checkout": true, "deploymentConfig/checkout-prod": true},
		},
		{
			`{"operator":"relatedTo","blueprint":"deploymentConfig","value":"checkout-prod","direction":"upstream","required":true}`,
			map[string]bool{"environment/production": true},
		},
		{
			// No direction: either way.
			`{"operator":"relatedTo","blueprint":"service","value":"checkout"}`,
			map[string]bool{"team/payments": true, "domain/commerce": true, "service/ledger": true,
				"deploymentConfig/checkout-prod": true, "alert/checkout-down": true},
		},
		{
			`{"operator":"relatedTo","blueprint":"team","value":["nope","commerce-less","payments"],"direction":"downstream"}`,
			map[string]bool{"service/checkout": true, "service/ledger": true, "deploymentConfig/checkout-prod": true,
				"alert/checkout-down": true},
		},
		{
			`{"operator":"relatedTo","blueprint":"domain","value":"commerce","direction":"downstream"}`,
			map[string]bool{"team/payments": true, "service/checkout": true, "service/ledger": true,
				"deploymentConfig/checkout-prod": true, "alert/checkout-down": true},
		},
		{
			`{"operator":"relatedTo","blueprint":"domain","value":"commerce","direction":"upstream"}`,
			map[string]bool{},
		},
		{
			// The blueprint matters: there is no service "payments".
			`{"operator":"relatedTo","blueprint":"service","value":"payments"}`,
			map[string]bool{},
		},
		{
			// Cycles end the walk. An entity is related to itself only
			// through a cycle: a reaches a through b.
			`{"operator":"relatedTo","blueprint":"team","value":"a","direction":"downstream"}`,
			map[string]bool{"team/a": true, "team/b": true},
		},
		{
			`{"operator":"relatedTo","blueprint":"team","value":"a","direction":"upstream"}`,
			map[string]bool{"team/a": true, "team/b": true},
		},
		{
			// ...but never without one.
			`{"operator":"relatedTo","blueprint":"service","value":["checkout","ledger"],"direction":"downstream"}`,
			map[string]bool{"service/checkout": true, "deploymentConfig/checkout-prod": true, "alert/checkout-down": true},
		},
		{
			// relatedTo combines with other rules.
			`{"combinator":"and","rules":[
				{"property":"$blueprint","operator":"=","value":"service"},
				{"operator":"relatedTo","blueprint":"team","value":"payments","direction":"downstream"}]}`,
			map[string]bool{"service/checkout": true, "service/ledger": true},
		},
	}
	for _, tc := range cases {
		t.Run(tc.rule, func(t *testing.T) {
			q := mustCompile(t, one(tc.rule))
			// Match walks per entity; a Matcher caches, using Referrers
			// when the graph has them and walking when it has not.
			m := q.Matcher(g)
			mPlain := q.Matcher(plainGraph{g})
			for bp, es := range c.Entities {
				for id, ce := range es {
					e := &Entity{Entity: ce}
					key := bp + "/" + id
					want := tc.want[key]
					if got := q.Match(e, g); got != want {
						t.Errorf("Match(%s) = %v, want %v", key, got, want)
					}
					if got := m.Match(e); got != want {
						t.Errorf("Matcher.Match(%s) = %v, want %v", key, got, want)
					}
					if got := mPlain.Match(e); got != want {
						t.Errorf("Matcher.Match(%s) without Referrers = %v, want %v", key, got, want)
					}
				}
			}
		})
	}
}

// plainGraph hides a graph's Referrers.
type plainGraph struct{ Graph }

// TestRelatedToUnstoredEntity evaluates an entity that is not in the
// graph yet (an automation or action condition on a proposed entity), or
// whose relations changed since the graph was built.
func TestRelatedToUnstoredEntity(t *testing.T) {
	c := testGraph(t)
	g := GraphOf(c)
	proposed := &Entity{Entity: decodeEntity(t, `{"blueprint":"service","identifier":"new","properties":{},"relations":{"team":"payments"}}`)}
	// ledger as stored belongs to payments; this version has no team.
	moved := &Entity{Entity: decodeEntity(t, `{"blueprint":"service","identifier":"ledger","properties":{},"relations":{}}`)}
	down := mustCompile(t, one(`{"operator":"relatedTo","blueprint":"domain","value":"commerce","direction":"downstream"}`))
	up := mustCompile(t, one(`{"operator":"relatedTo","blueprint":"domain","value":"commerce","direction":"upstream"}`))
	for name, match := range map[string]func(*Query, *Entity) bool{
		"Match":   func(q *Query, e *Entity) bool { return q.Match(e, g) },
		"Matcher": func(q *Query, e *Entity) bool { return q.Matcher(g).Match(e) },
	} {
		if !match(down, proposed) {
			t.Errorf("%s: a proposed service of payments is not downstream of commerce", name)
		}
		if match(up, proposed) {
			t.Errorf("%s: a proposed service is upstream of commerce", name)
		}
		if match(down, moved) {
			t.Errorf("%s: a service without a team is downstream of commerce", name)
		}
	}
}

func TestReferrersIndex(t *testing.T) {
	g := GraphOf(testGraph(t)).(Referrers)
	got := g.Referrers("team", "payments")
	want := map[catalog.Key]bool{
		{Kind: catalog.KindEntityObj, Blueprint: "service", ID: "checkout"}: true,
		{Kind: catalog.KindEntityObj, Blueprint: "service", ID: "ledger"}:   true,
	}
	if len(got) != len(want) {
		t.Fatalf("Referrers(team, payments) = %v, want %v", got, want)
	}
	for _, k := range got {
		if !want[k] {
			t.Errorf("Referrers(team, payments) lists %v", k)
		}
	}
	if got := g.Referrers("service", "cache"); len(got) != 1 || got[0].ID != "checkout" {
		t.Errorf("Referrers(service, cache) = %v, want [checkout]", got)
	}
	if got := g.Referrers("domain", "nowhere"); len(got) != 0 {
		t.Errorf("Referrers(domain, nowhere) = %v, want none", got)
	}
}

func TestRelatedToWithoutGraph(t *testing.T) {
	e := &Entity{Entity: decodeEntity(t, `{"blueprint":"service","identifier":"s","properties":{},"relations":{"team":"payments"}}`)}
	q := mustCompile(t, one(`{"operator":"relatedTo","blueprint":"team","value":"payments"}`))
	if q.Match(e, nil) || q.Matcher(nil).Match(e) {
		t.Error("relatedTo matched without a graph")
	}
}

// TestRelationsAsProperties checks that relation identifiers read like
// properties holding the related identifiers.
func TestRelationsAsProperties(t *testing.T) {
	c := testGraph(t)
	e := &Entity{Entity: c.Entities["service"]["checkout"]}
	runRules(t, e, []ruleCase{
		{`{"property":"team","operator":"=","value":"payments"}`, true},
		{`{"property":"team","operator":"in","value":["payments","search"]}`, true},
		{`{"property":"team","operator":"isNotEmpty"}`, true},
		{`{"property":"deps","operator":"contains","value":"ledger"}`, true},
		{`{"property":"deps","operator":"containsAny","value":["cache"]}`, true},
		{`{"property":"deps","operator":"notIn","value":["ledger"]}`, false},
		{`{"property":"environment","operator":"isEmpty"}`, true},
	})
	ledger := &Entity{Entity: c.Entities["service"]["ledger"]}
	runRules(t, ledger, []ruleCase{
		{`{"property":"deps","operator":"isEmpty"}`, true},
	})
}
