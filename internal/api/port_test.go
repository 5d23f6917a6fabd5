package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/store"
)

// checkShape fails unless obj has every field of want with that value
// (nil: any value but a missing or empty one).
func checkShape(t *testing.T, what string, obj map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		got, ok := obj[k]
		switch {
		case !ok || got == nil || got == "":
			t.Errorf("%s: no %s in %v", what, k, obj)
		case v != nil && got != v:
			t.Errorf("%s: %s = %v, want %v", what, k, got, v)
		}
	}
}

// TestPortPatchRunWithLog sends what port-labs/port-github-action's
// PATCH_RUN sends with a log message — the log line, then the status —
// and checks the answers field by field as Port documents them.
func TestPortPatchRunWithLog(t *testing.T) {
	f, eng := newRunsFixture(t)
	id := f.requestRun(t, eng, "create_repository")

	code, out := f.do(t, "POST", "/v1/actions/runs/"+id+"/logs", f.token, map[string]any{"message": "cloning the template"})
	if code != http.StatusCreated || out["ok"] != true {
		t.Fatalf("POST logs: %d %v", code, out)
	}
	runLog, _ := out["runLog"].(map[string]any)
	checkShape(t, "runLog", runLog, map[string]any{"id": nil, "runId": id, "message": "cloning the template", "createdBy": "ci", "createdAt": nil})
	if _, err := time.Parse(time.RFC3339Nano, runLog["createdAt"].(string)); err != nil {
		t.Errorf("createdAt: %v", err)
	}

	code, out = f.do(t, "PATCH", "/v1/actions/runs/"+id, f.token, map[string]any{"status": "SUCCESS", "link": []string{"https://github.com/acme/ledger/actions/runs/1"}})
	if code != http.StatusOK {
		t.Fatalf("PATCH after the log: %d %v", code, out)
	}
	checkShape(t, "run", out["run"].(map[string]any), map[string]any{"status": "SUCCESS", "lifecycle": "SUCCESS", "source": "API", "origin": "api"})

	code, out = f.do(t, "POST", "/v1/actions/runs/"+id+"/logs", f.token, map[string]any{"message": "too late"})
	if code != http.StatusConflict {
		t.Fatalf("a line on a finished run: %d %v, want 409", code, out)
	}
	_, out = f.do(t, "GET", "/v1/actions/runs/"+id+"/logs", f.token, nil)
	lines := out["runLogs"].([]any)
	if len(lines) != 1 {
		t.Fatalf("log lines %v, want the one", lines)
	}
	line := lines[0].(map[string]any)
	checkShape(t, "GET logs item", line, map[string]any{"id": runLog["id"], "runId": id, "message": "cloning the template", "createdBy": "ci", "createdAt": runLog["createdAt"]})
}

// TestPortRunStatuses: Port's clients switch on status and source; pier's
// finer lifecycle and origin stay in fields of their own.
func TestPortRunStatuses(t *testing.T) {
	f, _ := newRunsFixture(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		lifecycle, origin string
		status, source    string
	}{
		{store.RunWaitingForApproval, "pull_request", "WAITING_FOR_APPROVAL", "UI"},
		{store.RunApproved, "web", "IN_PROGRESS", "UI"},
		{store.RunDispatched, "api", "IN_PROGRESS", "API"},
		{store.RunInProgress, "automation", "IN_PROGRESS", "AUTOMATION"},
		{store.RunSuccess, "schedule", "SUCCESS", "AUTOMATION"},
		{store.RunFailure, "api", "FAILURE", "API"},
		{store.RunDeclined, "api", "DECLINED", "API"},
		{store.RunExpired, "api", "FAILURE", "API"},
		{store.RunCancelled, "api", "FAILURE", "API"},
	}
	for _, tt := range tests {
		t.Run(tt.lifecycle+"/"+tt.origin, func(t *testing.T) {
			run := store.Run{ID: "r_" + tt.lifecycle + "_" + tt.origin, Action: "create_repository", Requester: "ci", Source: tt.origin,
				Status: tt.lifecycle, CreatedAt: t0, UpdatedAt: t0}
			if _, _, err := f.st.CreateRun(ctx, run, store.RunEvent{At: t0, Actor: "ci", To: tt.lifecycle}, nil); err != nil {
				t.Fatal(err)
			}
			code, out := f.do(t, "GET", "/v1/actions/runs/"+run.ID, f.token, nil)
			if code != http.StatusOK {
				t.Fatalf("GET: %d %v", code, out)
			}
			checkShape(t, "run", out["run"].(map[string]any), map[string]any{"status": tt.status, "source": tt.source, "lifecycle": tt.lifecycle, "origin": tt.origin})
		})
	}
}

// TestFailedDispatchOneRule: a run whose dispatch started and failed
// without a known outcome (it may have reached GitHub) takes a log line
// and a PATCH alike; before its dispatch, it takes neither.
func TestFailedDispatchOneRule(t *testing.T) {
	f, _ := newRunsFixture(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	mk := func(id string, d store.RunDispatch) string {
		run := store.Run{ID: id, Action: "create_repository", Requester: "ci", Source: "api", Status: store.RunApproved,
			Dispatch: d, CreatedAt: t0, UpdatedAt: t0}
		if _, _, err := f.st.CreateRun(ctx, run, store.RunEvent{At: t0, Actor: "ci", To: store.RunApproved}, nil); err != nil {
			t.Fatal(err)
		}
		return id
	}
	tests := []struct {
		name string
		id   string
		code int // for both the line and the PATCH
	}{
		{"dispatch outcome unknown", mk("r_unknown", store.RunDispatch{StartedAt: t0, Error: "POST api.github.com: timeout (the dispatch may have happened)"}), 0},
		{"not dispatched yet", mk("r_queued", store.RunDispatch{}), http.StatusConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logCode, out := f.do(t, "POST", "/v1/actions/runs/"+tt.id+"/logs", f.token, map[string]any{"message": "started"})
			patchCode, out2 := f.do(t, "PATCH", "/v1/actions/runs/"+tt.id, f.token, map[string]any{"status": "IN_PROGRESS", "statusLabel": "Running"})
			if want := map[bool]int{true: http.StatusCreated, false: tt.code}[tt.code == 0]; logCode != want {
				t.Errorf("POST logs: %d %v, want %d", logCode, out, want)
			}
			if want := map[bool]int{true: http.StatusOK, false: tt.code}[tt.code == 0]; patchCode != want {
				t.Errorf("PATCH: %d %v, want %d", patchCode, out2, want)
			}
		})
	}
}

// TestPortRunFilters: each of Port's run filters selects, so that a
// script taking runs[0] gets its run.
func TestPortRunFilters(t *testing.T) {
	f, _ := newRunsFixture(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	seed := []store.Run{
		{ID: "r_a", Action: "create_repository", Requester: "ci", Source: "api", Status: store.RunInProgress, ExternalRunID: "gh-1"},
		{ID: "r_b", Action: "create_repository", Requester: "kim", Source: "web", Status: store.RunSuccess, ExternalRunID: "gh-2"},
		{ID: "r_c", Action: "request_database_access", Blueprint: "database", Entity: "ledger-db-prod", Requester: "kim", Source: "pull_request", Status: store.RunWaitingForApproval},
		{ID: "r_d", Action: "extend_ttl", Blueprint: "environment", Entity: "preview-42", Requester: "pier", Source: "automation", Status: store.RunFailure},
		{ID: "r_e", Action: "extend_ttl", Blueprint: "environment", Entity: "preview-42", Requester: "schedule", Source: "schedule", Status: store.RunDispatched},
	}
	for i, run := range seed {
		run.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		run.UpdatedAt = run.CreatedAt
		if _, _, err := f.st.CreateRun(ctx, run, store.RunEvent{At: run.CreatedAt, Actor: run.Requester, To: run.Status}, nil); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		query string
		want  string // the ids, newest first
		code  int
	}{
		{"external_run_id=gh-2", "r_b", 200},
		{"external_run_id=gh-9", "", 200},
		{"user_email=kim", "r_c r_b", 200},
		{"user_email=nobody@example.com", "", 200},
		{"entity=preview-42", "r_e r_d", 200},
		{"blueprint=database", "r_c", 200},
		{"active=true", "r_e r_c r_a", 200},
		{"active=false", "r_e r_d r_c r_b r_a", 200},
		{"active=maybe", "", 422},
		{"action=create_repository", "r_b r_a", 200},
		{"source=UI", "r_c r_b", 200},
		{"source=AUTOMATION", "r_e r_d", 200},
		{"source=API", "r_a", 200},
		{"source=pull_request", "r_c", 200},
		{"source=FAX", "", 422},
		{"limit=2", "r_e r_d", 200},
		{"action=extend_ttl&source=AUTOMATION&active=true", "r_e", 200},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			code, out := f.do(t, "GET", "/v1/actions/runs?"+tt.query, f.token, nil)
			if code != tt.code {
				t.Fatalf("%d %v, want %d", code, out, tt.code)
			}
			if code != 200 {
				if out["field"] == nil {
					t.Fatalf("a refusal names no field: %v", out)
				}
				return
			}
			var ids []string
			for _, r := range out["runs"].([]any) {
				ids = append(ids, r.(map[string]any)["id"].(string))
			}
			if got := strings.Join(ids, " "); got != tt.want {
				t.Fatalf("runs %q, want %q", got, tt.want)
			}
		})
	}
}

// TestPortEntityProjection: include, exclude, exclude_calculated_properties
// and attach_title_to_relation on entity get, list and both searches.
func TestPortEntityProjection(t *testing.T) {
	f := newFixture(t, false)
	f.token = f.login(t)
	entityOf := func(t *testing.T, method, path string, body any) map[string]any {
		t.Helper()
		code, out := f.do(t, method, path, f.token, body)
		if code != http.StatusOK {
			t.Fatalf("%s %s: %d %v", method, path, code, out)
		}
		if e, ok := out["entity"].(map[string]any); ok {
			return e
		}
		for _, e := range out["entities"].([]any) {
			if e.(map[string]any)["identifier"] == "checkout-web" || e.(map[string]any)["identifier"] == nil {
				return e.(map[string]any)
			}
		}
		t.Fatalf("%s %s: no checkout-web in %v", method, path, out)
		return nil
	}
	byID := map[string]any{"combinator": "and", "rules": []any{map[string]any{"property": "$identifier", "operator": "=", "value": "checkout-web"}}}
	doors := []struct {
		name         string
		method, path string
		body         func(extra map[string]any) any
	}{
		{"get", "GET", "/v1/blueprints/service/entities/checkout-web", nil},
		{"list", "GET", "/v1/blueprints/service/entities", nil},
		{"search", "POST", "/v1/entities/search", func(extra map[string]any) any {
			b := map[string]any{"query": byID}
			for k, v := range extra {
				b[k] = v
			}
			return b
		}},
		{"paged search", "POST", "/v1/blueprints/service/entities/search", func(extra map[string]any) any {
			b := map[string]any{"query": byID}
			for k, v := range extra {
				b[k] = v
			}
			return b
		}},
	}
	tests := []struct {
		name  string
		query string
		body  map[string]any // the same, in a search body
		check func(t *testing.T, e map[string]any)
	}{
		{"include identifier", "include=identifier", map[string]any{"include": []string{"identifier"}}, func(t *testing.T, e map[string]any) {
			if len(e) != 1 || e["identifier"] != "checkout-web" {
				t.Errorf("entity %v, want only its identifier", e)
			}
		}},
		{"include a property", "include=identifier&include=properties.language", map[string]any{"include": []string{"identifier", "properties.language"}}, func(t *testing.T, e map[string]any) {
			props, _ := e["properties"].(map[string]any)
			if len(e) != 2 || len(props) != 1 || props["language"] != "TypeScript" {
				t.Errorf("entity %v, want its identifier and language", e)
			}
		}},
		{"exclude", "exclude=relations,properties.description", map[string]any{"exclude": []string{"relations", "properties.description"}}, func(t *testing.T, e map[string]any) {
			props, _ := e["properties"].(map[string]any)
			if _, ok := e["relations"]; ok || props["description"] != nil || props["language"] != "TypeScript" || e["title"] != "Checkout Web" {
				t.Errorf("entity %v, want it without relations and description", e)
			}
		}},
		{"exclude calculated", "exclude_calculated_properties=true", map[string]any{"exclude_calculated_properties": true}, func(t *testing.T, e map[string]any) {
			props, _ := e["properties"].(map[string]any)
			for _, computed := range []string{"cpu_utilization", "ci_url", "team_slack_channel"} {
				if _, ok := props[computed]; ok {
					t.Errorf("computed %s still there: %v", computed, props)
				}
			}
			if props["language"] != "TypeScript" {
				t.Errorf("properties %v lost a stored one", props)
			}
		}},
		{"titles on relations", "attach_title_to_relation=true", map[string]any{"attach_title_to_relation": true}, func(t *testing.T, e map[string]any) {
			rels, _ := e["relations"].(map[string]any)
			team, _ := rels["team"].(map[string]any)
			deps, _ := rels["dependencies"].([]any)
			if team["identifier"] != "checkout" || team["title"] != "Checkout" || len(deps) != 1 || deps[0].(map[string]any)["identifier"] != "checkout-bff" {
				t.Errorf("relations %v, want targets with titles", rels)
			}
		}},
	}
	for _, d := range doors {
		for _, tt := range tests {
			t.Run(d.name+"/"+tt.name, func(t *testing.T) {
				var body any
				if d.body != nil {
					body = d.body(nil)
				}
				tt.check(t, entityOf(t, d.method, d.path+"?"+tt.query, body))
				if d.body != nil { // the options in the body, as Port's search takes them
					tt.check(t, entityOf(t, d.method, d.path, d.body(tt.body)))
				}
			})
		}
	}
	if code, out := f.do(t, "GET", "/v1/blueprints/service/entities?attach_title_to_relation=yes", f.token, nil); code != http.StatusUnprocessableEntity || out["field"] != "attach_title_to_relation" {
		t.Errorf("a bad flag: %d %v", code, out)
	}
}

// TestPortPagedSearch: POST /v1/blueprints/{bp}/entities/search pages
// with limit and next (sent back as from) through the blueprint's
// matches; /v1/entities/search pages alike across blueprints.
func TestPortPagedSearch(t *testing.T) {
	f := newFixture(t, false)
	f.token = f.login(t)
	for _, tt := range []struct{ path, query string }{
		{"/v1/blueprints/service/entities/search", ""},
		{"/v1/entities/search", "service"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			query := map[string]any{"combinator": "and", "rules": []any{}}
			if tt.query != "" {
				query["rules"] = []any{map[string]any{"property": "$blueprint", "operator": "=", "value": tt.query}}
			}
			_, whole := f.do(t, "POST", tt.path, f.token, map[string]any{"query": query})
			all := whole["entities"].([]any)
			if len(all) < 3 || whole["next"] != nil {
				t.Fatalf("whole search: %d entities, next %v", len(all), whole["next"])
			}
			var paged []any
			from := ""
			for n := 0; n <= len(all); n++ {
				body := map[string]any{"query": query, "limit": 2}
				if from != "" {
					body["from"] = from
				}
				code, out := f.do(t, "POST", tt.path, f.token, body)
				if code != http.StatusOK {
					t.Fatalf("page %d: %d %v", n, code, out)
				}
				paged = append(paged, out["entities"].([]any)...)
				next, _ := out["next"].(string)
				if next == "" {
					break
				}
				from = next
			}
			if len(paged) != len(all) {
				t.Fatalf("pages hold %d entities, the whole search %d", len(paged), len(all))
			}
			for i := range all {
				if paged[i].(map[string]any)["identifier"] != all[i].(map[string]any)["identifier"] {
					t.Fatalf("entity %d: %v, want %v", i, paged[i], all[i])
				}
			}
		})
	}
	if code, out := f.do(t, "POST", "/v1/blueprints/nope/entities/search", f.token, map[string]any{}); code != http.StatusNotFound {
		t.Errorf("unknown blueprint: %d %v", code, out)
	}
}

// TestPortScorecardPaths: Port's blueprint-scoped scorecard paths.
func TestPortScorecardPaths(t *testing.T) {
	f := newFixture(t, false)
	f.token = f.login(t)
	code, out := f.do(t, "GET", "/v1/blueprints/service/scorecards", f.token, nil)
	if code != http.StatusOK || len(out["scorecards"].([]any)) != 2 {
		t.Fatalf("list: %d %v", code, out)
	}
	code, out = f.do(t, "GET", "/v1/blueprints/service/scorecards/production_readiness", f.token, nil)
	if code != http.StatusOK || out["scorecard"].(map[string]any)["identifier"] != "production_readiness" {
		t.Fatalf("get: %d %v", code, out)
	}
	for _, path := range []string{"/v1/blueprints/team/scorecards/production_readiness", "/v1/blueprints/service/scorecards/nope", "/v1/blueprints/nope/scorecards"} {
		if code, out := f.do(t, "GET", path, f.token, nil); code != http.StatusNotFound {
			t.Errorf("%s: %d %v, want 404", path, code, out)
		}
	}
	code, out = f.do(t, "GET", "/v1/blueprints/team/scorecards", f.token, nil)
	if code != http.StatusOK || len(out["scorecards"].([]any)) != 0 {
		t.Errorf("a blueprint without scorecards: %d %v", code, out)
	}
}

// TestPortValidationOnly: ?validation_only=true makes every check a
// write makes and writes nothing; a refused write is refused alike.
func TestPortValidationOnly(t *testing.T) {
	f := newFixture(t, false)
	f.token = f.login(t)
	tests := []struct {
		name, method, path string
		body               map[string]any
		code               int
	}{
		{"upsert", "POST", "/v1/blueprints/service/entities?upsert=true&merge=true&validation_only=true",
			map[string]any{"identifier": "payments-api", "properties": map[string]any{"health_status": "Critical"}}, http.StatusOK},
		{"patch", "PATCH", "/v1/blueprints/service/entities/payments-api?validation_only=true",
			map[string]any{"properties": map[string]any{"health_status": "Critical"}}, http.StatusOK},
		{"a bad value is still refused", "PATCH", "/v1/blueprints/service/entities/payments-api?validation_only=true",
			map[string]any{"properties": map[string]any{"health_status": "Sunny"}}, http.StatusUnprocessableEntity},
		{"a bad flag", "PATCH", "/v1/blueprints/service/entities/payments-api?validation_only=perhaps",
			map[string]any{"properties": map[string]any{"health_status": "Critical"}}, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := f.do(t, tt.method, tt.path, f.token, tt.body)
			if code != tt.code {
				t.Fatalf("%d %v, want %d", code, out, tt.code)
			}
			if code == http.StatusOK {
				e := out["entity"].(map[string]any)
				if out["validationOnly"] != true || e["properties"].(map[string]any)["health_status"] != "Critical" || e["properties"].(map[string]any)["language"] == nil {
					t.Errorf("answer %v: want the entity as the write would leave it", out)
				}
			}
			if rts, err := f.st.Runtimes(context.Background()); err != nil || len(rts) != 0 {
				t.Fatalf("written: %v %v", rts, err)
			}
			_, out = f.do(t, "GET", "/v1/blueprints/service/entities/payments-api", f.token, nil)
			if hs := out["entity"].(map[string]any)["properties"].(map[string]any)["health_status"]; hs != nil {
				t.Fatalf("health_status %v after a validation", hs)
			}
		})
	}
}

// TestPortHonestRefusals: a relation the blueprint does not have and a
// team that does not exist are 422s naming them; a git-owned field git
// does not set is a 409 that says so, not "declared in git".
func TestPortHonestRefusals(t *testing.T) {
	f := newFixture(t, false)
	f.token = f.login(t)
	tests := []struct {
		name string
		body map[string]any
		code int
		kind string
		says string
	}{
		{"unknown relation", map[string]any{"relations": map[string]any{"owner": "payments"}, "properties": map[string]any{"health_status": "Healthy"}},
			422, "unknown_relation", "blueprint service has no relation \"owner\""},
		{"unknown team", map[string]any{"team": "nope", "properties": map[string]any{"health_status": "Healthy"}},
			422, "unknown_team", "team \"nope\" does not exist"},
		{"a team git does not set", map[string]any{"team": "payments", "properties": map[string]any{"health_status": "Healthy"}},
			409, "git_owned", "does not set it"},
		{"a relation git declares otherwise", map[string]any{"relations": map[string]any{"system": "ledger"}, "properties": map[string]any{"health_status": "Healthy"}},
			409, "git_owned", "declared in git at"},
		{"the relation as git has it", map[string]any{"relations": map[string]any{"system": "card-processing"}, "properties": map[string]any{"health_status": "Healthy"}},
			200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := f.do(t, "PATCH", "/v1/blueprints/service/entities/payments-api", f.token, tt.body)
			msg, _ := out["message"].(string)
			if code != tt.code || tt.kind != "" && (out["error"] != tt.kind || !strings.Contains(msg, tt.says)) {
				t.Fatalf("%d %v, want %d %s saying %q", code, out, tt.code, tt.kind, tt.says)
			}
		})
	}
}

// TestPortRunID: run_id on an entity write links it to a running run (a
// line of its log, by the writer); a run that does not exist or has
// finished is a 422 and nothing is written.
func TestPortRunID(t *testing.T) {
	f, eng := newRunsFixture(t)
	running := f.requestRun(t, eng, "create_repository")
	finished := f.requestRun(t, eng, "create_repository")
	if code, out := f.do(t, "PATCH", "/v1/actions/runs/"+finished, f.token, map[string]any{"status": "SUCCESS"}); code != http.StatusOK {
		t.Fatalf("finish: %d %v", code, out)
	}
	write := map[string]any{"properties": map[string]any{"health_status": "Critical"}}
	for _, tt := range []struct {
		name, runID string
		code        int
	}{
		{"no such run", "r_nope", http.StatusUnprocessableEntity},
		{"a finished run", finished, http.StatusUnprocessableEntity},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out := f.do(t, "PATCH", "/v1/blueprints/service/entities/payments-api?run_id="+tt.runID, f.token, write)
			if code != tt.code || out["field"] != "run_id" {
				t.Fatalf("%d %v, want %d on run_id", code, out, tt.code)
			}
			if rts, _ := f.st.Runtimes(context.Background()); len(rts) != 0 {
				t.Fatalf("written: %v", rts)
			}
		})
	}
	code, out := f.do(t, "PATCH", "/v1/blueprints/service/entities/payments-api?run_id="+running, f.token, write)
	if code != http.StatusOK {
		t.Fatalf("linked write: %d %v", code, out)
	}
	_, out = f.do(t, "GET", "/v1/actions/runs/"+running+"/logs", f.token, nil)
	lines := out["runLogs"].([]any)
	if len(lines) != 1 || !strings.Contains(lines[0].(map[string]any)["message"].(string), "service/payments-api: health_status") || lines[0].(map[string]any)["createdBy"] != "ci" {
		t.Fatalf("run logs %v, want the write", lines)
	}
}

// TestPortDeleteEntity: deleting a git-declared entity says where it is
// declared and how to delete it, after the permission check.
func TestPortDeleteEntity(t *testing.T) {
	f := newFixture(t, false)
	f.token = f.login(t)
	code, out := f.do(t, "DELETE", "/v1/blueprints/service/entities/payments-api", f.token, nil)
	msg, _ := out["message"].(string)
	if file, _ := out["file"].(string); code != http.StatusConflict || out["error"] != "git_owned" || !strings.Contains(file, "payments-api") || !strings.Contains(msg, "pull request") {
		t.Fatalf("DELETE: %d %v", code, out)
	}
	if code, out := f.do(t, "DELETE", "/v1/blueprints/service/entities/nope", f.token, nil); code != http.StatusNotFound {
		t.Fatalf("DELETE of nothing: %d %v", code, out)
	}
	if f.holder.Load().Entity("service", "payments-api") == nil {
		t.Fatal("deleted")
	}
}

// TestPortSeedSnippet sends the seed's Python snippet's calls (a token,
// then a POST of a new service with properties and relations) to a
// git-owned service blueprint: a 409 that says how to add it.
func TestPortSeedSnippet(t *testing.T) {
	f := newFixture(t, false)
	code, out := f.do(t, "POST", "/v1/auth/access_token", "", map[string]any{"clientId": "ci", "clientSecret": "s3cret"})
	if code != http.StatusOK {
		t.Fatalf("token: %d %v", code, out)
	}
	token := out["accessToken"].(string)
	service := map[string]any{
		"identifier": "user-service",
		"title":      "User Service",
		"properties": map[string]any{"name": "User Service", "description": "Handles user authentication and management", "owner": "backend-team",
			"language": "Python", "lifecycle": "Production", "tier": "Customer Facing"},
		"relations": map[string]any{"team": "backend-team", "domain": "authentication"},
	}
	code, out = f.do(t, "POST", "/v1/blueprints/service/entities", token, service)
	msg, _ := out["message"].(string)
	if code != http.StatusConflict || out["ok"] != false || out["error"] != "git_owned" || !strings.Contains(msg, "pull request") || !strings.Contains(msg, "entities/service/user-service.yaml") {
		t.Fatalf("POST: %d %v", code, out)
	}
	if f.holder.Load().Entity("service", "user-service") != nil {
		t.Fatal("created")
	}
}
