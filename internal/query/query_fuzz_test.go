package query

import (
	"errors"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
)

// fuzzEntity is the fuzzed entity: an entity as the loader decodes it,
// plus what the engine knows of it that is not in git.
type fuzzEntity struct {
	catalog.Entity
	Runtime    map[string]any    `json:"$runtime"`
	CreatedAt  time.Time         `json:"$createdAt"`
	UpdatedAt  time.Time         `json:"$updatedAt"`
	Scorecards map[string]string `json:"$scorecards"`
}

// duals maps each operator that has an exact complement to it. The
// ordering operators are missing on purpose: > is not the complement of
// <=, since a missing value fails both.
var duals = map[string]string{
	"=": "!=", "in": "notIn", "contains": "doesNotContains",
	"beginsWith": "doesNotBeginsWith", "endsWith": "doesNotEndsWith",
	"isEmpty": "isNotEmpty", "between": "notBetween",
}

func init() {
	for k, v := range duals {
		duals[v] = k
	}
}

// dual returns the De Morgan dual of rules (and and or swapped, each
// operator replaced by its complement), which must match exactly the
// entities the original does not. It reports false when a rule has no
// complement.
func dual(rules []catalog.Rule) ([]catalog.Rule, bool) {
	out := make([]catalog.Rule, len(rules))
	for i, r := range rules {
		switch {
		case r.Combinator != "" || len(r.Rules) > 0:
			kids, ok := dual(r.Rules)
			if !ok {
				return nil, false
			}
			r.Rules = kids
			r.Combinator = dualCombinator(r.Combinator)
		default:
			op, ok := duals[r.Operator]
			if !ok {
				return nil, false
			}
			r.Operator = op
		}
		out[i] = r
	}
	return out, true
}

func dualCombinator(c string) string {
	switch c {
	case "and":
		return "or"
	case "or":
		return "and"
	}
	return c
}

var rulePath = regexp.MustCompile(`^rules\[(\d+)\]`)

// ruleAt follows an Error's Path (`rules[2].rules[0]`) into q, reporting
// whether it names a rule that exists.
func ruleAt(q catalog.Query, path string) bool {
	rules := q.Rules
	for path != "" {
		m := rulePath.FindStringSubmatch(path)
		if m == nil {
			return false
		}
		i, err := strconv.Atoi(m[1])
		if err != nil || i >= len(rules) {
			return false
		}
		path = path[len(m[0]):]
		if path == "" {
			return true
		}
		if path[0] != '.' {
			return false
		}
		path = path[1:]
		rules = rules[i].Rules
	}
	return true
}

// hideReferrers hides a graph's Referrers, so that a Matcher takes the
// walk it takes over graphs that cannot list them.
type hideReferrers struct{ Graph }

// FuzzQuery compiles arbitrary queries and matches them against an
// arbitrary entity and a fixed graph (testGraph, with the entity added).
// It checks that:
//
//   - a compile error is an *Error whose Path names a rule of the query;
//   - Query.Match, a Matcher over a graph that lists referrers and one
//     over a graph that does not, agree on every entity;
//   - the De Morgan dual of the query (and/or swapped, each operator
//     replaced by its negation) compiles exactly when the query does,
//     and matches exactly the entities the query does not;
//   - an entity outside Blueprints() never matches;
//   - a query that does not read the clock, scorecards or relations
//     gives the same answer whatever the clock, levels and graph.
//
// go test -run='^$' -fuzz='^FuzzQuery$' -fuzztime=60s ./internal/query/
func FuzzQuery(f *testing.F) {
	entity := `{"blueprint":"service","identifier":"checkout","title":"Checkout API","icon":"Go","team":["payments","platform"],
		"properties":{"name":"checkout-api","replicas":3,"big":9007199254740993,"ratio":0.1,"enabled":true,"disabled":false,
			"tags":["prod","pci","eu"],"nums":[1,2,3.5],"mixed":["a",1,true,null,["nested"]],"emptyStr":"","emptyArr":[],"emptyObj":{},
			"nullProp":null,"deployedAt":"2024-05-10T12:00:00Z","day":"2024-05-10","expiresAt":"2024-05-01T00:00:00Z",
			"config":{"replicas":5,"region":"eu-west-1","deep":{"on":true}},"dotted.key":"literal","status":"healthy"},
		"relations":{"team":"payments","deps":["ledger","cache"],"none":null},
		"$runtime":{"status":"degraded","uptime":99.95},"$createdAt":"2024-01-01T00:00:00Z","$updatedAt":"2024-05-15T09:00:00Z",
		"$scorecards":{"production_readiness":"Silver"}}`
	rules := []string{
		`{"property":"name","operator":"=","value":"checkout-api"}`,
		`{"property":"replicas","operator":"=","value":3.0}`,
		`{"property":"big","operator":"=","value":9007199254740992}`,
		`{"property":"tags","operator":"=","value":"pci"}`,
		`{"property":"mixed","operator":"!=","value":true}`,
		`{"property":"$team","operator":"=","value":"platform"}`,
		`{"property":"$blueprint","operator":"in","value":["service","team"]}`,
		`{"property":"config.region","operator":"=","value":"eu-west-1"}`,
		`{"property":"dotted.key","operator":"=","value":"literal"}`,
		`{"property":"status","operator":"=","value":"degraded"}`,
		`{"property":"replicas","operator":">","value":2}`,
		`{"property":"name","operator":"<=","value":"d"}`,
		`{"property":"deployedAt","operator":">=","value":"2024-05-10T14:00:00+02:00"}`,
		`{"property":"$createdAt","operator":"<","value":"2024-02-01"}`,
		`{"property":"$scorecard.production_readiness.level","operator":">=","value":"Bronze"}`,
		`{"property":"$scorecard.production_readiness","operator":"=","value":"Silver"}`,
		`{"property":"tags","operator":"notIn","value":["gdpr","pci"]}`,
		`{"property":"nums","operator":"in","value":[3.5,true,"x"]}`,
		`{"property":"tags","operator":"containsAny","value":["eu","us"]}`,
		`{"property":"name","operator":"containsAny","value":["out","zz"]}`,
		`{"property":"name","operator":"contains","value":"api"}`,
		`{"property":"tags","operator":"doesNotContains","value":"prod"}`,
		`{"property":"name","operator":"beginsWith","value":"check"}`,
		`{"property":"tags","operator":"doesNotEndsWith","value":"u"}`,
		`{"property":"emptyObj","operator":"isEmpty"}`,
		`{"property":"missing","operator":"isNotEmpty"}`,
		`{"property":"replicas","operator":"between","value":{"from":1,"to":3}}`,
		`{"property":"deployedAt","operator":"notBetween","value":{"from":"2024-05-01","to":"2024-05-10"}}`,
		`{"property":"deployedAt","operator":"between","value":{"preset":"lastWeek"}}`,
		`{"property":"$updatedAt","operator":"between","value":{"preset":"today"}}`,
		`{"property":"expiresAt","operator":"isExpired"}`,
		`{"property":"expiresAt","operator":"isNotExpired"}`,
		`{"operator":"relatedTo","blueprint":"team","value":"payments","direction":"downstream"}`,
		`{"operator":"relatedTo","blueprint":"domain","value":["commerce"],"required":true}`,
		`{"operator":"relatedTo","blueprint":"service","value":"checkout","direction":"upstream","required":false}`,
		`{"combinator":"or","rules":[{"property":"a","operator":"isEmpty"},{"property":"replicas","operator":"=","value":4}]}`,
		`{"combinator":"and","conditions":[{"property":"$identifier","operator":"=","value":"checkout"}]}`,
		`{"property":"a","operator":"~=","value":1}`,
		`{"property":"$owner","operator":"=","value":"x"}`,
		`{"property":"a","operator":"between","value":{"from":5,"to":1}}`,
	}
	for _, r := range rules {
		f.Add([]byte(one(r)), []byte(entity))
	}
	f.Add([]byte(`{"combinator":"and","rules":[]}`), []byte(entity))
	f.Add([]byte(`{"combinator":"or","rules":[]}`), []byte(`{"blueprint":"team","identifier":"a","relations":{"parent":"b"}}`))
	f.Add([]byte(`{"combinator":"and","rules":[{"combinator":"or","rules":[`+rules[0]+`,`+rules[16]+`]},`+rules[26]+`]}`), []byte(entity))
	f.Add([]byte(productionReadiness), []byte(entity))
	f.Add([]byte(`{"combinator":"and","rules":[{"property":"n","operator":"=","value":1e400}]}`), []byte(`{"properties":{"n":1e400}}`))

	base := testGraph(f)
	now1 := func() time.Time { return clock }
	now2 := func() time.Time { return clock.Add(400 * 24 * time.Hour) }
	f.Fuzz(func(t *testing.T, qsrc, esrc []byte) {
		var q catalog.Query
		if catalog.Decode(qsrc, &q) != nil {
			return
		}
		var fe fuzzEntity
		if catalog.Decode(esrc, &fe) != nil {
			return
		}
		cq, err := Options{Now: now1}.Compile(q)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) || qe.Message == "" {
				t.Fatalf("compile error %v (%T) is not a query.Error with a message", err, err)
			}
			if !ruleAt(q, qe.Path) {
				t.Fatalf("compile error %v: path %q names no rule of the query", err, qe.Path)
			}
		}
		var dc *Query
		if d, ok := dual(q.Rules); ok {
			var derr error
			dc, derr = Options{Now: now1}.Compile(catalog.Query{Combinator: dualCombinator(q.Combinator), Rules: d})
			if (err == nil) != (derr == nil) {
				t.Fatalf("query compiles: %v, its dual: %v", err, derr)
			}
		}
		if err != nil {
			return
		}

		c := withEntity(base, &fe.Entity)
		g := GraphOf(c)
		m := cq.Matcher(g)
		mWalk := cq.Matcher(hideReferrers{g})
		var later *Query
		if !cq.ReadsClock() {
			later, _ = Options{Now: now2}.Compile(q)
		}
		pins := cq.Blueprints()
		for _, e := range entitiesOf(c, &fe) {
			got := cq.Match(e, g)
			if m.Match(e) != got || mWalk.Match(e) != got {
				t.Fatalf("%s/%s: Match %v, Matcher %v, Matcher without referrers %v", e.Blueprint, e.Identifier, got, m.Match(e), mWalk.Match(e))
			}
			if got && pins != nil && !slices.Contains(pins, e.Blueprint) {
				t.Fatalf("%s/%s matches, outside Blueprints() %v", e.Blueprint, e.Identifier, pins)
			}
			if later != nil && later.Match(e, g) != got {
				t.Fatalf("%s/%s: the query reads no clock, yet matches %v now and %v later", e.Blueprint, e.Identifier, got, !got)
			}
			if !cq.ReadsScorecards() {
				bare := *e
				bare.Scorecards = nil
				if cq.Match(&bare, g) != got {
					t.Fatalf("%s/%s: the query reads no scorecard, yet its levels change the answer", e.Blueprint, e.Identifier)
				}
			}
			if !cq.Relational() && cq.Match(e, nil) != got {
				t.Fatalf("%s/%s: the query has no relatedTo, yet the graph changes the answer", e.Blueprint, e.Identifier)
			}
			if dc != nil && dc.Match(e, g) == got {
				t.Fatalf("%s/%s: the query and its De Morgan dual both answer %v", e.Blueprint, e.Identifier, got)
			}
		}
	})
}

// withEntity returns base with e added (replacing an entity of the same
// key), sharing everything else.
func withEntity(base *catalog.Catalog, e *catalog.Entity) *catalog.Catalog {
	c := *base
	c.Entities = maps.Clone(base.Entities)
	c.Entities[e.Blueprint] = maps.Clone(c.Entities[e.Blueprint])
	if c.Entities[e.Blueprint] == nil {
		c.Entities[e.Blueprint] = map[string]*catalog.Entity{}
	}
	c.Entities[e.Blueprint][e.Identifier] = e
	return &c
}

// entitiesOf returns every entity of c as the engine sees it, the fuzzed
// one with its runtime values, dates and levels, in a fixed order.
func entitiesOf(c *catalog.Catalog, fe *fuzzEntity) []*Entity {
	var out []*Entity
	for _, bp := range slices.Sorted(maps.Keys(c.Entities)) {
		for _, id := range slices.Sorted(maps.Keys(c.Entities[bp])) {
			e := &Entity{Entity: c.Entities[bp][id]}
			if e.Entity == &fe.Entity {
				e.Runtime, e.CreatedAt, e.UpdatedAt = fe.Runtime, fe.CreatedAt, fe.UpdatedAt
				if fe.Scorecards != nil {
					e.Scorecards = LevelMap(fe.Scorecards)
				}
			} else {
				e.Scorecards = LevelMap{"production_readiness": "Gold"}
			}
			out = append(out, e)
		}
	}
	return out
}
