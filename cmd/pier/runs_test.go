package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/githubfake/examples"

	"github.com/pierhq/pier/internal/githubfake"
	"github.com/pierhq/pier/internal/outbox"
	"github.com/pierhq/pier/internal/runs"
)

const runsCatalog = `
blueprints: environment: {
	title: "Environment"
	schema: properties: type: {type: "string", enum: ["production", "ephemeral"]}
}
entities: environment: "preview-42": properties: type: "ephemeral"

// The seed's TTL: up to 5 days runs at once, more needs the platform team.
actions: extend_ttl: {
	title: "Extend TTL"
	trigger: {
		type: "self-service", operation: "DAY-2", blueprintIdentifier: "environment"
		userInputs: {properties: days: {type: "number", minimum: 1, maximum: 30}, required: ["days"]}
	}
	approval: {
		approvals: 1
		approvers: teams: ["platform"]
		when: {combinator: "and", rules: [{property: "days", operator: ">", value: 5}]}
	}
	invocationMethod: {
		type: "GITHUB", org: "acme", repo: "workflows", workflow: "extend.yml"
		workflowInputs: {pier_run_id: "{{ .run.id }}", environment: "{{ .entity.identifier }}", days: "{{ .inputs.days }}"}
	}
}
actions: hasty: {
	trigger: {type: "self-service", operation: "CREATE", blueprintIdentifier: "environment"}
	approval: {approvals: 1, expiresIn: "2s"}
	invocationMethod: {type: "GITHUB", org: "acme", repo: "workflows", workflow: "extend.yml"}
}
`

const (
	runsWebhookSecret = "hook-secret"
	runsClientSecret  = "alice-secret"
)

type runsEnv struct {
	t      *testing.T
	fake   *githubfake.Fake
	repo   *gitRepo
	td     *testDaemon
	db     string
	token  string
	extra  []string
	config string
	// repoURL is where pier fetches the catalog (file:// the bare
	// repository); auth its GitHub credentials' options.
	repoURL string
	auth    []string
}

// newRunsEnv is a catalog repository (git, over file://), the GitHub
// fake standing in for github.com (the catalog as acme/catalog, the
// workflows repository, the platform team) and pier serving both.
func newRunsEnv(t *testing.T, extra ...string) *runsEnv {
	t.Helper()
	return newRunsEnvWith(t, runsCatalog, extra...)
}

func newRunsEnvWith(t *testing.T, catalogSrc string, extra ...string) *runsEnv {
	t.Helper()
	e := newRunsFixture(t, catalogSrc, extra...)
	e.fake.RequireToken("ghs_runs")
	e.auth = []string{"--github-token", "ghs_runs"}
	e.start()
	return e
}

// newRunsFixture is newRunsEnvWith without credentials, and not started.
func newRunsFixture(t *testing.T, catalogSrc string, extra ...string) *runsEnv {
	t.Helper()
	f := githubfake.New()
	t.Cleanup(f.Close)
	f.AddRepo("acme", "catalog")
	f.AddRepo("acme", "workflows")
	f.SetRunName("acme", "workflows", "extend.yml", "Extend TTL ${{ inputs.pier_run_id || inputs.port_run_id }}")
	f.AddTeamMember("acme", "platform", "pat", "active")
	f.AddTeamMember("acme", "platform", "sam", "active")
	e := &runsEnv{t: t, fake: f, repo: newGitRepo(t), db: filepath.Join(t.TempDir(), "pier.db"), extra: extra}
	// alice's client acts for alice: runs she asks for are hers, and her
	// own review on GitHub does not approve them.
	e.config = filepath.Join(filepath.Dir(e.db), "pier.yaml")
	if err := os.WriteFile(e.config, []byte("clients:\n  - clientId: alice\n    clientSecret: "+runsClientSecret+"\n    login: alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.repoURL = "file://" + e.repo.bare
	e.repo.commit("catalog", map[string]string{"catalog.cue": catalogSrc})
	f.Commit("acme", "catalog", "main", map[string][]byte{"catalog.cue": []byte(catalogSrc)})
	return e
}

func (e *runsEnv) args() []string {
	args := []string{
		"--repo", e.repoURL, "--db", e.db, "--cache-dir", filepath.Join(filepath.Dir(e.db), "git"),
		"--github-api-url", e.fake.URL(), "--github-web-url", e.fake.URL(), "--github-repo", "acme/catalog",
		"--webhook-secret", runsWebhookSecret, "--config", e.config,
		"--anonymous-reads",
	}
	return append(append(args, e.auth...), e.extra...)
}

func (e *runsEnv) start() {
	e.t.Helper()
	e.td = startDaemon(e.t, e.args()...)
	e.td.waitFor(e.t, "the catalog", func(st map[string]any) bool {
		return st["lastAppliedRevision"] != nil && st["lastAppliedRevision"] != ""
	})
	code, body := e.call("POST", "/v1/auth/access_token", "", map[string]any{"clientId": "alice", "clientSecret": runsClientSecret})
	if code != 200 {
		e.t.Fatalf("token: %d %v", code, body)
	}
	e.token = body["accessToken"].(string)
}

func (e *runsEnv) call(method, path, token string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, e.td.url+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// request asks for a run through Port's API.
func (e *runsEnv) request(action, entity string, inputs map[string]any) map[string]any {
	e.t.Helper()
	body := map[string]any{"properties": inputs}
	if entity != "" {
		body["entity"] = entity
	}
	code, out := e.call("POST", "/v1/actions/"+action+"/runs", e.token, body)
	if code != http.StatusAccepted {
		e.t.Fatalf("request %s: %d %v", action, code, out)
	}
	return out["run"].(map[string]any)
}

func (e *runsEnv) run(id string) map[string]any {
	e.t.Helper()
	code, out := e.call("GET", "/v1/actions/runs/"+id, "", nil)
	if code != 200 {
		e.t.Fatalf("get run %s: %d %v", id, code, out)
	}
	return out["run"].(map[string]any)
}

// waitRun waits until the run satisfies cond.
func (e *runsEnv) waitRun(id, what string, cond func(run map[string]any) bool) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		run := e.run(id)
		if cond(run) {
			return run
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for run %s to be %s: %v", id, what, run)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *runsEnv) waitStatus(id, status string) map[string]any {
	e.t.Helper()
	return e.waitRun(id, status, func(r map[string]any) bool { return r["lifecycle"] == status })
}

// pullRequest waits for the run's pull request and returns its number.
func (e *runsEnv) pullRequest(id string) int {
	e.t.Helper()
	run := e.waitRun(id, "with a pull request", func(r map[string]any) bool {
		ap, _ := r["approval"].(map[string]any)
		return ap != nil && ap["ref"] != nil && ap["ref"] != ""
	})
	n, err := strconv.Atoi(run["approval"].(map[string]any)["ref"].(string))
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// example loads one of GitHub's webhook payloads and lets the test
// change what it needs.
func (e *runsEnv) example(name string, edit func(p map[string]any)) []byte {
	e.t.Helper()
	var p map[string]any
	if err := json.Unmarshal(examples.Load(name), &p); err != nil {
		e.t.Fatal(err)
	}
	repo := p["repository"].(map[string]any)
	repo["name"], repo["full_name"] = "catalog", "acme/catalog"
	repo["owner"].(map[string]any)["login"] = "acme"
	edit(p)
	out, _ := json.Marshal(p)
	return out
}

// deliverHook posts a signed webhook and expects it accepted.
func (e *runsEnv) deliverHook(event string, body []byte) {
	e.t.Helper()
	code, out := e.td.deliver(e.t, event, fmt.Sprintf("runs-%d", deliveries.Add(1)), body, runsWebhookSecret)
	if code != http.StatusOK && code != http.StatusAccepted && code != http.StatusNoContent {
		e.t.Fatalf("webhook %s: %d %v", event, code, out)
	}
}

// review submits a review on GitHub and delivers the webhook GitHub
// would send for it.
func (e *runsEnv) review(n int, user, state string) {
	e.t.Helper()
	e.fake.Review("acme", "catalog", n, user, state)
	pr, _ := e.fake.PullRequest("acme", "catalog", n)
	e.deliverHook("pull_request_review", e.example("pull_request_review.submitted.json", func(p map[string]any) {
		rv := p["review"].(map[string]any)
		rv["state"], rv["commit_id"] = strings.ToLower(state), pr.HeadSHA
		rv["user"].(map[string]any)["login"] = user
		p["pull_request"].(map[string]any)["number"] = n
	}))
}

// workflowRun moves the workflow run on GitHub and delivers the
// workflow_run webhook.
func (e *runsEnv) workflowRun(id int64, status, conclusion string) {
	e.t.Helper()
	e.fake.SetRunStatus("acme", "workflows", id, status, conclusion)
	wr, _ := e.fake.Run("acme", "workflows", id)
	e.deliverHook("workflow_run", e.example("workflow_run.completed.json", func(p map[string]any) {
		p["action"] = map[string]string{"in_progress": "in_progress", "completed": "completed"}[status]
		r := p["workflow_run"].(map[string]any)
		r["id"], r["display_title"], r["status"], r["html_url"] = id, wr.DisplayTitle, status, wr.HTMLURL
		if conclusion == "" {
			r["conclusion"] = nil
		} else {
			r["conclusion"] = conclusion
		}
	}))
}

func statuses(run map[string]any) string {
	var out []string
	for _, ev := range run["events"].([]any) {
		if to, _ := ev.(map[string]any)["to"].(string); to != "" {
			out = append(out, to)
		}
	}
	return strings.Join(out, ",")
}

func TestRunApprovedOnAPullRequest(t *testing.T) {
	e := newRunsEnv(t)
	run := e.request("extend_ttl", "preview-42", map[string]any{"days": 10})
	id := run["id"].(string)
	if run["status"] != "WAITING_FOR_APPROVAL" {
		t.Fatalf("status %v", run["status"])
	}
	n := e.pullRequest(id)
	pr, _ := e.fake.PullRequest("acme", "catalog", n)
	if pr.Head != "pier/run/"+id || !strings.Contains(pr.Body, "@acme/platform") || len(pr.RequestedTeams) != 1 {
		t.Fatalf("pull request %+v", pr)
	}
	if _, ok := e.fake.File("acme", "catalog", pr.Head, "runs/"+id+".json"); !ok {
		t.Fatal("the pull request does not add the run request file")
	}

	// The requester's own approval and an outsider's do not count.
	e.review(n, "alice", "APPROVED")
	e.review(n, "mallory", "APPROVED")
	time.Sleep(200 * time.Millisecond)
	if got := e.run(id)["status"]; got != "WAITING_FOR_APPROVAL" {
		t.Fatalf("approved by the requester or an outsider: %v", got)
	}
	if d := e.fake.Dispatches("acme", "workflows"); len(d) != 0 {
		t.Fatalf("dispatched before approval: %v", d)
	}

	e.review(n, "pat", "APPROVED")
	run = e.waitStatus(id, "DISPATCHED")
	ds := e.fake.Dispatches("acme", "workflows")
	if len(ds) != 1 || ds[0].Inputs["pier_run_id"] != id || ds[0].Inputs["days"] != "10" || ds[0].Inputs["environment"] != "preview-42" {
		t.Fatalf("dispatches %+v", ds)
	}
	if run["link"].([]any)[0] != fmt.Sprintf("https://github.com/acme/workflows/actions/runs/%d", ds[0].RunID) {
		t.Fatalf("link %v", run["link"])
	}
	e.waitRun(id, "with its pull request closed", func(r map[string]any) bool {
		ap := r["approval"].(map[string]any)
		return ap["finishedAt"] != nil
	})
	pr, _ = e.fake.PullRequest("acme", "catalog", n)
	all := strings.Join(pr.Comments, "\n")
	if pr.State != "closed" || !strings.Contains(all, "Approved by @pat") || !strings.Contains(all, "was dispatched") {
		t.Fatalf("pull request after dispatch: %s %q", pr.State, pr.Comments)
	}

	e.workflowRun(ds[0].RunID, "in_progress", "")
	e.waitStatus(id, "IN_PROGRESS")
	e.workflowRun(ds[0].RunID, "completed", "success")
	run = e.waitStatus(id, "SUCCESS")
	if got := statuses(run); got != "WAITING_FOR_APPROVAL,APPROVED,DISPATCHED,IN_PROGRESS,SUCCESS" {
		t.Fatalf("history %s", got)
	}
	// A finished run is frozen.
	if code, _ := e.call("PATCH", "/v1/actions/runs/"+id, e.token, map[string]any{"status": "FAILURE"}); code != http.StatusConflict {
		t.Fatalf("PATCH on a finished run: %d", code)
	}
	if len(e.fake.Dispatches("acme", "workflows")) != 1 {
		t.Fatal("dispatched twice")
	}
	metrics := scrape(t, e.td)
	for _, want := range []string{`pier_action_runs_total{action="extend_ttl",status="SUCCESS"} 1`, `pier_action_approval_wait_seconds_count{action="extend_ttl",outcome="approved"} 1`, `pier_action_dispatch_duration_seconds_count{method="GITHUB"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestRunWithoutApprovalReportedByTheWorkflow(t *testing.T) {
	e := newRunsEnv(t)
	// 422 names the input.
	code, out := e.call("POST", "/v1/actions/extend_ttl/runs", e.token, map[string]any{"entity": "preview-42", "properties": map[string]any{"days": 31}})
	if code != http.StatusUnprocessableEntity || out["field"] != "days" {
		t.Fatalf("bad input: %d %v", code, out)
	}
	run := e.request("extend_ttl", "preview-42", map[string]any{"days": 2})
	id := run["id"].(string)
	e.waitStatus(id, "DISPATCHED")
	// The workflow reports back as it would to Port.
	code, out = e.call("PATCH", "/v1/actions/runs/"+id, e.token, map[string]any{"statusLabel": "Extending", "link": []string{"https://ci.example/1"}})
	if code != 200 || out["run"].(map[string]any)["status"] != "IN_PROGRESS" {
		t.Fatalf("report: %d %v", code, out)
	}
	if code, out = e.call("POST", "/v1/actions/runs/"+id+"/logs", e.token, map[string]any{"message": "extended to Friday"}); code != http.StatusCreated {
		t.Fatalf("log: %d %v", code, out)
	}
	code, out = e.call("POST", "/v1/actions/runs/"+id+"/logs", e.token, map[string]any{"message": "done", "terminationStatus": "SUCCESS"})
	if code != http.StatusCreated || out["run"].(map[string]any)["status"] != "SUCCESS" {
		t.Fatalf("terminating log: %d %v", code, out)
	}
	_, logs := e.call("GET", "/v1/actions/runs/"+id+"/logs", "", nil)
	if n := len(logs["runLogs"].([]any)); n != 2 {
		t.Fatalf("%d logs", n)
	}
	if _, out := e.call("GET", "/v1/actions/runs?action=extend_ttl&status=SUCCESS", "", nil); len(out["runs"].([]any)) != 1 {
		t.Fatalf("list: %v", out)
	}
}

func TestRunDeclinedOnAPullRequest(t *testing.T) {
	e := newRunsEnv(t)
	id := e.request("extend_ttl", "preview-42", map[string]any{"days": 14})["id"].(string)
	n := e.pullRequest(id)
	e.review(n, "mallory", "CHANGES_REQUESTED") // not allowed: ignored
	e.review(n, "sam", "APPROVED")
	e.waitStatus(id, "DISPATCHED")

	id = e.request("extend_ttl", "preview-42", map[string]any{"days": 20})["id"].(string)
	n = e.pullRequest(id)
	e.review(n, "pat", "CHANGES_REQUESTED")
	run := e.waitStatus(id, "DECLINED")
	if by := run["approval"].(map[string]any)["decidedBy"]; by != "pat" {
		t.Fatalf("declined by %v", by)
	}
	e.waitRun(id, "closed", func(r map[string]any) bool { return r["approval"].(map[string]any)["finishedAt"] != nil })
	if pr, _ := e.fake.PullRequest("acme", "catalog", n); pr.State != "closed" || !strings.Contains(strings.Join(pr.Comments, "\n"), "Declined by @pat") {
		t.Fatalf("pull request %+v", pr)
	}
	if got := len(e.fake.Dispatches("acme", "workflows")); got != 1 {
		t.Fatalf("%d dispatches, want only the first run's", got)
	}

	// Closing the pull request declines too (the pull_request webhook is
	// the hint; the state comes from the API).
	id = e.request("extend_ttl", "preview-42", map[string]any{"days": 9})["id"].(string)
	n = e.pullRequest(id)
	e.fake.ClosePR("acme", "catalog", n)
	e.deliverHook("pull_request", e.example("pull_request.closed.json", func(p map[string]any) {
		p["number"] = n
		p["pull_request"].(map[string]any)["number"] = n
	}))
	e.waitStatus(id, "DECLINED")
}

func TestRunApprovalExpires(t *testing.T) {
	e := newRunsEnv(t, "--runs-poll", "@every 1s")
	id := e.request("hasty", "", nil)["id"].(string)
	n := e.pullRequest(id)
	run := e.waitStatus(id, "EXPIRED")
	if !strings.Contains(statuses(run), "WAITING_FOR_APPROVAL,EXPIRED") {
		t.Fatalf("history %s", statuses(run))
	}
	e.waitRun(id, "closed", func(r map[string]any) bool { return r["approval"].(map[string]any)["finishedAt"] != nil })
	if pr, _ := e.fake.PullRequest("acme", "catalog", n); pr.State != "closed" {
		t.Fatalf("pull request still %s", pr.State)
	}
	// A late approval changes nothing.
	e.review(n, "pat", "APPROVED")
	time.Sleep(100 * time.Millisecond)
	if got := e.run(id)["lifecycle"]; got != "EXPIRED" || len(e.fake.Dispatches("acme", "workflows")) != 0 {
		t.Fatalf("late approval: %v", got)
	}
}

func TestRunRequestedByPullRequest(t *testing.T) {
	e := newRunsEnv(t)
	// A person asks for the run GitOps-style: a pull request adding a
	// run request file.
	n := e.askByPullRequest("ask-ttl", "runs/preview-42-ttl.json", `{"action": "extend_ttl", "entity": "preview-42", "properties": {"days": 12}}`)
	var id string
	deadline := time.Now().Add(10 * time.Second)
	for id == "" && time.Now().Before(deadline) {
		_, out := e.call("GET", "/v1/actions/runs?action=extend_ttl", "", nil)
		if rs := out["runs"].([]any); len(rs) == 1 {
			id = rs[0].(map[string]any)["id"].(string)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if id == "" {
		t.Fatal("no run for the pull request")
	}
	run := e.run(id)
	if run["createdBy"] != "kim" || run["origin"] != "pull_request" || run["approval"].(map[string]any)["ref"] != strconv.Itoa(n) {
		t.Fatalf("run %v", run)
	}
	e.review(n, "pat", "APPROVED")
	e.waitStatus(id, "DISPATCHED")

	// A request that needs no approval runs at once, and its pull
	// request is closed after the dispatch.
	k := e.askByPullRequest("ask-short", "runs/short.json", `{"action": "extend_ttl", "entity": "preview-42", "properties": {"days": 2}}`)
	deadline = time.Now().Add(10 * time.Second)
	for {
		if pr, _ := e.fake.PullRequest("acme", "catalog", k); pr.State == "closed" {
			if !strings.Contains(strings.Join(pr.Comments, "\n"), "was dispatched") {
				t.Fatalf("comments %q", pr.Comments)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pull request of a run without approval was not closed")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A bad request is answered on its pull request.
	m := e.askByPullRequest("ask-bad", "runs/bad.json", `{"action": "extend_ttl", "entity": "preview-42", "properties": {"days": 99}}`)
	pr, _ := e.fake.PullRequest("acme", "catalog", m)
	if !strings.Contains(strings.Join(pr.Comments, "\n"), "runs/bad.json (days)") {
		t.Fatalf("comments %q", pr.Comments)
	}

	// So is a file pier cannot read.
	m = e.askByPullRequest("ask-garbled", "runs/garbled.json", `{"action": "extend_ttl",`)
	pr, _ = e.fake.PullRequest("acme", "catalog", m)
	if !strings.Contains(strings.Join(pr.Comments, "\n"), "pier cannot run this request: runs/garbled.json: unexpected EOF (want a JSON object with action, entity and properties)") {
		t.Fatalf("comments %q", pr.Comments)
	}
}

// askByPullRequest is kim asking for a run the GitOps way: a branch
// adding a run request file, a pull request, and GitHub's webhook.
func (e *runsEnv) askByPullRequest(branch, file, request string) int {
	e.t.Helper()
	head := e.fake.Commit("acme", "catalog", branch, map[string][]byte{file: []byte(request)})
	n := e.fake.OpenPullRequest("acme", "catalog", "kim", branch, "main", "Run request", "")
	e.deliverHook("pull_request", e.example("pull_request.opened.json", func(p map[string]any) {
		p["number"] = n
		pr := p["pull_request"].(map[string]any)
		pr["number"], pr["state"] = n, "open"
		pr["user"].(map[string]any)["login"] = "kim"
		pr["head"].(map[string]any)["ref"], pr["head"].(map[string]any)["sha"] = branch, head
		pr["base"].(map[string]any)["ref"] = "main"
	}))
	return n
}

// TestRunDispatchSurvivesACrash kills pier (SIGKILL, a real separate
// process) after GitHub took the dispatch and before pier heard back,
// restarts it, and checks that the run ends up dispatched exactly once.
func TestRunDispatchSurvivesACrash(t *testing.T) {
	if os.Getenv("PIER_TEST_NO_SUBPROCESS") != "" {
		t.Skip("subprocesses disabled")
	}
	e := newRunsEnv(t)
	e.td.stop() // the crash test runs pier as a process it can kill

	held, release := e.fake.HoldDispatches()
	defer release()
	bin := os.Args[0]
	proc := exec.Command(bin, "-test.run=^TestPierProcess$")
	proc.Env = append(os.Environ(), "PIER_TEST_PROCESS="+strings.Join(append([]string{"serve"}, e.args()...), "\x1f"))
	logs := &syncBuffer{}
	proc.Stdout, proc.Stderr = logs, logs
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	defer proc.Process.Kill()
	addr := waitForAddr(t, logs)
	e.td = &testDaemon{url: "http://" + addr}
	e.td.waitFor(t, "the catalog", func(st map[string]any) bool {
		return st["lastAppliedRevision"] != nil && st["lastAppliedRevision"] != ""
	})
	_, tok := e.call("POST", "/v1/auth/access_token", "", map[string]any{"clientId": "alice", "clientSecret": runsClientSecret})
	e.token = tok["accessToken"].(string)
	id := e.request("extend_ttl", "preview-42", map[string]any{"days": 1})["id"].(string)

	select {
	case <-held:
	case <-time.After(15 * time.Second):
		t.Fatalf("no dispatch reached GitHub; pier said:\n%s", logs.String())
	}
	run := e.run(id)
	if run["lifecycle"] != "APPROVED" || run["dispatch"] == nil {
		t.Fatalf("before the crash the run should be dispatching: %v", run)
	}
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	proc.Wait()
	release()

	e.start() // the same database, in-process this time
	run = e.waitStatus(id, "DISPATCHED")
	ds := e.fake.Dispatches("acme", "workflows")
	if len(ds) != 1 || ds[0].Inputs["pier_run_id"] != id {
		t.Fatalf("dispatches after restart: %+v", ds)
	}
	if run["link"].([]any)[0] != fmt.Sprintf("https://github.com/acme/workflows/actions/runs/%d", ds[0].RunID) {
		t.Fatalf("the recovered run does not link its workflow run: %v", run)
	}
	if !strings.Contains(fmt.Sprint(run["events"]), "the interrupted dispatch started a workflow run") {
		t.Fatalf("events %v", run["events"])
	}
}

// TestPierProcess is pier's main, run as a child process by crash tests.
func TestPierProcess(t *testing.T) {
	args := os.Getenv("PIER_TEST_PROCESS")
	if args == "" {
		t.Skip("only as a child process")
	}
	os.Exit(run(t.Context(), strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
}

// waitForAddr reads the child's "API http://ADDR/v1/blueprints" line.
func waitForAddr(t *testing.T, logs *syncBuffer) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(logs.String(), "\n") {
			if _, rest, ok := strings.Cut(line, "API      http://"); ok {
				return strings.TrimSuffix(rest, "/v1/blueprints")
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("pier did not start:\n%s", logs.String())
	return ""
}

// syncBuffer is a buffer a child process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPierRunCLI(t *testing.T) {
	// No workflow_run webhook here: pier polls the workflow run.
	e := newRunsEnv(t, "--runs-poll", "@every 1s")
	cli := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(t.Context(), append([]string{"run"}, append(args, "--url", e.td.url, "--client-id", "alice", "--client-secret", runsClientSecret)...), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, _, stderr := cli("extend_ttl", "--entity", "preview-42", "--input", "days=31")
	if code != 2 || !strings.Contains(stderr, "Unprocessable Entity (days)") {
		t.Fatalf("bad input: exit %d, %s", code, stderr)
	}
	code, _, stderr = cli("extend_ttl", "--entity", "preview-42", "--input", "days")
	if code != 2 || !strings.Contains(stderr, "want NAME=VALUE") {
		t.Fatalf("malformed input: exit %d, %s", code, stderr)
	}

	// The workflow finishes once it is dispatched; no webhook tells pier.
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if ds := e.fake.Dispatches("acme", "workflows"); len(ds) == 1 {
				e.fake.SetRunStatus("acme", "workflows", ds[0].RunID, "completed", "success")
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	code, stdout, stderr := cli("extend_ttl", "--entity", "preview-42", "--input", "days=2", "--wait")
	if code != 0 || !strings.Contains(stdout, "SUCCESS https://github.com/acme/workflows/actions/runs/") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// An older GitHub Enterprise Server refuses return_run_details: pier
// dispatches again without it (nothing was dispatched by the refusal)
// and finds its workflow run by the run id in the run's title.
func TestRunDispatchWithoutRunDetails(t *testing.T) {
	e := newRunsEnv(t)
	e.fake.SetDispatchMode(githubfake.DispatchRejectsField)
	id := e.request("extend_ttl", "preview-42", map[string]any{"days": 3})["id"].(string)
	run := e.waitStatus(id, "DISPATCHED")
	if len(run["link"].([]any)) != 0 {
		t.Fatalf("a link without run details: %v", run["link"])
	}
	ds := e.fake.Dispatches("acme", "workflows")
	if len(ds) != 1 {
		t.Fatalf("%d dispatches", len(ds))
	}
	e.workflowRun(ds[0].RunID, "completed", "failure")
	run = e.waitStatus(id, "FAILURE")
	if run["link"].([]any)[0] != fmt.Sprintf("https://github.com/acme/workflows/actions/runs/%d", ds[0].RunID) {
		t.Fatalf("link %v", run["link"])
	}
	_, audit := e.call("GET", "/v1/audit-log", "", nil)
	var seen []string
	for _, en := range audit["entries"].([]any) {
		m := en.(map[string]any)
		if strings.HasSuffix(m["resource"].(string), id) && strings.HasPrefix(m["action"].(string), "run.") {
			seen = append(seen, m["action"].(string))
		}
	}
	if strings.Join(seen, ",") != "run.failure,run.dispatched,run.approved" {
		t.Fatalf("audit log of the run: %v", seen)
	}
}

func TestApprovalSystemMembers(t *testing.T) {
	board := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer board-token" {
			http.Error(w, `{"error": "who are you"}`, http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"result": [{"user": {"email": "pat@acme.example", "value": "u1"}}, {"user": {"email": "sam@acme.example", "value": "u2"}}]}`)
	}))
	defer board.Close()
	t.Setenv("PIER_SECRET_BOARD_TOKEN", "board-token")
	catalogSrc := runsCatalog + fmt.Sprintf(`
approvalSystems: board: {
	creationRequest: {endpoint: {url: "%[1]s/c", method: "POST"}, parser: approvalId: "/id"}
	statusRequest: {endpoint: {url: "%[1]s/s/{{ .approval.id }}", method: "GET"}, parser: {statusValue: "/state", approvalMatcher: "^ok$"}}
	memberListRequest: {
		endpoint: {url: "%[1]s/members", method: "GET", headers: [{name: "Authorization", value: "Bearer {{ .secrets.BOARD_TOKEN }}"}]}
		parser: {memberArrayPath: "/result", memberItems: {email: "/user/email", memberId: "/user/value"}}
	}
}
`, board.URL)
	e := newRunsEnvWith(t, catalogSrc)
	code, out := e.call("GET", "/v1/approval-systems/board/members", "", nil)
	if code != 200 || fmt.Sprint(out["members"]) != "[map[email:pat@acme.example id:u1] map[email:sam@acme.example id:u2]]" {
		t.Fatalf("members: %d %v", code, out)
	}
	if code, out = e.call("GET", "/v1/approval-systems/nope/members", "", nil); code != 404 {
		t.Fatalf("unknown system: %d %v", code, out)
	}
	if code, out = e.call("GET", "/v1/approval-systems", "", nil); code != 200 || len(out["approvalSystems"].([]any)) != 1 {
		t.Fatalf("list: %d %v", code, out)
	}
}

func TestPierReceive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // pier receive listens on it itself
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"receive", "--listen", addr, "--secret", "shh", "--secret", "other"}, out, out)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "listening") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	body := []byte(`{"runId": "r_1"}`)
	ts := time.Now().Unix()
	for _, sig := range []string{outbox.Sign("shh", ts, body), outbox.Sign("other", ts, body), outbox.Sign("wrong", ts, body)} {
		req, _ := http.NewRequest("POST", "http://"+addr+"/grants", bytes.NewReader(body))
		req.Header.Set(runs.HeaderPortTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(runs.HeaderPortSignature, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	got := out.String()
	if !strings.Contains(got, "POST /grants") || strings.Count(got, "signature: valid") != 2 || strings.Count(got, "signature: BAD") != 1 || !strings.Contains(got, `"runId": "r_1"`) {
		t.Fatalf("output:\n%s", got)
	}
}
