package loader

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/internal/scorecard"
)

const serviceBlueprint = `package catalog

blueprints: team: {title: "Team", schema: properties: {}}
blueprints: service: {
	title: "Service"
	schema: {
		properties: {
			language:  {type: "string", enum: ["Go", "Python", "Java"]}
			lifecycle: {type: "string", enum: ["Production", "Staging", "Development"]}
			test_coverage: {type: "number", minimum: 0, maximum: 100}
			health: {type: "string", runtime: true}
			cpu_requests: {type: "number"}
			cpu_limits: {type: "number"}
			cpu_utilization: {type: "number", calculation: {type: "formula", formula: "(cpu_requests / cpu_limits) * 100"}}
		}
		required: ["language", "lifecycle"]
	}
	relations: team: {target: "team", required: true, many: false}
}
`

const teams = `{"entities": {"team": {"payments": {"title": "Payments"}, "identity": {}}}}`

func load(t *testing.T, files map[string]string) *Result {
	t.Helper()
	fs := fstest.MapFS{}
	for name, data := range files {
		fs[name] = &fstest.MapFile{Data: []byte(data)}
	}
	l, err := New(2)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Load(context.Background(), fs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// want is one expected diagnostic: where, what kind, and a fragment of
// its message.
type want struct {
	pos  string // file:line:col
	kind string
	msg  string
}

func TestDiagnostics(t *testing.T) {
	base := map[string]string{"blueprints.cue": serviceBlueprint, "teams.json": teams}
	tests := []struct {
		name  string
		files map[string]string
		want  []want
	}{
		{"valid", map[string]string{
			"svc.cue": `entities: service: "user-service": {properties: {language: "Go", lifecycle: "Production", test_coverage: 84}, relations: team: "payments"}`,
		}, nil},
		{"cue syntax", map[string]string{"svc.cue": "entities: service: {\n  x: \n"},
			[]want{{"svc.cue:2:6", catalog.KindParse, "expected operand"}}},
		{"json syntax", map[string]string{"svc.json": "{\n  \"entities\": {,}\n}"},
			[]want{{"svc.json:2:16", catalog.KindParse, ""}}},
		{"yaml syntax", map[string]string{"svc.yaml": "entities:\n  service: [\n"},
			[]want{{"svc.yaml", catalog.KindParse, ""}}},
		{"unknown top-level key", map[string]string{"x.cue": "\nentity: service: {}\n"},
			[]want{{"x.cue:2:1", catalog.KindUnknownKey, `unknown top-level key "entity" (did you mean "entities"?)`}}},
		{"identifier mismatch", map[string]string{"x.json": `{"blueprints": {"team2": {"identifier": "team3", "schema": {"properties": {}}}}}`},
			[]want{{"x.json:1:41", catalog.KindIdentifier, `identifier "team3" does not match its key "team2"`}}},
		{"bad identifier", map[string]string{"x.cue": `entities: team: "has space": {}`},
			[]want{{"x.cue:1:17", catalog.KindIdentifier, `"has space" is not a valid identifier`}}},
		{"enum", map[string]string{"svc.cue": "entities: service: \"user-service\": {\n\tproperties: {language: \"Go\", lifecycle: \"Prod\"}\n\trelations: team: \"payments\"\n}"},
			[]want{{"svc.cue:2:42", catalog.KindProperty, `entities.service."user-service".properties.lifecycle: must be one of Production, Staging, Development; got "Prod"`}}},
		{"every error in one pass", map[string]string{"svc.yaml": `entities:
  service:
    a:
      properties: {language: Rust, lifecycle: Production, test_coverage: 101, health: ok, cpu_utilization: 3, colour: red}
      relations: {team: nobody}
`}, []want{
			{"svc.yaml:4:30", catalog.KindProperty, `must be one of Go, Python, Java; got "Rust"`},
			{"svc.yaml:4:74", catalog.KindProperty, "must be <= 100; got 101"},
			{"svc.yaml:4:87", catalog.KindRuntimeOwned, `"health" is runtime-owned`},
			{"svc.yaml:4:108", catalog.KindCalculated, `"cpu_utilization" is a calculated property`},
			{"svc.yaml:4:119", catalog.KindProperty, `blueprint service has no property "colour"`},
			{"svc.yaml:5:25", catalog.KindRelation, `no team entity "nobody"`},
		}},
		{"required", map[string]string{"svc.json": `{"entities": {"service": {"a": {"properties": {"language": "Go"}}}}}`},
			[]want{
				{"svc.json:1:32", catalog.KindRelation, `missing required relation "team" to team`},
				{"svc.json:1:47", catalog.KindProperty, `missing required property "lifecycle"`},
			}},
		{"unknown blueprint", map[string]string{"x.cue": "entities: servce: a: {}"},
			[]want{{"x.cue:1:19", catalog.KindBlueprint, `blueprint "servce" does not exist`}}},
		{"relation to a missing blueprint", map[string]string{"bp.json": `{"blueprints": {"api": {"schema": {"properties": {}}, "relations": {"owner": {"target": "group"}}}}}`},
			[]want{{"bp.json:1:89", catalog.KindReference, `relation "owner" targets blueprint "group", which does not exist`}}},
		{"duplicate across json and yaml", map[string]string{
			"a.json": `{"entities": {"team": {"ops": {}}}}`,
			"b.yaml": "entities:\n  team:\n    ops: {}\n",
		}, []want{{"b.yaml:3:5", catalog.KindDuplicate, "entity team/ops is declared twice (see a.json:1:24)"}}},
		{"duplicate across cue and json", map[string]string{
			"a.cue": `entities: team: payments: {}`,
		}, []want{{"teams.json:1:24", catalog.KindDuplicate, "entity team/payments is declared twice (see a.cue:1:17)"}}},
		{"conflict inside a file", map[string]string{"a.cue": "entities: team: ops: title: \"A\"\nentities: team: ops: title: \"B\"\n"},
			[]want{{"a.cue:2:29", catalog.KindEval, `conflicting values "A" and "B"`}}},
		{"conflict evaluated by cue", map[string]string{"a.cue": "_t: \"A\"\nentities: team: ops: title: _t & \"B\"\n"},
			[]want{{"a.cue:1:5", catalog.KindEval, "conflicting values"}}},
		{"incomplete value", map[string]string{"a.cue": "entities: team: ops: title: string\n"},
			[]want{{"a.cue:1:29", catalog.KindEval, "incomplete value string"}}},
		{"blueprint shape", map[string]string{"bp.cue": "blueprints: api: schema: properties: p: {type: \"strng\"}\n"},
			[]want{{"bp.cue:1:48", catalog.KindShape, `blueprints.api.schema.properties.p.type: must be one of`}}},
		{"scorecard level", map[string]string{"sc.json": `{"scorecards": {"s": {"rules": [{"identifier": "r", "level": "Platinum", "query": {"combinator": "and", "rules": []}}]}}}`},
			[]want{{"sc.json:1:62", catalog.KindReference, `must be one of Basic, Bronze, Silver, Gold; got "Platinum"`}}},
		{"action on a missing blueprint", map[string]string{"a.json": `{"actions": {"a": {"trigger": {"type": "self-service", "operation": "DAY-2", "blueprintIdentifier": "svc"}, "invocationMethod": {"type": "WEBHOOK", "url": "https://x"}}}}`},
			[]want{{"a.json:1:101", catalog.KindReference, `blueprint "svc" does not exist`}}},
		{"pierignore", map[string]string{
			".pierignore":       "drafts/\n*.wip.json\n",
			"drafts/broken.cue": "this is not cue {",
			"x.wip.json":        "{",
			"sub/.pierignore":   "local.yaml\n",
			"sub/local.yaml":    "nope: [",
			"sub/kept.yaml":     "entities: {team: {kept: {}}}",
		}, nil},
		{"action templates and schedule", map[string]string{"a.json": `{"actions": {"a": {"trigger": {"type": "self-service", "operation": "CREATE"}, "schedule": "every day",
  "invocationMethod": {"type": "GITHUB", "org": "o", "repo": "r", "workflow": "w.yml", "workflowInputs": {"ok": "{{ .run.id }}", "bad": "{{ .inputs | }}"}}}}}`},
			[]want{
				{"a.json:1:92", catalog.KindShape, `"every day" is not a cron schedule: exactly 5 fields`},
				{"a.json:2:137", catalog.KindShape, `workflowInputs.bad: template: jq ".inputs |"`},
			}},
		{"action condition and approval rule", map[string]string{"a.json": `{"actions": {"a": {"trigger": {"type": "self-service", "operation": "CREATE",
  "condition": {"type": "SEARCH", "combinator": "and", "rules": [{"property": "x", "operator": "between", "value": 5}]}},
  "approval": {"approvals": 1, "when": {"jq": ".inputs.days >"}},
  "invocationMethod": {"type": "WEBHOOK", "url": "https://x"}}}}`},
			[]want{
				{"a.json:2:16", catalog.KindShape, "trigger.condition: query rules[0]: operator between needs a value {from, to}"},
				{"a.json:3:47", catalog.KindShape, `approval.when.jq: jq ".inputs.days >"`},
			}},
		{"run requests are not catalog data", map[string]string{
			"runs/r_1.json":     `{"action": "deploy", "entity": "x", "properties": {"v": 1}}`,
			"sub/runs/bad.json": `{"runs": "only the root's runs/ is skipped"}`,
		}, []want{{"sub/runs/bad.json:1:2", catalog.KindUnknownKey, `unknown top-level key "runs"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range base {
				files[k] = v
			}
			for k, v := range tt.files {
				files[k] = v
			}
			res := load(t, files)
			if len(res.Diagnostics) != len(tt.want) {
				t.Fatalf("got %d diagnostics, want %d:\n%v", len(res.Diagnostics), len(tt.want), res.Diagnostics)
			}
			for i, w := range tt.want {
				d := res.Diagnostics[i]
				if !strings.HasPrefix(d.Pos.String(), w.pos) || d.Kind != w.kind || !strings.Contains(d.String(), w.msg) {
					t.Errorf("diagnostic %d:\n got  %s [%s]\n want %s [%s] containing %q", i, d, d.Kind, w.pos, w.kind, w.msg)
				}
			}
			if len(tt.want) == 0 && res.Catalog.EntityCount() < 2 {
				t.Errorf("valid catalog has %d entities", res.Catalog.EntityCount())
			}
		})
	}
}

// The seed's JSON, pasted under the right key, must load as written.
func TestSeedExamplesLoad(t *testing.T) {
	seed := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", "schema", "testdata", "seed", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	support := `{"blueprints": {"team": {"schema": {"properties": {}}}, "domain": {"schema": {"properties": {}}}}}`
	catalogs := []map[string]string{
		{
			"support.json": support, "service.json": seed("service"), "microservice.json": seed("microservice"),
			"deploy.json": seed("deploy_service"), "repo.json": seed("create_repository"),
			"infra.json": seed("provision_infrastructure"), "pr.json": seed("production_readiness"),
			"sec.json": seed("security_compliance"), "auto.json": seed("auto_assign_team"),
		},
		{"service.json": seed("service_calculations")},
	}
	for _, files := range catalogs {
		res := load(t, files)
		if !res.OK() {
			t.Fatalf("seed examples do not load:\n%v", res.Diagnostics)
		}
	}
	res := load(t, catalogs[0])
	if a := res.Catalog.Actions["deploy_service"]; a == nil || a.InvocationMethod.Type != "WEBHOOK" || len(a.Trigger.UserInputs.Properties) != 5 {
		t.Errorf("deploy_service decoded as %+v", a)
	}
	if s := res.Catalog.Scorecards["production_readiness"]; s == nil || len(s.Rules) != 3 || len(s.Filter.Rules) != 2 || len(s.Rules[2].Query.Rules) != 2 {
		t.Errorf("production_readiness decoded as %+v", s)
	}
}

func TestExampleCatalogIsValid(t *testing.T) {
	l, err := New(0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Load(context.Background(), os.DirFS("../../catalog-example"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("catalog-example is invalid:\n%v", res.Diagnostics)
	}
	if n := res.Catalog.EntityCount(); n < 30 {
		t.Errorf("catalog-example has %d entities, want 30+", n)
	}
	for _, bp := range []string{"team", "domain", "system", "service", "environment", "deployment", "cloud_resource"} {
		if res.Catalog.Blueprints[bp] == nil {
			t.Errorf("catalog-example lacks blueprint %s", bp)
		}
	}
}

// Reload must skip exactly the files a full Load skips: a revision that
// only adds a run request (a merged run-request pull request) is valid.
func TestReloadSkipsWhatLoadSkips(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		files map[string]string // written after the first load, then reloaded
		want  []want
	}{
		{"run request", map[string]string{
			"runs/r_1.json": `{"action": "deploy", "entity": "user-service", "properties": {"version": "1.2.3"}}`,
		}, nil},
		{"run request with inputs", map[string]string{
			"runs/r_2.json": `{"action": "deploy", "entity": "user-service", "inputs": {"version": "1.2.3"}}`,
		}, nil},
		{"ignored by .pierignore", map[string]string{
			"drafts/wip.json":  `{"action": "not catalog data"}`,
			"notes/x.wip.json": "{",
		}, nil},
		{"hidden file", map[string]string{".pre-commit-config.yaml": "repos: []\n"}, nil},
		{"only the root's runs/ is skipped", map[string]string{
			"sub/runs/bad.json": `{"runs": "x"}`,
		}, []want{{"sub/runs/bad.json:1:2", catalog.KindUnknownKey, `unknown top-level key "runs"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"blueprints.cue": {Data: []byte(serviceBlueprint)},
				"teams.json":     {Data: []byte(teams)},
				".pierignore":    {Data: []byte("drafts/\n*.wip.json\n")},
			}
			l, err := New(2)
			if err != nil {
				t.Fatal(err)
			}
			if res, err := l.Load(ctx, fsys); err != nil || !res.OK() {
				t.Fatalf("first load: %v %v", err, res.Diagnostics)
			}
			var changed []string
			for name, data := range tt.files {
				fsys[name] = &fstest.MapFile{Data: []byte(data)}
				changed = append(changed, name)
			}
			res, err := l.Reload(ctx, fsys, changed)
			if err != nil {
				t.Fatal(err)
			}
			check := func(how string, res *Result) {
				t.Helper()
				if len(res.Diagnostics) != len(tt.want) {
					t.Fatalf("%s: got %d diagnostics, want %d:\n%v", how, len(res.Diagnostics), len(tt.want), res.Diagnostics)
				}
				for i, w := range tt.want {
					d := res.Diagnostics[i]
					if !strings.HasPrefix(d.Pos.String(), w.pos) || d.Kind != w.kind || !strings.Contains(d.String(), w.msg) {
						t.Errorf("%s: diagnostic %d:\n got  %s [%s]\n want %s [%s] containing %q", how, i, d, d.Kind, w.pos, w.kind, w.msg)
					}
				}
			}
			check("reload", res)
			// A cold load of the same tree agrees, file count included.
			cold, err := New(2)
			if err != nil {
				t.Fatal(err)
			}
			full, err := cold.Load(ctx, fsys)
			if err != nil {
				t.Fatal(err)
			}
			check("load", full)
			if res.Files != full.Files {
				t.Errorf("reload holds %d files, a full load %d", res.Files, full.Files)
			}
		})
	}
}

// A scorecard the loader accepts must compile in the state
// (scorecard.CompileAll), or every scorecard result is lost: its queries,
// its levels and the levels scorecards read from each other are checked
// at load, each error where it is written.
func TestScorecardDiagnostics(t *testing.T) {
	base := map[string]string{"blueprints.cue": serviceBlueprint, "teams.json": teams}
	// rule is a scorecard rule at level Gold with the given query rules.
	rule := func(id, rules string) string {
		return `{"identifier": "` + id + `", "level": "Gold", "query": {"combinator": "and", "rules": [` + rules + `]}}`
	}
	tests := []struct {
		name  string
		files map[string]string
		want  []want
	}{
		{"valid, with linked scorecards", map[string]string{
			"a.json": `{"scorecards": {"a": {"blueprintIdentifier": "service", "rules": [` + rule("r", `{"property": "$scorecard.b.level", "operator": ">=", "value": "Silver"}`) + `]}}}`,
			"b.json": `{"scorecards": {"b": {"filter": {"combinator": "and", "conditions": [{"property": "$blueprint", "operator": "=", "value": "service"}]}, "rules": [` + rule("r", `{"property": "language", "operator": "=", "value": "Go"}`) + `]}}}`,
		}, nil},
		{"rule with a bad operator value", map[string]string{"sc.json": `{"scorecards": {"s": {"rules": [
  ` + rule("ok", "") + `,
  {"identifier": "r", "level": "Gold", "query": {"combinator": "and", "rules": [
    {"property": "x", "operator": "isEmpty"},
    {"property": "x", "operator": "between", "value": 5}]}}]}}}`},
			[]want{{"sc.json:5:5", catalog.KindShape, "scorecards.s.rules[1].query.rules[1]: operator between needs a value {from, to}"}}},
		{"rule comparing a boolean by rank", map[string]string{"sc.yaml": `scorecards:
  s:
    rules:
      - identifier: r
        level: Gold
        query:
          combinator: or
          rules:
            - {property: x, operator: ">", value: true}
`}, []want{{"sc.yaml:9:15", catalog.KindShape, "scorecards.s.rules[0].query.rules[0]: operator > needs a number, string or date-time value: booleans only support = and !="}}},
		{"rule with an operator the schema does not know", map[string]string{"sc.json": `{"scorecards": {"s": {"rules": [
  ` + rule("r", `{"property": "x", "operator": "matches", "value": 1}`) + `]}}}`},
			[]want{
				{"sc.json:2:94", catalog.KindShape, `scorecards.s.rules[0].query.rules[0].property: field "property" is not allowed here`},
				{"sc.json:2:111", catalog.KindShape, `field "operator" is not allowed here`},
				{"sc.json:2:131", catalog.KindShape, `field "value" is not allowed here`},
			}},
		{"filter with a bad combinator", map[string]string{"sc.json": `{"scorecards": {"s": {
  "filter": {"combinator": "xor", "rules": []},
  "rules": [` + rule("r", "") + `]}}}`},
			[]want{{"sc.json:2:28", catalog.KindShape, `scorecards.s.filter.combinator: must be one of "and", "or"; got "xor"`}}},
		{"filter with a bad rule among conditions", map[string]string{"sc.cue": `scorecards: s: {
	filter: {
		combinator: "and"
		rules: [{property: "a", operator: "isEmpty"}]
		conditions: [{combinator: "or", conditions: [
			{property: "a", operator: "isEmpty"},
			{property: "tier", operator: "in", value: "gold"},
		]}]
	}
	rules: [{identifier: "r", level: "Gold", query: {combinator: "and", rules: []}}]
}
`}, []want{{"sc.cue:7:4", catalog.KindShape, "scorecards.s.filter.conditions[0].conditions[1]: operator in needs an array value: got a string"}}},
		{"relatedTo without a blueprint", map[string]string{"sc.json": `{"scorecards": {"s": {"rules": [
  ` + rule("r", `{"property": "team", "operator": "relatedTo", "value": "payments"}`) + `]}}}`},
			[]want{{"sc.json:2:81", catalog.KindShape, "scorecards.s.rules[0].query.rules[0]: operator relatedTo needs a blueprint"}}},
		{"unknown meta-property", map[string]string{"sc.json": `{"scorecards": {"s": {"rules": [
  ` + rule("r", `{"property": "$scorecard.", "operator": "=", "value": "Gold"}`) + `]}}}`},
			[]want{{"sc.json:2:81", catalog.KindShape, `scorecards.s.rules[0].query.rules[0]: unknown meta-property "$scorecard."`}}},
		{"two scorecards reading each other", map[string]string{
			"a.json": `{"scorecards": {"a": {"rules": [
  ` + rule("r", `{"property": "$scorecard.b.level", "operator": "=", "value": "Gold"}`) + `]}}}`,
			"b.json": `{"scorecards": {"b": {"rules": [
  ` + rule("ok", "") + `,
  ` + rule("r", `{"property": "language", "operator": "=", "value": "Go"}, {"property": "$scorecard.a", "operator": ">", "value": "Basic"}`) + `]}}}`,
		}, []want{{"b.json:3:152", catalog.KindReference, "scorecards.b.rules[1].query.rules[1].property: scorecard dependency cycle: a -> b -> a (each reads the level of the next) (see a.json:2:94)"}}},
		{"a cycle and another error of the same scorecard, in one pass", map[string]string{"a.json": `{"scorecards": {"a": {"blueprintIdentifier": "servce",
  "rules": [` + rule("r", `{"property": "$scorecard.a.level", "operator": "=", "value": "Gold"}`) + `]}}}`},
			[]want{
				{"a.json:1:46", catalog.KindReference, `blueprint "servce" does not exist`},
				{"a.json:2:104", catalog.KindReference, "scorecard dependency cycle: a -> a"},
			}},
		{"a scorecard reading itself, in its filter", map[string]string{"a.json": `{"scorecards": {"a": {
  "filter": {"combinator": "or", "rules": [{"combinator": "and", "rules": [{"property": "$scorecard.a.level", "operator": "!=", "value": "Gold"}]}]},
  "rules": [` + rule("r", "") + `]}}}`},
			[]want{{"a.json:2:89", catalog.KindReference, "scorecards.a.filter.rules[0].rules[0].property: scorecard dependency cycle: a -> a"}}},
		{"three-scorecard cycle and a scorecard reading it", map[string]string{
			"c.json": `{"scorecards": {
  "a": {"rules": [` + rule("r", `{"property": "$scorecard.b", "operator": "=", "value": "Gold"}`) + `]},
  "b": {"rules": [` + rule("r", `{"property": "$scorecard.c", "operator": "=", "value": "Gold"}`) + `]},
  "c": {"rules": [` + rule("r", `{"property": "$scorecard.a", "operator": "=", "value": "Gold"}`) + `]},
  "d": {"rules": [` + rule("r", `{"property": "$scorecard.a", "operator": "=", "value": "Gold"}`) + `]}}}`,
		}, []want{{"c.json:4:", catalog.KindReference, "scorecards.c.rules[0].query.rules[0].property: scorecard dependency cycle: a -> b -> c -> a (each reads the level of the next) (see c.json:2:"}}},
		{"duplicate level", map[string]string{"sc.json": `{"scorecards": {"s": {
  "levels": [{"title": "Low"}, {"title": "High"},
    {"title": "Low"}],
  "rules": [{"identifier": "r", "level": "High", "query": {"combinator": "and", "rules": []}}]}}}`},
			[]want{{"sc.json:3:15", catalog.KindDuplicate, `scorecards.s.levels[2].title: level "Low" is declared twice (see sc.json:2:24)`}}},
		{"level without a title", map[string]string{"sc.json": `{"scorecards": {"s": {
  "levels": [{"title": ""}],
  "rules": [{"identifier": "r", "level": "", "query": {"combinator": "and", "rules": []}}]}}}`},
			[]want{{"sc.json:2:24", catalog.KindShape, "scorecards.s.levels[0].title: a level needs a title"}}},
		{"duplicate level in settings, reported once", map[string]string{
			"settings.json": `{"settings": {"levels": [{"title": "X"}, {"title": "X"}]}}`,
			"sc.json":       `{"scorecards": {"s": {"rules": [{"identifier": "r", "level": "X", "query": {"combinator": "and", "rules": []}}]}}}`,
		}, []want{{"settings.json:1:52", catalog.KindDuplicate, `settings.levels[1].title: level "X" is declared twice (see settings.json:1:36)`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range base {
				files[k] = v
			}
			for k, v := range tt.files {
				files[k] = v
			}
			res := load(t, files)
			if len(res.Diagnostics) != len(tt.want) {
				t.Fatalf("got %d diagnostics, want %d:\n%v", len(res.Diagnostics), len(tt.want), res.Diagnostics)
			}
			for i, w := range tt.want {
				d := res.Diagnostics[i]
				if !strings.HasPrefix(d.Pos.String(), w.pos) || d.Kind != w.kind || !strings.Contains(d.String(), w.msg) {
					t.Errorf("diagnostic %d:\n got  %s [%s]\n want %s [%s] containing %q", i, d, d.Kind, w.pos, w.kind, w.msg)
				}
			}
			// What the loader accepts, the state compiles.
			if _, err := scorecard.CompileAll(res.Catalog, query.Options{}); res.OK() && err != nil {
				t.Errorf("the loader accepts scorecards that do not compile: %v", err)
			}
		})
	}
}
