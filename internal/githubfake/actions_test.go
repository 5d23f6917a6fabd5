package githubfake

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
)

func TestDispatchModes(t *testing.T) {
	const withField = `{"ref":"main","inputs":{"port_run_id":"r_1"},"return_run_details":true}`
	const without = `{"ref":"main","inputs":{"port_run_id":"r_1"}}`
	for _, tc := range []struct {
		name string
		mode DispatchMode
		body string
		code int
		runs int
	}{
		{"returns run", DispatchReturnsRun, withField, 200, 1},
		{"returns run, field false", DispatchReturnsRun, strings.Replace(withField, "true", "false", 1), 204, 1},
		{"returns run, no field", DispatchReturnsRun, without, 204, 1},
		{"no content", DispatchNoContent, withField, 204, 1},
		{"rejects field", DispatchRejectsField, withField, 400, 0},
		{"rejects field, no field", DispatchRejectsField, without, 204, 1},
	} {
		f, _ := setupRepo(t)
		f.AddWorkflow("octo-org", "catalog", "deploy.yml")
		f.SetDispatchMode(tc.mode)
		code, _, got := post(t, f, "/repos/octo-org/catalog/actions/workflows/deploy.yml/dispatches", tc.body)
		d := f.Dispatches("octo-org", "catalog")
		if code != tc.code || len(d) != tc.runs {
			t.Errorf("%s: %d, %d dispatches; want %d, %d (%v)", tc.name, code, len(d), tc.code, tc.runs, got)
			continue
		}
		switch code {
		case 200:
			id := strconv.FormatInt(d[0].RunID, 10)
			want := map[string]any{
				"workflow_run_id": float64(d[0].RunID),
				"run_url":         f.URL() + "/repos/octo-org/catalog/actions/runs/" + id,
				"html_url":        "https://github.com/octo-org/catalog/actions/runs/" + id,
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: %v, want %v", tc.name, got, want)
			}
		case 204:
			if got != nil {
				t.Errorf("%s: body %v", tc.name, got)
			}
		case 400:
			if !strings.Contains(got["message"].(string), "return_run_details") {
				t.Errorf("%s: message %q does not name the field", tc.name, got["message"])
			}
		}
	}
}

func TestDispatchErrors(t *testing.T) {
	f, _ := setupRepo(t)
	f.AddWorkflow("octo-org", "catalog", "deploy.yml")
	many := make([]string, 26)
	for i := range many {
		many[i] = fmt.Sprintf(`"i%d":"v"`, i)
	}
	for _, tc := range []struct {
		name, path, body string
		code             int
		message          string
	}{
		{"unknown workflow", "other.yml", `{"ref":"main"}`, 404, "Not Found"},
		{"no ref", "deploy.yml", `{}`, 422, "Invalid request.\n\n\"ref\" wasn't supplied."},
		{"unknown ref", "deploy.yml", `{"ref":"nope"}`, 422, "No ref found for: nope"},
		{"26 inputs", "deploy.yml", `{"ref":"main","inputs":{` + strings.Join(many, ",") + `}}`, 422, "you may only define up to 25 `inputs` for a workflow_dispatch event"},
		{"number input", "deploy.yml", `{"ref":"main","inputs":{"n":1}}`, 422, "Invalid request.\n\nFor 'properties/n', 1 is not a string."},
		{"bad JSON", "deploy.yml", `{"ref":`, 400, "Problems parsing JSON"},
	} {
		code, _, got := post(t, f, "/repos/octo-org/catalog/actions/workflows/"+tc.path+"/dispatches", tc.body)
		if code != tc.code || got["message"] != tc.message {
			t.Errorf("%s: %d %q, want %d %q", tc.name, code, got["message"], tc.code, tc.message)
		}
	}
	if d := f.Dispatches("octo-org", "catalog"); len(d) != 0 {
		t.Errorf("dispatches %v", d)
	}
	// 25 inputs are fine, and refs/heads/ is accepted.
	if code, _, got := post(t, f, "/repos/octo-org/catalog/actions/workflows/deploy.yml/dispatches",
		`{"ref":"refs/heads/main","inputs":{`+strings.Join(many[:25], ",")+`}}`); code != 204 {
		t.Errorf("25 inputs: %d %v", code, got)
	}
}

func TestWorkflowRuns(t *testing.T) {
	f, c := setupRepo(t)
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	f.SetNow(func() time.Time { return now })
	f.SetRunName("octo-org", "catalog", "deploy.yml", "Deploy ${{ inputs.port_run_id }}")
	f.AddWorkflow("octo-org", "catalog", "other.yml")
	main, _ := f.Branch("octo-org", "catalog", "main")
	f.Commit("octo-org", "catalog", "staging", nil)

	dispatch := func(workflow, ref string, inputs map[string]any) {
		t.Helper()
		_, err := c.Actions.CreateWorkflowDispatchEventByFileName(ctx, "octo-org", "catalog", workflow,
			github.CreateWorkflowDispatchEventRequest{Ref: ref, Inputs: inputs})
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
	}
	dispatch("deploy.yml", "main", map[string]any{"port_run_id": "r_1", "env": "prod"})
	dispatch("deploy.yml", "staging", map[string]any{"env": "staging"})
	dispatch("other.yml", "main", nil)
	dispatch("deploy.yml", "main", map[string]any{"port_run_id": "r_2"})
	d := f.Dispatches("octo-org", "catalog")
	if len(d) != 4 || d[0].Workflow != "deploy.yml" || d[0].Inputs["env"] != "prod" || d[1].Ref != "staging" {
		t.Fatalf("dispatches %+v", d)
	}
	deployID := func() int64 {
		run, _ := f.Run("octo-org", "catalog", d[0].RunID)
		return run.WorkflowID
	}()

	run, _, err := c.Actions.GetWorkflowRunByID(ctx, "octo-org", "catalog", d[0].RunID)
	if err != nil {
		t.Fatal(err)
	}
	if run.GetDisplayTitle() != "Deploy r_1" || run.GetStatus() != "queued" || run.Conclusion != nil || run.GetEvent() != "workflow_dispatch" ||
		run.GetHeadBranch() != "main" || run.GetHeadSHA() != main || run.GetName() != ".github/workflows/deploy.yml" ||
		run.GetHTMLURL() != "https://github.com/octo-org/catalog/actions/runs/"+strconv.FormatInt(d[0].RunID, 10) ||
		run.GetRunNumber() != 1 || !run.GetCreatedAt().Time.Equal(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)) || run.GetActor().GetLogin() != "octocat" {
		t.Errorf("run %+v", run)
	}
	if run, _ := f.Run("octo-org", "catalog", d[1].RunID); run.DisplayTitle != "Deploy" || run.RunNumber != 2 {
		t.Errorf("run without a run id: %+v", run)
	}
	f.SetRunStatus("octo-org", "catalog", d[0].RunID, "completed", "success")
	if run, _, _ := c.Actions.GetWorkflowRunByID(ctx, "octo-org", "catalog", d[0].RunID); run.GetStatus() != "completed" || run.GetConclusion() != "success" {
		t.Errorf("after SetRunStatus: %s %s", run.GetStatus(), run.GetConclusion())
	}
	if _, _, err := c.Actions.GetWorkflowRunByID(ctx, "octo-org", "catalog", 999); !is(err, 404) {
		t.Errorf("unknown run: %v", err)
	}

	titles := func(opts *github.ListWorkflowRunsOptions, workflow string) string {
		t.Helper()
		runs, _, err := c.Actions.ListWorkflowRunsByFileName(ctx, "octo-org", "catalog", workflow, opts)
		if err != nil {
			return err.Error()
		}
		var out []string
		for _, r := range runs.WorkflowRuns {
			out = append(out, r.GetDisplayTitle())
		}
		return fmt.Sprintf("%d %s", runs.GetTotalCount(), strings.Join(out, ","))
	}
	for _, tc := range []struct {
		name     string
		opts     github.ListWorkflowRunsOptions
		workflow string
		want     string
	}{
		{"all, newest first", github.ListWorkflowRunsOptions{}, "deploy.yml", "3 Deploy r_2,Deploy,Deploy r_1"},
		{"by id", github.ListWorkflowRunsOptions{}, strconv.FormatInt(deployID, 10), "3 Deploy r_2,Deploy,Deploy r_1"},
		{"branch", github.ListWorkflowRunsOptions{Branch: "staging"}, "deploy.yml", "1 Deploy"},
		{"event", github.ListWorkflowRunsOptions{Event: "push"}, "deploy.yml", "0 "},
		{"status", github.ListWorkflowRunsOptions{Status: "queued"}, "deploy.yml", "2 Deploy r_2,Deploy"},
		{"conclusion", github.ListWorkflowRunsOptions{Status: "success"}, "deploy.yml", "1 Deploy r_1"},
		{"created >=", github.ListWorkflowRunsOptions{Created: ">=2026-05-01T10:01:00Z"}, "deploy.yml", "2 Deploy r_2,Deploy"},
		{"created >", github.ListWorkflowRunsOptions{Created: ">2026-05-01T10:01:00Z"}, "deploy.yml", "1 Deploy r_2"},
		{"created range", github.ListWorkflowRunsOptions{Created: "2026-05-01T10:00:30Z..2026-05-01T10:02:00Z"}, "deploy.yml", "1 Deploy"},
		{"created day", github.ListWorkflowRunsOptions{Created: "2026-05-01"}, "deploy.yml", "3 Deploy r_2,Deploy,Deploy r_1"},
		{"other workflow", github.ListWorkflowRunsOptions{}, "other.yml", "1 .github/workflows/other.yml"},
	} {
		if got := titles(&tc.opts, tc.workflow); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := titles(&github.ListWorkflowRunsOptions{Created: "yesterday"}, "deploy.yml"); !strings.Contains(got, "422") {
		t.Errorf("bad created: %s", got)
	}
	if got := titles(nil, "missing.yml"); !strings.Contains(got, "404") {
		t.Errorf("unknown workflow: %s", got)
	}

	// Pages keep the filters.
	runs, resp, err := c.Actions.ListWorkflowRunsByFileName(ctx, "octo-org", "catalog", "deploy.yml",
		&github.ListWorkflowRunsOptions{Event: "workflow_dispatch", ListOptions: github.ListOptions{PerPage: 2}})
	if err != nil || len(runs.WorkflowRuns) != 2 || runs.GetTotalCount() != 3 || resp.NextPage != 2 || !strings.Contains(resp.Header.Get("Link"), "event=workflow_dispatch") {
		t.Errorf("page 1: %v, Link %q", err, resp.Header.Get("Link"))
	}
}

func TestDateRange(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	for _, tc := range []struct {
		q    string
		t    string
		want bool
	}{
		{"", "2026-05-01T10:00:00Z", true},
		{">=2026-05-01T10:00:00Z", "2026-05-01T10:00:00Z", true},
		{">=2026-05-01T10:00:00Z", "2026-05-01T09:59:59Z", false},
		{">2026-05-01T10:00:00Z", "2026-05-01T10:00:00Z", false},
		{"<2026-05-01T10:00:00Z", "2026-05-01T09:59:59Z", true},
		{"<=2026-05-01", "2026-05-01T23:59:59Z", true},
		{"<=2026-05-01", "2026-05-02T00:00:00Z", false},
		{">2026-05-01", "2026-05-01T23:59:59Z", false},
		{"2026-05-01..*", "2030-01-01T00:00:00Z", true},
		{"*..2026-05-01", "2026-05-02T00:00:00Z", false},
		{">=2026-05-01T12:00:00+02:00", "2026-05-01T10:00:00Z", true},
	} {
		match, err := dateRange(tc.q)
		if err != nil {
			t.Errorf("%q: %v", tc.q, err)
			continue
		}
		if got := match(at(tc.t)); got != tc.want {
			t.Errorf("%q matches %s: %v, want %v", tc.q, tc.t, got, tc.want)
		}
	}
	for _, bad := range []string{"yesterday", ">=", "2026-05-01..later"} {
		if _, err := dateRange(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
