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

// TestSearchIndexesAgreeWithAScan runs random searches whose rules the
// equality and number indexes narrow, and compares each answer with
// the query matched against every entity: an index may only ever save
// work, never change an answer. Values include numbers equal as floats
// but not as decimals, numbers written as strings, arrays, nulls,
// missing properties and runtime values that override git's.
func TestSearchIndexesAgreeWithAScan(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	nums := []any{json.Number("0"), json.Number("-3"), json.Number("2.5"), json.Number("10"), json.Number("1e1"),
		json.Number("9007199254740992"), json.Number("9007199254740993"), 7.25, "10", []any{json.Number("5")}, nil, true}
	words := []string{"a", "b", "2026-01-02T03:04:05Z", "2026-01-02", "2026-01-02T00:00:00Z", "2026-01-02T02:00:00+02:00", "10"}
	c := catalog.New()
	c.Blueprints["svc"] = &catalog.Blueprint{Identifier: "svc"}
	c.Entities["svc"] = map[string]*catalog.Entity{}
	for i := range 400 {
		props := map[string]any{}
		if rnd.IntN(8) > 0 {
			props["n"] = nums[rnd.IntN(len(nums))]
		}
		props["w"] = words[rnd.IntN(len(words))]
		id := fmt.Sprintf("e%03d", i)
		c.Entities["svc"][id] = &catalog.Entity{Blueprint: "svc", Identifier: id, Properties: props, Relations: map[string]any{}}
	}
	h := state.NewHolder()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	h.Publish(state.Applied{Revision: "r", At: at, Catalog: c})
	srv := New(Options{State: h, Auth: &Auth{AnonymousReads: true}})

	ops := []string{">", ">=", "<", "<=", "between", "="}
	for i := range 300 {
		if i%100 == 50 {
			// Runtime values win over git's; indexes the searches so
			// far built are carried over and patched.
			for range 20 {
				id := fmt.Sprintf("e%03d", rnd.IntN(400))
				h.SetRuntime("svc", id, map[string]any{"n": nums[rnd.IntN(len(nums))], "w": words[rnd.IntN(len(words))]}, at, "ci")
			}
		}
		snap := h.Load()
		var rules []string
		for range 1 + rnd.IntN(2) {
			op := ops[rnd.IntN(len(ops))]
			v := func() string { b, _ := json.Marshal(nums[rnd.IntN(8)]); return string(b) }
			switch op {
			case "between":
				rules = append(rules, fmt.Sprintf(`{"property":"n","operator":"between","value":{"from":%s,"to":%s}}`, v(), v()))
			case "=":
				rules = append(rules, fmt.Sprintf(`{"property":"w","operator":"=","value":%q}`, words[rnd.IntN(len(words))]))
			default:
				rules = append(rules, fmt.Sprintf(`{"property":"n","operator":%q,"value":%s}`, op, v()))
			}
		}
		body := `{"combinator":"and","rules":[` + strings.Join(rules, ",") + `]}`

		var q catalog.Query
		if err := catalog.Decode([]byte(body), &q); err != nil {
			t.Fatal(err)
		}
		cq, err := query.Compile(q)
		if err != nil { // a span from after to: refused either way
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, httptest.NewRequest("POST", "/v1/entities/search", strings.NewReader(body)))
			if w.Code != http.StatusBadRequest {
				t.Fatalf("%s: %d, compile says %v", body, w.Code, err)
			}
			continue
		}
		var want []string
		for id, e := range snap.Entities["svc"] {
			if cq.Match(snap.QueryEntity(e), snap.Graph()) {
				want = append(want, id)
			}
		}
		slices.Sort(want)

		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest("POST", "/v1/entities/search", strings.NewReader(body)))
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", body, w.Code, w.Body)
		}
		var got struct{ Entities []struct{ Identifier string } }
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		ids := []string{}
		for _, e := range got.Entities {
			ids = append(ids, e.Identifier)
		}
		if want == nil {
			want = []string{}
		}
		if !slices.Equal(ids, want) {
			t.Fatalf("case %d %s:\n search %v\n scan   %v", i, body, ids, want)
		}
	}
}
