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
