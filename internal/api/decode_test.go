package api

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// TestWriteBodies: every body the API takes is read strictly. A misspelt
// or unknown field is a 422 naming it, with a did-you-mean; an empty
// body, null or anything but an object is a 400, and so is a write that
// asks for no change. None of them writes anything.
func TestWriteBodies(t *testing.T) {
	f, eng := newRunsFixture(t)
	dispatched := f.requestRun(t, eng, "create_repository")
	waiting := f.requestRun(t, eng, "request_database_access")
	const entity = "/v1/blueprints/service/entities/payments-api"
	report := "/v1/actions/runs/" + dispatched
	tests := []struct {
		name, method, path, body string
		code                     int
		kind                     string // the answer's error
		field                    string // the field it names
		hint                     string // in its message
	}{
		{"a misspelt properties", "PATCH", entity, `{"propertes": {"health_status": "Healthy"}}`,
			422, "unknown_field", "propertes", `(did you mean "properties"?)`},
		{"an unknown top-level field", "PATCH", entity, `{"properties": {"health_status": "Healthy"}, "owner": "payments"}`,
			422, "unknown_field", "owner", "the fields here are identifier, title, icon, team, properties, relations"},
		{"a null body", "PATCH", entity, `null`, 400, "invalid_json", "", "the request body is null"},
		{"an empty body", "PATCH", entity, ``, 400, "empty_body", "", "send a JSON object"},
		{"a list", "PATCH", entity, `[{"properties": {"health_status": "Healthy"}}]`, 400, "invalid_json", "", "is a list"},
		{"an empty object", "PATCH", entity, `{}`, 400, "empty_write", "", "sets no properties"},
		{"no properties", "PATCH", entity, `{"identifier": "payments-api", "properties": {}}`, 400, "empty_write", "", "sets no properties"},
		{"null properties", "PATCH", entity, `{"properties": null}`, 400, "empty_write", "", "sets no properties"},
		{"two documents", "PATCH", entity, `{"properties": {"health_status": "Healthy"}} {}`, 400, "invalid_json", "", "more than one"},
		{"an upsert merging nothing", "POST", "/v1/blueprints/service/entities?upsert=true&merge=true", `{"identifier": "payments-api"}`,
			400, "empty_write", "", "sets no properties"},
		{"a misspelt upsert", "POST", "/v1/blueprints/service/entities?upsert=true", `{"identifier": "payments-api", "propreties": {"health_status": "Healthy"}}`,
			422, "unknown_field", "propreties", `(did you mean "properties"?)`},
		{"a run request with a misspelt properties", "POST", "/v1/actions/create_repository/runs", `{"propertis": {"name": "x", "template": "library", "team": "platform"}}`,
			422, "unknown_field", "propertis", `(did you mean "properties"?)`},
		{"a null run request", "POST", "/v1/actions/create_repository/runs", `null`, 400, "invalid_json", "", "null"},
		{"a misspelt report", "PATCH", report, `{"satus": "SUCCESS"}`, 422, "unknown_field", "satus", `(did you mean "status"?)`},
		{"an empty report", "PATCH", report, `{}`, 400, "empty_write", "", "nothing to report"},
		{"a misspelt log", "POST", report + "/logs", `{"message": "done", "terminationStaus": "SUCCESS"}`,
			422, "unknown_field", "terminationStaus", `(did you mean "terminationStatus"?)`},
		{"a misspelt approval", "PATCH", "/v1/actions/runs/" + waiting + "/approval", `{"status": "APPROVE", "descripton": "ok"}`,
			422, "unknown_field", "descripton", `(did you mean "description"?)`},
		{"a misspelt token request", "POST", "/v1/auth/access_token", `{"clientId": "ci", "clientSecrets": "s3cret"}`,
			422, "unknown_field", "clientSecrets", `(did you mean "clientSecret"?)`},
		{"a null token request", "POST", "/v1/auth/access_token", `null`, 400, "invalid_json", "", "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := f.send(t, tt.method, tt.path, f.token, strings.NewReader(tt.body))
			msg, _ := out["message"].(string)
			if code != tt.code || out["error"] != tt.kind || !strings.Contains(msg, tt.hint) {
				t.Fatalf("%s %s %s: %d %v, want %d %s mentioning %q", tt.method, tt.path, tt.body, code, out, tt.code, tt.kind, tt.hint)
			}
			if field, _ := out["field"].(string); field != tt.field {
				t.Fatalf("field %q, want %q", field, tt.field)
			}
		})
	}

	// Nothing was written: no runtime value, no new run, the runs as
	// they were, without a log line.
	if e := f.holder.Load().Entity("service", "payments-api"); len(e.Runtime) != 0 {
		t.Errorf("runtime values written: %v", e.Runtime)
	}
	if rts, err := f.st.Runtimes(context.Background()); err != nil || len(rts) != 0 {
		t.Errorf("stored runtimes: %v %v", rts, err)
	}
	_, out := f.do(t, "GET", "/v1/actions/runs", f.token, nil)
	if runs := out["runs"].([]any); len(runs) != 2 {
		t.Errorf("%d runs, want the 2 asked for", len(runs))
	}
	for id, status := range map[string]string{dispatched: "DISPATCHED", waiting: "WAITING_FOR_APPROVAL"} {
		_, out := f.do(t, "GET", "/v1/actions/runs/"+id, f.token, nil)
		if got := out["run"].(map[string]any)["lifecycle"]; got != status {
			t.Errorf("run %s: %v, want %s", id, got, status)
		}
		_, out = f.do(t, "GET", "/v1/actions/runs/"+id+"/logs", f.token, nil)
		if lines := out["runLogs"].([]any); len(lines) != 0 {
			t.Errorf("run %s has log lines %v", id, lines)
		}
	}
}

// TestPortBodies: the fields Port documents for each write are accepted,
// including those pier reads but does not store (a whole entity, with
// git's values).
func TestPortBodies(t *testing.T) {
	f, eng := newRunsFixture(t)
	run := f.requestRun(t, eng, "create_repository")
	tests := []struct {
		name, method, path, body string
		code                     int
	}{
		{"a whole entity", "PATCH", "/v1/blueprints/service/entities/payments-api",
			`{"identifier": "payments-api", "title": "Payments API", "relations": {"team": "payments"}, "properties": {"health_status": "Healthy", "lifecycle": "Production"}}`, http.StatusOK},
		{"a run request", "POST", "/v1/actions/request_database_access/runs",
			`{"entity": "ledger-db-prod", "properties": {"reason": "incident 4711 follow-up"}}`, http.StatusAccepted},
		{"a report", "PATCH", "/v1/actions/runs/" + run,
			`{"status": "IN_PROGRESS", "statusLabel": "Cloning", "link": ["https://ci/1"], "summary": "cloning", "externalRunId": "gh-1"}`, http.StatusOK},
		{"a log line", "POST", "/v1/actions/runs/" + run + "/logs",
			`{"message": "done", "terminationStatus": "SUCCESS", "statusLabel": "Created"}`, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, out := f.send(t, tt.method, tt.path, f.token, strings.NewReader(tt.body)); code != tt.code {
				t.Fatalf("%s %s: %d %v, want %d", tt.method, tt.path, code, out, tt.code)
			}
		})
	}
}

// TestUnknownField: fields are found at any depth, through lists, maps
// and embedded structs, matched as encoding/json matches them.
func TestUnknownField(t *testing.T) {
	type step struct {
		Name string `json:"name"`
	}
	type base struct {
		ID string `json:"id"`
	}
	type body struct {
		base
		Steps   []step          `json:"steps"`
		ByName  map[string]step `json:"byName"`
		Free    map[string]any  `json:"free"`
		Raw     json.RawMessage `json:"raw"`
		Skipped string          `json:"-"`
	}
	tests := []struct{ doc, path string }{
		{`{"id": "a", "steps": [{"name": "x"}], "byName": {"k": {"name": "y"}}, "free": {"any": 1}, "raw": {"any": 1}}`, ""},
		{`{"ID": "a", "Steps": [{"NAME": "x"}]}`, ""}, // case-insensitive, as encoding/json
		{`{"id": "a", "steps": [{"name": "x"}, {"nmae": "y"}]}`, "steps[1].nmae"},
		{`{"byName": {"k": {"title": "y"}}}`, "byName.k.title"},
		{`{"Skipped": "x"}`, "Skipped"},
		{`{"id": "a", "zz": 1, "aa": 2}`, "aa"}, // the first in name order
	}
	for _, tt := range tests {
		f := unknownField([]byte(tt.doc), reflect.TypeFor[*body](), "")
		got := ""
		if f != nil {
			got = f.path
		}
		if got != tt.path {
			t.Errorf("%s: unknown field %q, want %q", tt.doc, got, tt.path)
		}
	}
	f := unknownField([]byte(`{"steps": [{"nmae": "y"}]}`), reflect.TypeFor[body](), "")
	if f == nil || f.name != "nmae" || strings.Join(f.known, ",") != "name" {
		t.Errorf("known fields of a step: %+v", f)
	}
}
