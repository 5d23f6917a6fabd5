package entityedit

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pierhq/pier/internal/loader"
)

// testBlueprints declares every property and relation the fixtures use,
// so that an edited fixture loads as a valid catalog.
const testBlueprints = `package catalog

blueprints: team: {
	title: "Team"
	schema: properties: {
		slack_channel: {type: "string"}
		email: {type: "string"}
		size: {type: "number"}
		manager: {type: "string"}
		pagerduty_schedule: {type: "string"}
	}
}
blueprints: system: {title: "System", schema: properties: {}}
blueprints: environment: {
	title: "Environment"
	schema: properties: {
		type: {type: "string"}
		region: {type: "string"}
		kubernetes_namespace: {type: "string"}
		url: {type: "string"}
		cost_per_month: {type: "number"}
		owner: {type: "string"}
		ttl: {type: "string"}
		locked: {type: "boolean"}
	}
	relations: team: {target: "team"}
}
blueprints: service: {
	title: "Service"
	schema: properties: {
		description: {type: "string"}
		language: {type: "string"}
		lifecycle: {type: "string"}
		tier: {type: "string"}
		repository: {type: "string"}
		on_call: {type: "string"}
		port: {type: "string"}
		security_review_status: {type: "string"}
		test_coverage: {type: "number"}
		cpu_requests: {type: "number"}
		cpu_limits: {type: "number"}
		critical_vulnerabilities: {type: "number"}
		hardcoded_secrets: {type: "number"}
		has_readme: {type: "boolean"}
		has_monitoring: {type: "boolean"}
		has_alerts: {type: "boolean"}
		uses_secrets_manager: {type: "boolean"}
		tags: {type: "array"}
		limits: {type: "object"}
	}
	relations: {
		team: {target: "team"}
		system: {target: "system"}
		dependencies: {target: "service", many: true}
	}
}
`

// testTeams are the teams fixtures of other blueprints point at.
const testTeams = `{"entities": {"team": {"payments": {}, "checkout": {}, "risk": {}, "identity": {}, "platform": {}, "backend-team": {}}}}`

// setCase is one call of Set and what it must do to the file: diff lists
// the removed (-) and added (+) lines, in order; err is a fragment of the
// expected error, which starts with file:line:col.
type setCase struct {
	name    string
	file    string
	src     string
	bp, id  string
	changes []Change
	diff    []string
	err     string
}

func runCases(t *testing.T, cases []setCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := []byte(tc.src)
			out, changed, err := Set(tc.file, src, tc.bp, tc.id, tc.changes)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := lineDiff(tc.src, string(out)); !slices.Equal(d, tc.diff) {
				t.Fatalf("diff:\n%s\nwant:\n%s\nresult:\n%s", strings.Join(d, "\n"), strings.Join(tc.diff, "\n"), out)
			}
			if changed != (len(tc.diff) > 0) {
				t.Errorf("changed = %v", changed)
			}
			if !changed && &out[0] != &src[0] {
				t.Errorf("an unchanged file is not returned as is")
			}
			checkLoads(t, tc.file, out, tc.bp, tc.id, tc.changes)
		})
	}
}

// checkLoads loads the edited file through pier's loader and checks that
// the entity holds the new values.
func checkLoads(t *testing.T, file string, out []byte, bp, id string, changes []Change) {
	t.Helper()
	fsys := fstest.MapFS{
		"blueprints.cue": {Data: []byte(testBlueprints)},
		file:             {Data: out},
	}
	if bp != "team" {
		fsys["support/teams.json"] = &fstest.MapFile{Data: []byte(testTeams)}
	}
	l, err := loader.New(1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Load(context.Background(), fsys)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("the edited file does not load:\n%v\n%s", res.Diagnostics, out)
	}
	e := res.Catalog.Entities[bp][id]
	if e == nil {
		t.Fatalf("entity %s/%s is not in the catalog", bp, id)
	}
	changes, err = normalize(changes)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		var got any
		switch c.Section {
		case "properties":
			got = e.Properties[c.Name]
		case "relations":
			got = e.Relations[c.Name]
		default:
			got = map[string]any{"title": e.Title, "icon": e.Icon, "team": strings.Join(e.Team, ",")}[c.Name]
		}
		if !same(got, c.Value) {
			t.Errorf("%s = %#v, want %#v", c.describe(), got, c.Value)
		}
	}
}

// lineDiff lists the lines removed from a (-) and added in b (+), from a
// longest common subsequence of lines.
func lineDiff(a, b string) []string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, "-"+x[i])
			i++
		default:
			out = append(out, "+"+y[j])
			j++
		}
	}
	return out
}

func TestSetRejectsBadChanges(t *testing.T) {
	src := []byte(`{"entities": {"team": {"ops": {}}}}`)
	for _, changes := range [][]Change{
		{{Section: "spec", Name: "x"}},
		{{Name: ""}},
		{{Name: "properties", Value: map[string]any{}}},
		{{Name: "title", Value: "a"}, {Name: "title", Value: "b"}},
		{{Name: "title", Value: func() {}}},
	} {
		if _, _, err := Set("teams.json", src, "team", "ops", changes); err == nil {
			t.Errorf("%v: no error", changes)
		}
	}
	if _, _, err := Set("teams.toml", src, "team", "ops", nil); err == nil {
		t.Error("teams.toml: no error")
	}
}

func TestSame(t *testing.T) {
	n := func(s string) json.Number { return json.Number(s) }
	for _, tc := range []struct {
		a, b any
		want bool
	}{
		{n("1"), n("1.0"), true},
		{n("1e2"), n("100"), true},
		{n("1"), n("2"), false},
		{n("1"), "1", false},
		{[]any{"a", n("1")}, []any{"a", n("1")}, true},
		{map[string]any{"a": nil}, map[string]any{"b": nil}, false},
		{nil, nil, true},
		{true, false, false},
	} {
		if got := same(tc.a, tc.b); got != tc.want {
			t.Errorf("same(%v, %v) = %v", tc.a, tc.b, got)
		}
	}
}

func TestLineDiff(t *testing.T) {
	got := lineDiff("a\nb\nc", "a\nB\nc\nd")
	if want := []string{"-b", "+B", "+d"}; !slices.Equal(got, want) {
		t.Errorf("got %q", got)
	}
	if d := lineDiff("x", "x"); len(d) != 0 {
		t.Errorf("equal texts differ: %q", d)
	}
}
