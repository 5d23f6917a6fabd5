package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/approval"
	"github.com/pierhq/pier/internal/runs"
	"github.com/pierhq/pier/internal/store"
)

// started is a Dispatcher whose dispatches always start.
type started struct{}

func (started) Dispatch(context.Context, runs.Dispatch) (runs.Started, error) {
	return runs.Started{}, nil
}

func (started) Find(context.Context, runs.Dispatch, time.Time) (runs.Started, bool, error) {
	return runs.Started{}, false, nil
}

// newRunsFixture serves catalog-example's actions with a run engine
// over the fixture's store; dispatches always start.
func newRunsFixture(t *testing.T, with ...func(*fixture, *Options)) (*fixture, *runs.Engine) {
	t.Helper()
	var eng *runs.Engine
	f := newFixture(t, false, append(with, func(f *fixture, o *Options) {
		runURL := func(id string) string { return "http://pier/v1/actions/runs/" + id }
		eng = runs.New(f.st, runs.Options{
			Catalog: f.holder.Load,
			Systems: func(name string) (approval.System, error) {
				if name == approval.InApp {
					return approval.InAppSystem{RunURL: runURL}, nil
				}
				return nil, fmt.Errorf("no system %s", name)
			},
			Dispatchers: map[string]runs.Dispatcher{"GITHUB": started{}, "WEBHOOK": started{}},
			BaseURL:     "http://pier",
		})
		o.Runs = eng
	})...)
	f.token = f.login(t)
	return f, eng
}

// requestRun asks for a run of create_repository (no approval) or
// request_database_access (approval in pier) and advances it.
func (f *fixture) requestRun(t *testing.T, eng *runs.Engine, action string) string {
	t.Helper()
	body := map[string]map[string]any{
		"create_repository":       {"properties": map[string]any{"name": "ledger-tools", "template": "library", "team": "platform"}},
		"request_database_access": {"entity": "ledger-db-prod", "properties": map[string]any{"reason": "incident 4711 follow-up"}},
	}[action]
	code, out := f.do(t, "POST", "/v1/actions/"+action+"/runs", f.token, body)
	if code != http.StatusAccepted {
		t.Fatalf("request %s: %d %v", action, code, out)
	}
	id := out["run"].(map[string]any)["id"].(string)
	if err := eng.Advance(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestRunLogs(t *testing.T) {
	tests := []struct {
		name   string
		action string
		body   map[string]any
		code   int
		// status and label the run has afterwards; lines its log lines.
		status, label string
		lines         int
	}{
		{"a line", "create_repository", map[string]any{"message": "cloning"},
			http.StatusCreated, "DISPATCHED", "", 1},
		{"a line and a label", "create_repository", map[string]any{"message": "cloning", "statusLabel": "Cloning"},
			http.StatusCreated, "IN_PROGRESS", "Cloning", 1},
		{"termination with a label ends the run, labelled", "create_repository", map[string]any{"message": "done", "terminationStatus": "success", "statusLabel": "Created"},
			http.StatusCreated, "SUCCESS", "Created", 1},
		{"termination as failure", "create_repository", map[string]any{"message": "no quota", "terminationStatus": "FAILURE"},
			http.StatusCreated, "FAILURE", "", 1},
		{"an unknown termination stores nothing", "create_repository", map[string]any{"message": "done", "terminationStatus": "DONE"},
			http.StatusUnprocessableEntity, "DISPATCHED", "", 0},
		{"a run waiting for approval takes no line", "request_database_access", map[string]any{"message": "hello"},
			http.StatusConflict, "WAITING_FOR_APPROVAL", "", 0},
		{"nor a termination", "request_database_access", map[string]any{"message": "done", "terminationStatus": "SUCCESS", "statusLabel": "Granted"},
			http.StatusConflict, "WAITING_FOR_APPROVAL", "", 0},
	}
	f, eng := newRunsFixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := f.requestRun(t, eng, tt.action)
			code, out := f.do(t, "POST", "/v1/actions/runs/"+id+"/logs", f.token, tt.body)
			if code != tt.code {
				t.Fatalf("POST logs: %d %v, want %d", code, out, tt.code)
			}
			_, out = f.do(t, "GET", "/v1/actions/runs/"+id, f.token, nil)
			run := out["run"].(map[string]any)
			if label, _ := run["statusLabel"].(string); run["lifecycle"] != tt.status || label != tt.label {
				t.Fatalf("run %v %v, want %s %q", run["lifecycle"], run["statusLabel"], tt.status, tt.label)
			}
			_, out = f.do(t, "GET", "/v1/actions/runs/"+id+"/logs", f.token, nil)
			if lines := out["runLogs"].([]any); len(lines) != tt.lines {
				t.Fatalf("%d log lines %v, want %d", len(lines), lines, tt.lines)
			}
		})
	}
}

// TestPaging pages through each listing that pages with ?limit and
// ?before: the pages, followed by "next", are the whole list, and only
// the last has no next.
func TestPaging(t *testing.T) {
	f, eng := newRunsFixture(t)
	for range 3 {
		f.requestRun(t, eng, "create_repository")
	}
	tests := []struct {
		path, key string
		size      int // the page size: less than the whole list
		id        func(item map[string]any) string
	}{
		{"/v1/actions/runs", "runs", 2, func(it map[string]any) string { return it["id"].(string) }},
		{"/v1/scorecards/production_readiness/history", "history", 5, func(it map[string]any) string { return fmt.Sprint(it["id"]) }},
		{"/v1/blueprints/service/entities/payments-api/scorecards/history", "history", 1, func(it map[string]any) string { return fmt.Sprint(it["id"]) }},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			page := func(query string) (ids []string, next string) {
				t.Helper()
				code, out := f.do(t, "GET", tt.path+"?"+query, f.token, nil)
				if code != http.StatusOK {
					t.Fatalf("%s?%s: %d %v", tt.path, query, code, out)
				}
				for _, it := range out[tt.key].([]any) {
					ids = append(ids, tt.id(it.(map[string]any)))
				}
				if n, ok := out["next"]; ok {
					next = n.(string)
				}
				return ids, next
			}
			all, next := page("")
			if len(all) <= tt.size || next != "" {
				t.Fatalf("whole list %v next %q: want more than %d items and no next", all, next, tt.size)
			}
			// Beyond the most, limit is clamped rather than refused.
			if got, next := page("limit=5000"); !slices.Equal(got, all) || next != "" {
				t.Fatalf("limit=5000: %v next %q, want %v", got, next, all)
			}
			var paged []string
			limit := fmt.Sprintf("limit=%d", tt.size)
			query := limit
			for n := 0; ; n++ {
				ids, next := page(query)
				paged = append(paged, ids...)
				if (next != "") != (len(ids) == tt.size) || next != "" && next != ids[len(ids)-1] {
					t.Fatalf("page %d %v: next %q", n, ids, next)
				}
				if next == "" || n > len(all) {
					break
				}
				query = limit + "&before=" + url.QueryEscape(next)
			}
			if !slices.Equal(paged, all) {
				t.Fatalf("pages of %d hold %s, want %s", tt.size, strings.Join(paged, " "), strings.Join(all, " "))
			}
		})
	}
}

// TestRunsDefaultPage: without ?limit a page is 100 runs, and a full
// page says where the next starts.
func TestRunsDefaultPage(t *testing.T) {
	f, _ := newRunsFixture(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for i := range 101 {
		at := t0.Add(time.Duration(i) * time.Second)
		run := store.Run{ID: fmt.Sprintf("r_page%03d", i), Action: "create_repository", Requester: "ci", Source: "api",
			Status: store.RunApproved, CreatedAt: at, UpdatedAt: at}
		if _, _, err := f.st.CreateRun(ctx, run, store.RunEvent{At: at, Actor: "ci", To: store.RunApproved}, nil); err != nil {
			t.Fatal(err)
		}
	}
	code, out := f.do(t, "GET", "/v1/actions/runs", f.token, nil)
	if code != http.StatusOK || len(out["runs"].([]any)) != 100 || out["next"] != "r_page001" {
		t.Fatalf("first page: %d, %d runs, next %v", code, len(out["runs"].([]any)), out["next"])
	}
	code, out = f.do(t, "GET", "/v1/actions/runs?before=r_page001", f.token, nil)
	if runs := out["runs"].([]any); code != http.StatusOK || len(runs) != 1 || runs[0].(map[string]any)["id"] != "r_page000" || out["next"] != nil {
		t.Fatalf("second page: %d %v", code, out)
	}
}

// Port's run paths overlap (/v1/actions/{id}/runs and
// /v1/actions/runs/{run}); another method on either is still a 405.
func TestRunPathsAnswerOtherMethods(t *testing.T) {
	f, _ := newRunsFixture(t)
	methodNotAllowed(t, f, "DELETE", "/v1/actions/runs/r_1", "GET, PATCH")
	methodNotAllowed(t, f, "GET", "/v1/actions/deploy/runs", "POST")
	methodNotAllowed(t, f, "PUT", "/v1/actions/runs", "GET")
}
