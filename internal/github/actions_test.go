package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gogithub "github.com/google/go-github/v62/github"

	"github.com/pierhq/pier/internal/githubfake"
)

func TestDispatchWorkflow(t *testing.T) {
	inputs := map[string]string{"port_run_id": "r_1", "env": "prod"}
	for _, tc := range []struct {
		name     string
		mode     githubfake.DispatchMode
		known    bool // the run comes back
		requests int
	}{
		{"returns the run", githubfake.DispatchReturnsRun, true, 1},
		{"204 from an older server", githubfake.DispatchNoContent, false, 1},
		{"400 to the field, then again without", githubfake.DispatchRejectsField, false, 2},
	} {
		c, f := newFake(t)
		f.AddWorkflow("octo-org", "catalog", "deploy.yml")
		f.SetDispatchMode(tc.mode)
		run, known, err := c.DispatchWorkflow(context.Background(), "octo-org", "catalog", "deploy.yml", "main", inputs)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		d := f.Dispatches("octo-org", "catalog")
		if len(d) != 1 || fmt.Sprint(d[0].Inputs) != fmt.Sprint(inputs) || d[0].Ref != "main" {
			t.Errorf("%s: dispatches %+v, want exactly one", tc.name, d)
			continue
		}
		want := WorkflowRun{}
		if tc.known {
			want = WorkflowRun{ID: d[0].RunID, HTMLURL: fmt.Sprintf("https://github.com/octo-org/catalog/actions/runs/%d", d[0].RunID)}
		}
		if known != tc.known || run != want {
			t.Errorf("%s: %+v, %v; want %+v, %v", tc.name, run, known, want, tc.known)
		}
		reqs := f.Requests()
		if len(reqs) != tc.requests {
			t.Errorf("%s: %d requests, want %d", tc.name, len(reqs), tc.requests)
		}
		for i, r := range reqs {
			var body map[string]any
			json.Unmarshal(r.Body, &body)
			if first := i == 0; (body["return_run_details"] == true) != first || body["ref"] != "main" {
				t.Errorf("%s: request %d body %s", tc.name, i, r.Body)
			}
		}
	}
}

func TestDispatchWorkflowErrors(t *testing.T) {
	many := map[string]string{}
	for i := range 26 {
		many[fmt.Sprint("in", i)] = "v"
	}
	for _, tc := range []struct {
		name     string
		setup    func(*githubfake.Fake)
		workflow string
		ref      string
		inputs   map[string]string
		unknown  bool
		notFound bool
		requests int
		text     string
	}{
		{"26 inputs", nil, "deploy.yml", "main", many, false, false, 0, "26 inputs"},
		{"no ref", nil, "deploy.yml", "", nil, false, false, 0, "required"},
		{"unknown ref: no retry", nil, "deploy.yml", "nope", nil, false, false, 1, "No ref found for: nope"},
		{"unknown workflow", nil, "nope.yml", "main", nil, false, true, 1, "dispatch workflow nope.yml on octo-org/catalog@main"},
		{"502", func(f *githubfake.Fake) { f.FailNext("POST", "/repos/octo-org/catalog/actions/", 502) }, "deploy.yml", "main", nil, true, false, 1, "may have been dispatched"},
		{"400, then 503 on the retry", func(f *githubfake.Fake) {
			f.FailNext("POST", "/repos/octo-org/catalog/actions/", 400)
			f.FailNext("POST", "/repos/octo-org/catalog/actions/", 503)
		}, "deploy.yml", "main", nil, true, false, 2, "503"},
	} {
		c, f := newFake(t)
		f.AddWorkflow("octo-org", "catalog", "deploy.yml")
		if tc.setup != nil {
			tc.setup(f)
		}
		_, _, err := c.DispatchWorkflow(context.Background(), "octo-org", "catalog", tc.workflow, tc.ref, tc.inputs)
		switch {
		case err == nil:
			t.Errorf("%s: no error", tc.name)
		case DispatchUnknown(err) != tc.unknown:
			t.Errorf("%s: DispatchUnknown(%v) = %v", tc.name, err, !tc.unknown)
		case errors.Is(err, ErrNotFound) != tc.notFound:
			t.Errorf("%s: %v, ErrNotFound %v", tc.name, err, tc.notFound)
		case !strings.Contains(err.Error(), tc.text):
			t.Errorf("%s: error %q lacks %q", tc.name, err, tc.text)
		}
		if n := len(f.Requests()); n != tc.requests {
			t.Errorf("%s: %d requests, want %d", tc.name, n, tc.requests)
		}
		if d := f.Dispatches("octo-org", "catalog"); len(d) != 0 {
			t.Errorf("%s: dispatched %+v", tc.name, d)
		}
	}
	if DispatchUnknown(nil) || DispatchUnknown(errors.New("x")) {
		t.Error("DispatchUnknown of nil or a foreign error")
	}
}

func TestRejectsRunDetails(t *testing.T) {
	answer := func(code int, msg string, errs ...gogithub.Error) error {
		return fmt.Errorf("wrapped: %w", &gogithub.ErrorResponse{Response: &http.Response{StatusCode: code}, Message: msg, Errors: errs})
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"400", answer(400, "Bad Request"), true},
		{"422 naming the field", answer(422, "Invalid request.\n\n\"return_run_details\" is not a permitted key."), true},
		{"422 with the field in errors", answer(422, "Validation Failed", gogithub.Error{Field: "return_run_details", Code: "invalid"}), true},
		{"422 about the ref", answer(422, "No ref found for: x"), false},
		{"404", answer(404, "Not Found"), false},
		{"no answer", errors.New("connection reset"), false},
		{"nil", nil, false},
	} {
		if got := rejectsRunDetails(tc.err); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDispatchWorkflowNoAnswer(t *testing.T) {
	// The request may have reached GitHub before the connection broke.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
	}))
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.DispatchWorkflow(context.Background(), "o", "r", "deploy.yml", "main", nil)
	if err == nil || !DispatchUnknown(err) {
		t.Errorf("err %v, DispatchUnknown %v", err, DispatchUnknown(err))
	}
}

func TestFindWorkflowRun(t *testing.T) {
	c, f := newFake(t)
	ctx := context.Background()
	now := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	f.SetNow(func() time.Time { return now })
	f.SetRunName("octo-org", "catalog", "deploy.yml", "Deploy ${{ inputs.port_run_id }}")
	f.SetDispatchMode(githubfake.DispatchNoContent)
	dispatch := func(runID string) {
		t.Helper()
		if _, _, err := c.DispatchWorkflow(ctx, "octo-org", "catalog", "deploy.yml", "main", map[string]string{"port_run_id": runID}); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
	}
	dispatch("r_old") // before since
	since := now
	dispatch("r_1")
	for i := range 110 { // more than a page of 100
		dispatch(fmt.Sprint("other-", i))
	}
	dispatch("r_1") // a second run for r_1: the newest wins
	d := f.Dispatches("octo-org", "catalog")
	newest := d[len(d)-1].RunID

	before := len(f.Requests())
	run, ok, err := c.FindWorkflowRun(ctx, "octo-org", "catalog", "deploy.yml", "r_1", since)
	if err != nil || !ok || run.ID != newest || run.DisplayTitle != "Deploy r_1" || run.Status != "queued" || run.Event != "workflow_dispatch" || run.HeadBranch != "main" {
		t.Fatalf("FindWorkflowRun(r_1) = %+v, %v, %v; want run %d", run, ok, err, newest)
	}
	reqs := f.Requests()[before:]
	if len(reqs) != 2 || !strings.Contains(reqs[0].RawQuery, "event=workflow_dispatch") || !strings.Contains(reqs[0].RawQuery, "created=%3E%3D2026-04-01T08%3A00%3A01Z") {
		t.Errorf("requests %+v", reqs)
	}

	for _, tc := range []struct {
		name, match string
		since       time.Time
		found       bool
	}{
		{"before since", "r_old", since, false},
		{"without since", "r_old", time.Time{}, true},
		{"never dispatched", "r_2", since, false},
	} {
		_, ok, err := c.FindWorkflowRun(ctx, "octo-org", "catalog", "deploy.yml", tc.match, tc.since)
		if err != nil || ok != tc.found {
			t.Errorf("%s: %v, %v; want %v", tc.name, ok, err, tc.found)
		}
	}
	_, _, err = c.FindWorkflowRun(ctx, "octo-org", "catalog", "nope.yml", "r_1", since)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "list runs of workflow nope.yml in octo-org/catalog") {
		t.Errorf("unknown workflow: %v", err)
	}
}

func TestWorkflowRun(t *testing.T) {
	c, f := newFake(t)
	ctx := context.Background()
	f.SetRunName("octo-org", "catalog", "deploy.yml", "Deploy ${{ inputs.port_run_id }}")
	dispatched, _, err := c.DispatchWorkflow(ctx, "octo-org", "catalog", "deploy.yml", "main", map[string]string{"port_run_id": "r_9"})
	if err != nil {
		t.Fatal(err)
	}
	f.SetRunStatus("octo-org", "catalog", dispatched.ID, "completed", "failure")
	want, _ := f.Run("octo-org", "catalog", dispatched.ID)

	run, err := c.WorkflowRun(ctx, "octo-org", "catalog", dispatched.ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.ID != want.ID || run.Name != want.Name || run.DisplayTitle != "Deploy r_9" || run.Status != "completed" || run.Conclusion != "failure" ||
		run.HTMLURL != dispatched.HTMLURL || run.HeadSHA != want.HeadSHA || run.HeadBranch != "main" || run.Event != "workflow_dispatch" ||
		!run.CreatedAt.Equal(want.CreatedAt) || !run.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("WorkflowRun = %+v, fake has %+v", run, want)
	}
	if _, err := c.WorkflowRun(ctx, "octo-org", "catalog", 12345); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "workflow run 12345 of octo-org/catalog") {
		t.Errorf("missing run: %v", err)
	}
}
