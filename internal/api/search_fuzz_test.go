package api

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/internal/state"
)

// fuzzSearchCatalog is a catalog whose values are the ones indexes get
// wrong if anything: numbers equal as floats but not as decimals, numbers
// beyond float64, numbers and booleans written as strings, date-times in
// several spellings, arrays, nested objects next to dotted keys, nulls,
// missing properties, relations that share a name with a property.
func fuzzSearchCatalog() *catalog.Catalog {
	rnd := rand.New(rand.NewPCG(11, 12))
	vals := []any{json.Number("0"), json.Number("-3"), json.Number("2.5"), json.Number("10"), json.Number("1e1"),
		json.Number("9007199254740992"), json.Number("9007199254740993"), json.Number("1e400"), json.Number("-0"),
		"a", "b", "", "10", "#10", "true", "2026-01-02", "2026-01-02T00:00:00Z", "2026-01-02T02:00:00+02:00",
		true, false, nil, []any{"a", json.Number("10")}, []any{}, []any{[]any{"a"}}, map[string]any{"region": "eu"},
		map[string]any{"region": map[string]any{"zone": "b"}}, map[string]any{}}
	pick := func() any { return vals[rnd.IntN(len(vals))] }
	c := catalog.New()
	c.Blueprints["svc"] = &catalog.Blueprint{Identifier: "svc", Relations: map[string]catalog.Relation{
		"owner": {Target: "team"}, "deps": {Target: "svc", Many: true}, "w": {Target: "team"}}}
	c.Blueprints["team"] = &catalog.Blueprint{Identifier: "team"}
	for _, bp := range []string{"svc", "team"} {
		c.Entities[bp] = map[string]*catalog.Entity{}
		for i := range 24 {
			id := fmt.Sprintf("%s%02d", bp[:1], i)
			props := map[string]any{}
			for _, name := range []string{"n", "w", "config", "config.region", "tags"} {
				if rnd.IntN(4) > 0 {
					props[name] = pick()
				}
			}
			rels := map[string]any{}
			if bp == "svc" {
				rels["owner"] = fmt.Sprintf("t%02d", rnd.IntN(4))
				rels["deps"] = []any{fmt.Sprintf("s%02d", rnd.IntN(24)), "a"}
				if rnd.IntN(2) == 0 {
					rels["w"] = "a"
				}
			}
			title, _ := vals[9+rnd.IntN(9)].(string)
			c.Entities[bp][id] = &catalog.Entity{Blueprint: bp, Identifier: id, Title: title,
				Team: []string{"a", "b"}[:rnd.IntN(3)%2], Properties: props, Relations: rels}
		}
	}
	return c
}

// FuzzSearchAgreesWithScan posts arbitrary search bodies, before and
// after a runtime write with arbitrary values, and checks each answer
// against the compiled query matched against every entity: the indexes
// the search narrows candidates with may only save work, never change an
// answer. A body that does not decode or compile is a 400, never a 5xx.
//
// go test -run='^$' -fuzz='^FuzzSearchAgreesWithScan$' -fuzztime=60s ./internal/api/
func FuzzSearchAgreesWithScan(f *testing.F) {
	for _, rule := range []string{
		`{"property":"w","operator":"=","value":"a"}`,
		`{"property":"w","operator":"=","value":"#10"}`,
		`{"property":"w","operator":"=","value":"true"}`,
		`{"property":"n","operator":"=","value":10}`,
		`{"property":"n","operator":">","value":2.5}`,
		`{"property":"n","operator":"<=","value":9007199254740992}`,
		`{"property":"n","operator":"between","value":{"from":-3,"to":10}}`,
		`{"property":"n","operator":"between","value":{"from":"2026-01-01","to":"2026-01-02"}}`,
		`{"property":"config.region","operator":"=","value":"eu"}`,
		`{"property":"config.region.zone","operator":"=","value":"b"}`,
		`{"property":"tags","operator":"=","value":"a"}`,
		`{"property":"$identifier","operator":"=","value":"s03"}`,
		`{"property":"$title","operator":"=","value":"a"}`,
		`{"property":"$team","operator":"=","value":"a"}`,
		`{"property":"owner","operator":"=","value":"t01"}`,
		`{"property":"$blueprint","operator":"=","value":"team"}`,
		`{"property":"w","operator":">=","value":"b"}`,
		`{"operator":"relatedTo","blueprint":"team","value":"t01"}`,
	} {
		f.Add([]byte(`{"combinator":"and","rules":[`+rule+`]}`), uint8(3), []byte(`{"n":10,"w":"a","config":{"region":"eu"}}`))
	}
	f.Add([]byte(`{"query":{"combinator":"and","rules":[{"property":"n","operator":">=","value":0},{"property":"w","operator":"=","value":"b"}]},"limit":3}`),
		uint8(5), []byte(`{"n":"10","tags":["a"]}`))
	f.Add([]byte(`{"combinator":"or","rules":[{"property":"n","operator":"<","value":1}]}`), uint8(40), []byte(`{"n":0.5}`))
	f.Add([]byte(`{"combinator":"and","rules":[{"property":"n","operator":"=","value":1e400}]}`), uint8(0), []byte(`{}`))

	base := fuzzSearchCatalog()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }
	f.Fuzz(func(t *testing.T, body []byte, which uint8, runtime []byte) {
		var rt map[string]any
		if catalog.Decode(runtime, &rt) != nil {
			rt = nil
		}
		h := state.NewHolder()
		h.Publish(state.Applied{Revision: "r", At: at, Catalog: base})
		srv := New(Options{State: h, Auth: &Auth{AnonymousReads: true}, Now: now})

		var sb searchBody
		bad := catalog.Decode(body, &sb)
		var cq *query.Query
		if bad == nil {
			cq, bad = query.Options{Now: now}.Compile(sb.Query)
		}
		search := func(when string) {
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, httptest.NewRequest("POST", "/v1/entities/search", strings.NewReader(string(body))))
			if bad != nil {
				if w.Code != http.StatusBadRequest {
					t.Fatalf("%s: %d %s, want 400 (%v)", when, w.Code, w.Body, bad)
				}
				return
			}
			if w.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", when, w.Code, w.Body)
			}
			var got struct {
				Entities []struct{ Blueprint, Identifier string }
			}
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			ids := []string{}
			for _, e := range got.Entities {
				ids = append(ids, e.Blueprint+"/"+e.Identifier)
			}
			snap := h.Load()
			want := []string{}
			for _, bp := range []string{"svc", "team"} {
				for _, id := range snap.IDs(bp) {
					if cq.Match(snap.QueryEntity(snap.Entity(bp, id)), snap.Graph()) {
						want = append(want, bp+"/"+id)
					}
				}
			}
			if limit := sb.Limit; limit > 0 && limit < len(want) {
				want = want[:limit]
			}
			if !slices.Equal(ids, want) {
				t.Fatalf("%s:\n search %v\n scan   %v", when, ids, want)
			}
		}
		search("before the runtime write")
		if rt != nil {
			bp := []string{"svc", "team"}[which%2]
			id := fmt.Sprintf("%s%02d", bp[:1], int(which/2)%24)
			if h.SetRuntime(bp, id, rt, at, "ci") == nil {
				t.Fatalf("no entity %s/%s", bp, id)
			}
			search("after the runtime write to " + bp + "/" + id)
		}
	})
}
