package query

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
)

// clock is the fixed instant every test evaluates at.
var clock = time.Date(2024, 5, 15, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return clock }

// decodeEntity reads an entity the way the loader does: numbers stay
// json.Number.
func decodeEntity(t testing.TB, src string) *catalog.Entity {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader([]byte(src)))
	d.UseNumber()
	var e catalog.Entity
	if err := d.Decode(&e); err != nil {
		t.Fatalf("decode entity %s: %v", src, err)
	}
	return &e
}

// decodeQuery reads a query through catalog.Query's own UnmarshalJSON,
// as the loader and the API do (query numbers arrive as float64).
func decodeQuery(t testing.TB, src string) catalog.Query {
	t.Helper()
	var q catalog.Query
	if err := json.Unmarshal([]byte(src), &q); err != nil {
		t.Fatalf("decode query %s: %v", src, err)
	}
	return q
}

func mustCompile(t testing.TB, src string) *Query {
	t.Helper()
	q, err := Options{Now: fixedNow}.Compile(decodeQuery(t, src))
	if err != nil {
		t.Fatalf("compile %s: %v", src, err)
	}
	return q
}

// one wraps a single rule in an and-query.
func one(rule string) string { return `{"combinator":"and","rules":[` + rule + `]}` }

// subject is the entity most operator tests run against.
func subject(t testing.TB) *Entity {
	return &Entity{
		Entity: decodeEntity(t, `{
			"blueprint": "service",
			"identifier": "checkout",
			"title": "Checkout API",
			"icon": "Go",
			"team": ["payments", "platform"],
			"properties": {
				"name": "checkout-api",
				"lang": "Go",
				"replicas": 3,
				"big": 9007199254740993,
				"ratio": 0.1,
				"coverage": 85.5,
				"enabled": true,
				"disabled": false,
				"tags": ["prod", "pci", "eu"],
				"nums": [1, 2, 3.5],
				"mixed": ["a", 1, true, null, ["nested"]],
				"emptyStr": "",
				"emptyArr": [],
				"emptyObj": {},
				"nullProp": null,
				"deployedAt": "2024-05-10T12:00:00Z",
				"deployedAtOffset": "2024-05-10T14:00:00+02:00",
				"day": "2024-05-10",
				"expiresAt": "2024-05-01T00:00:00Z",
				"renewAt": "2024-07-01T00:00:00Z",
				"version": "1.10.0",
				"config": {"replicas": 5, "region": "eu-west-1", "deep": {"on": true}},
				"dotted.key": "literal",
				"status": "healthy"
			},
			"relations": {"team": "payments", "deps": ["ledger", "cache"], "none": null}
		}`),
		CreatedAt:  time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		UpdatedAt:  time.Date(2024, 5, 15, 9, 0, 0, 0, time.UTC),
		Scorecards: LevelMap{"production_readiness": "Silver"},
		Runtime:    map[string]any{"status": "degraded", "uptime": 99.95},
	}
}
