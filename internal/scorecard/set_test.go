package scorecard

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
)

// card builds a scorecard whose rules each require one property to be
// true, or to satisfy a raw condition when the rule body starts with {.
func card(t testing.TB, id, extra string, rules ...[2]string) *catalog.Scorecard {
	t.Helper()
	var rs []string
	for i, r := range rules {
		cond := fmt.Sprintf(`{"property": %q, "operator": "=", "value": true}`, r[1])
		if strings.HasPrefix(r[1], "{") {
			cond = r[1]
		}
		rs = append(rs, fmt.Sprintf(`{"identifier": "r%d", "level": %q, "query": {"combinator": "and", "rules": [%s]}}`, i, r[0], cond))
	}
	if extra != "" {
		extra += ", "
	}
	return decodeScorecard(t, fmt.Sprintf(`{"identifier": %q, %s"rules": [%s]}`, id, extra, strings.Join(rs, ", ")))
}

// twoLevels keeps a one-rule scorecard from reaching the empty levels
// above its rule.
const twoLevels = `"levels": [{"title": "Basic"}, {"title": "Bronze"}]`

func TestScorecardReferencingAnother(t *testing.T) {
	// a_gate comes first alphabetically but reads z_base, which uses a
	// custom ladder: it must be evaluated after z_base, and ">=" must
	// rank on z_base's levels (lexically "Mid" < "High" would be wrong).
	base := card(t, "z_base", `"levels": [{"title": "Low"}, {"title": "Mid"}, {"title": "High"}]`,
		[2]string{"Mid", "m"}, [2]string{"High", "h"})
	gate := card(t, "a_gate",
		`"filter": {"combinator": "and", "rules": [{"property": "$scorecard.z_base.level", "operator": ">=", "value": "Mid"}]}`,
		[2]string{"Bronze", "deployable"},
		[2]string{"Gold", `{"property": "$scorecard.z_base.level", "operator": "=", "value": "High"}`})
	set, err := CompileAll(catalogOf([]*catalog.Scorecard{gate, base}), opts())
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, s := range set.Scorecards() {
		order = append(order, s.Identifier())
	}
	if !slices.Equal(order, []string{"z_base", "a_gate"}) {
		t.Fatalf("order = %v, want [z_base a_gate]", order)
	}
	tests := []struct {
		name       string
		props      string
		given      map[string]string // the caller's (stale) levels
		base, gate string            // "" when not applicable
	}{
		{"base Low: gate filtered out", `{"deployable": true}`, nil, "Low", ""},
		{"stale caller level is replaced", `{"deployable": true}`, map[string]string{"z_base": "High"}, "Low", ""},
		{"base Mid: gate applies, Silver (Gold needs High)", `{"m": true, "deployable": true}`, nil, "Mid", "Silver"},
		{"base High: gate Gold", `{"m": true, "h": true, "deployable": true}`, nil, "High", "Gold"},
		{"base High, gate's Bronze fails", `{"m": true, "h": true}`, nil, "High", "Basic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := entity(t, "service", "s", tt.props)
			e.Scorecards = query.LevelMap(tt.given)
			before := maps.Clone(tt.given)
			res := set.EvaluateAll(slices.Values([]*query.Entity{e}), nil)[key("service", "s")]
			if got := res.Get("z_base").Level; got != tt.base {
				t.Errorf("z_base = %q, want %q", got, tt.base)
			}
			got, ok := res.Lookup("a_gate")
			if ok != (tt.gate != "") || got.Level != tt.gate {
				t.Errorf("a_gate = %q (applies %v), want %q", got.Level, ok, tt.gate)
			}
			if !maps.Equal(tt.given, before) {
				t.Errorf("caller's Scorecards changed: %v, was %v", e.Scorecards, before)
			}
		})
	}
}

func TestUnknownReferenceReadsCallerLevel(t *testing.T) {
	sc := card(t, "x", twoLevels, [2]string{"Bronze", `{"property": "$scorecard.external.level", "operator": "=", "value": "Gold"}`})
	set, err := CompileAll(catalogOf([]*catalog.Scorecard{sc}), opts())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		given map[string]string
		want  string
	}{
		{nil, "Basic"},
		{map[string]string{"external": "Gold"}, "Bronze"},
		{map[string]string{"external": "Silver"}, "Basic"},
	} {
		e := entity(t, "service", "s", `{}`)
		e.Scorecards = query.LevelMap(tt.given)
		if got := set.EvaluateAll(slices.Values([]*query.Entity{e}), nil)[key("service", "s")].Get("x").Level; got != tt.want {
			t.Errorf("given %v: level %q, want %q", tt.given, got, tt.want)
		}
	}
}

func TestCycles(t *testing.T) {
	ref := func(id string) [2]string {
		return [2]string{"Bronze", fmt.Sprintf(`{"property": "$scorecard.%s.level", "operator": "=", "value": "Gold"}`, id)}
	}
	tests := []struct {
		name  string
		cards []*catalog.Scorecard
		cycle []string // nil: no cycle
	}{
		{"self", []*catalog.Scorecard{card(t, "a", "", ref("a"))}, []string{"a", "a"}},
		{"two", []*catalog.Scorecard{card(t, "a", "", ref("b")), card(t, "b", "", ref("a"))}, []string{"a", "b", "a"}},
		{"three through a filter", []*catalog.Scorecard{
			card(t, "a", "", ref("b")),
			card(t, "b", `"filter": {"combinator": "and", "rules": [{"property": "$scorecard.c", "operator": "isNotEmpty"}]}`),
			card(t, "c", "", ref("a")),
			card(t, "d", "", ref("a")),
		}, []string{"a", "b", "c", "a"}},
		{"cycle off the first scorecard", []*catalog.Scorecard{card(t, "a", "", ref("b")), card(t, "b", "", ref("c")), card(t, "c", "", ref("b"))}, []string{"b", "c", "b"}},
		{"diamond is no cycle", []*catalog.Scorecard{card(t, "a", "", ref("b"), ref("c")), card(t, "b", "", ref("d")), card(t, "c", "", ref("d")), card(t, "d", "")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := CompileAll(catalogOf(tt.cards), opts())
			if tt.cycle == nil {
				if err != nil {
					t.Fatal(err)
				}
				pos := map[string]int{}
				for i, s := range set.Scorecards() {
					pos[s.Identifier()] = i
				}
				for _, s := range set.Scorecards() {
					for _, d := range s.DependsOn() {
						if pos[d] > pos[s.Identifier()] {
							t.Errorf("%s evaluated before its dependency %s", s.Identifier(), d)
						}
					}
				}
				return
			}
			var ce *CycleError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a CycleError", err)
			}
			if !slices.Equal(ce.Cycle, tt.cycle) {
				t.Errorf("cycle = %v, want %v", ce.Cycle, tt.cycle)
			}
			if want := strings.Join(tt.cycle, " -> "); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		})
	}
}

func TestCompileAllLevelsAndErrors(t *testing.T) {
	c := catalogOf([]*catalog.Scorecard{
		card(t, "plain", "", [2]string{"One", "a"}),
		card(t, "own", `"levels": [{"title": "X"}, {"title": "Y"}]`, [2]string{"Y", "a"}),
	})
	c.Settings.Levels = []catalog.Level{{Title: "Zero"}, {Title: "One"}}
	set, err := CompileAll(c, opts())
	if err != nil {
		t.Fatal(err)
	}
	e := entity(t, "service", "s", `{"a": true}`)
	res := set.EvaluateAll(slices.Values([]*query.Entity{e}), nil)[key("service", "s")]
	if res.Get("plain").Level != "One" || res.Get("own").Level != "Y" {
		t.Errorf("levels = %s, %s; want One (settings levels), Y (own levels)", res.Get("plain").Level, res.Get("own").Level)
	}

	bad := catalogOf([]*catalog.Scorecard{
		card(t, "b1", "", [2]string{"Platinum", "a"}),
		card(t, "b2", "", [2]string{"Diamond", "a"}),
		card(t, "ok", "", [2]string{"Gold", "a"}),
	})
	_, err = CompileAll(bad, opts())
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{`scorecard "b1"`, "Platinum", `scorecard "b2"`, "Diamond"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestSummary(t *testing.T) {
	sc := card(t, "sc", `"blueprintIdentifier": "service", "title": "SC"`,
		[2]string{"Bronze", "b"}, [2]string{"Silver", "s"}, [2]string{"Gold", "g"})
	set, err := CompileAll(catalogOf([]*catalog.Scorecard{sc}), opts())
	if err != nil {
		t.Fatal(err)
	}
	es := []*query.Entity{
		entity(t, "service", "gold1", `{"b": true, "s": true, "g": true}`),
		entity(t, "service", "gold2", `{"b": true, "s": true, "g": true}`),
		entity(t, "service", "bronze", `{"b": true, "g": true}`),
		entity(t, "service", "basic1", `{"s": true, "g": true}`),
		entity(t, "service", "basic2", `{}`),
		entity(t, "team", "ignored", `{"b": true}`),
	}
	res := set.EvaluateAll(slices.Values(es), nil)
	if len(res) != 5 {
		t.Errorf("%d entities have results, want 5", len(res))
	}
	got := set.Summaries(res)
	want := []Summary{{
		Identifier: "sc", Title: "SC", BlueprintIdentifier: "service", Entities: 5,
		Levels: []LevelSummary{
			{Title: "Basic", Color: "paleBlue", Entities: 2},
			{Title: "Bronze", Color: "bronze", Entities: 1},
			{Title: "Silver", Color: "silver", Entities: 0},
			{Title: "Gold", Color: "gold", Entities: 2},
		},
		Rules: []RuleSummary{
			{Identifier: "r0", Level: "Bronze", Passed: 3, Failed: 2},
			{Identifier: "r1", Level: "Silver", Passed: 3, Failed: 2},
			{Identifier: "r2", Level: "Gold", Passed: 4, Failed: 1},
		},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("summary\n got %+v\nwant %+v", got, want)
	}
	b, err := json.Marshal(got[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"blueprintIdentifier":"service"`, `"levels":[{"title":"Basic","color":"paleBlue","entities":2}`, `"rules":[{"identifier":"r0","level":"Bronze","passed":3,"failed":2}`} {
		if !strings.Contains(string(b), w) {
			t.Errorf("JSON %s does not contain %s", b, w)
		}
	}
	rb, err := json.Marshal(res[key("service", "bronze")].Get("sc"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"level":"Bronze","levelIndex":1,"color":"bronze","rules":[{"identifier":"r0","level":"Bronze","status":"SUCCESS"},{"identifier":"r1","level":"Silver","status":"FAILURE"},{"identifier":"r2","level":"Gold","status":"SUCCESS"}]}`; string(rb) != want {
		t.Errorf("result JSON\n got %s\nwant %s", rb, want)
	}
}

func TestEvaluateOnly(t *testing.T) {
	base := card(t, "base", "", [2]string{"Bronze", "b"}, [2]string{"Gold", "g"})
	dep := card(t, "dep", twoLevels, [2]string{"Bronze", `{"property": "$scorecard.base.level", "operator": ">", "value": "Bronze"}`})
	svc := card(t, "svc", `"blueprintIdentifier": "service"`, [2]string{"Bronze", "b"})
	set, err := CompileAll(catalogOf([]*catalog.Scorecard{base, dep, svc}), opts())
	if err != nil {
		t.Fatal(err)
	}
	old := map[catalog.Key]*query.Entity{
		key("service", "keep"):   entity(t, "service", "keep", `{"b": true}`),
		key("service", "change"): entity(t, "service", "change", `{"b": true}`),
		key("team", "gone"):      entity(t, "team", "gone", `{}`),
	}
	res := set.EvaluateAll(maps.Values(old), nil)
	next := map[catalog.Key]*query.Entity{
		key("service", "keep"):   old[key("service", "keep")],
		key("service", "change"): entity(t, "service", "change", `{"b": true, "g": true}`),
		key("team", "new"):       entity(t, "team", "new", `{"b": true}`),
	}
	changed := []catalog.Key{key("service", "change"), key("team", "gone"), key("team", "new")}
	snapshot := maps.Clone(res)
	if err := set.EvaluateOnly(res, changed, func(k catalog.Key) *query.Entity { return next[k] }, nil); err != nil {
		t.Fatal(err)
	}
	want := set.EvaluateAll(maps.Values(next), nil)
	if !reflect.DeepEqual(res, want) {
		t.Errorf("incremental\n got %v\nwant %v", res, want)
	}
	if got := res[key("service", "change")].Get("dep").Level; got != "Bronze" {
		t.Errorf("dep after change = %q, want Bronze (base reached Gold)", got)
	}
	if _, ok := snapshot[key("team", "gone")]; !ok {
		t.Error("clone taken before EvaluateOnly lost an entry")
	}
	if err := set.EvaluateOnly(nil, changed, nil, nil); err == nil {
		t.Error("nil results accepted")
	}
}
