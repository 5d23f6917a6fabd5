package githubfake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxDispatchInputs is GitHub's limit on the inputs of a workflow
// dispatch.
const maxDispatchInputs = 25

// DispatchMode is how the fake answers a workflow dispatch that asks for
// the run it creates ("return_run_details": true).
type DispatchMode int

const (
	// DispatchReturnsRun answers as github.com has since February 2026:
	// 200 with the run's id and URLs when the body asks for them, 204
	// otherwise. It is the default.
	DispatchReturnsRun DispatchMode = iota
	// DispatchNoContent ignores the field and answers 204, as GitHub did
	// before.
	DispatchNoContent
	// DispatchRejectsField answers 400, naming the field, to a body that
	// has it, as some GitHub Enterprise Server versions do; nothing is
	// dispatched. Without the field: 204.
	DispatchRejectsField
)

// SetDispatchMode sets how workflow dispatches are answered.
func (f *Fake) SetDispatchMode(m DispatchMode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dispatch = m
}

// workflow is a workflow file of a repository.
type workflow struct {
	id      int64
	file    string // deploy.yml
	lastRun int    // the last run_number
}

// path is where the workflow lives, and, since the fake's workflows have
// no name: key, also its name, as on GitHub.
func (wf *workflow) path() string { return ".github/workflows/" + wf.file }

// Dispatch is a workflow dispatch the fake accepted.
type Dispatch struct {
	Workflow string // the file name, however the request named it
	Ref      string // as given
	Inputs   map[string]string
	RunID    int64 // the run it created
}

// WorkflowRun is a snapshot of a workflow run.
type WorkflowRun struct {
	ID, WorkflowID       int64
	Name                 string // the workflow's
	DisplayTitle         string
	Status               string // queued, in_progress, completed, ...
	Conclusion           string // success, failure, cancelled, ...; empty until completed
	Event                string
	HeadBranch, HeadSHA  string
	RunNumber            int
	HTMLURL              string
	Actor                string
	CreatedAt, UpdatedAt time.Time
}

// AddWorkflow makes the workflow file (deploy.yml) exist in owner/repo,
// triggered by workflow_dispatch. Dispatching any other answers 404, as
// GitHub does.
func (f *Fake) AddWorkflow(owner, repo, file string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rp := f.mustRepo(owner, repo)
	if rp.workflow(file) == nil {
		f.nextID++
		rp.workflows = append(rp.workflows, &workflow{id: f.nextID, file: file})
	}
}

// SetRunName commits the workflow file (deploy.yml) of owner/repo to
// main with runName as its run-name, the display title GitHub gives its
// dispatched runs (say "Deploy ${{ inputs.port_run_id }}"). Without it a
// run's title is the workflow's name, as on GitHub.
func (f *Fake) SetRunName(owner, repo, file, runName string) {
	f.AddWorkflow(owner, repo, file)
	f.Commit(owner, repo, defaultBranch, map[string][]byte{
		".github/workflows/" + file: fmt.Appendf(nil, "run-name: %q\non: workflow_dispatch\n", runName),
	})
}

// workflow returns the workflow named by its file name or its id.
func (rp *repository) workflow(idOrFile string) *workflow {
	for _, wf := range rp.workflows {
		if wf.file == idOrFile || strconv.FormatInt(wf.id, 10) == idOrFile {
			return wf
		}
	}
	return nil
}

// Dispatches returns the workflow dispatches owner/repo accepted, oldest
// first.
func (f *Fake) Dispatches(owner, repo string) []Dispatch {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.mustRepo(owner, repo).dispatches)
	for i := range out {
		out[i].Inputs = maps.Clone(out[i].Inputs)
	}
	return out
}

// Run returns workflow run id of owner/repo.
func (f *Fake) Run(owner, repo string, id int64) (WorkflowRun, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if run := f.mustRepo(owner, repo).run(id); run != nil {
		return *run, true
	}
	return WorkflowRun{}, false
}

// SetRunStatus moves workflow run id of owner/repo along, as its jobs
// would: status queued, in_progress or completed, and once completed a
// conclusion (success, failure, cancelled, ...).
func (f *Fake) SetRunStatus(owner, repo string, id int64, status, conclusion string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	run := f.mustRepo(owner, repo).run(id)
	if run == nil {
		panic(fmt.Sprintf("githubfake: no workflow run %d in %s/%s", id, owner, repo))
	}
	run.Status, run.Conclusion, run.UpdatedAt = status, conclusion, f.stamp()
}

func (rp *repository) run(id int64) *WorkflowRun {
	for _, run := range rp.runs {
		if run.ID == id {
			return run
		}
	}
	return nil
}

// hold holds the answers to workflow dispatches (see HoldDispatches).
type hold struct {
	dispatched chan int64
	release    chan struct{}
}

// HoldDispatches makes every later workflow dispatch take effect (the
// run is created) and then wait for release before GitHub answers; each
// held dispatch's run id is sent on the returned channel. It stands in
// for the moment a crash would lose: GitHub has started the workflow,
// the client has not heard.
func (f *Fake) HoldDispatches() (dispatched <-chan int64, release func()) {
	h := &hold{dispatched: make(chan int64, 16), release: make(chan struct{})}
	f.mu.Lock()
	f.hold = h
	f.mu.Unlock()
	var once sync.Once
	return h.dispatched, func() {
		once.Do(func() {
			f.mu.Lock()
			f.hold = nil
			f.mu.Unlock()
			close(h.release)
		})
	}
}

// dispatchWorkflow implements POST
// /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches. Each
// dispatch creates a queued run. Its display title stands in for a
// workflow with `run-name: ${{ inputs.port_run_id }}`: the value of the
// first input (by name) whose name contains "run_id", or the workflow's
// name when there is none.
func (f *Fake) dispatchWorkflow(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event"
	var in struct {
		Ref              *string        `json:"ref"`
		Inputs           map[string]any `json:"inputs"`
		ReturnRunDetails *bool          `json:"return_run_details"`
	}
	if !decode(w, r, doc, &in) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rp := f.repoFor(w, r, doc)
	if rp == nil {
		return
	}
	wf := rp.workflow(r.PathValue("workflow"))
	switch {
	case wf == nil:
		apiError(w, http.StatusNotFound, doc, "Not Found")
		return
	case in.ReturnRunDetails != nil && f.dispatch == DispatchRejectsField:
		apiError(w, http.StatusBadRequest, doc, "Invalid request.\n\n\"return_run_details\" is not a permitted key.")
		return
	case in.Ref == nil:
		notSupplied(w, doc, "ref")
		return
	case len(in.Inputs) > maxDispatchInputs:
		apiError(w, http.StatusUnprocessableEntity, doc,
			fmt.Sprintf("you may only define up to %d `inputs` for a workflow_dispatch event", maxDispatchInputs))
		return
	}
	names := slices.Sorted(maps.Keys(in.Inputs))
	inputs := map[string]string{}
	for _, name := range names {
		s, ok := in.Inputs[name].(string)
		if !ok {
			v, _ := json.Marshal(in.Inputs[name])
			apiError(w, http.StatusUnprocessableEntity, doc, fmt.Sprintf("Invalid request.\n\nFor 'properties/%s', %s is not a string.", name, v))
			return
		}
		inputs[name] = s
	}
	branch := strings.TrimPrefix(*in.Ref, "refs/heads/")
	sha, ok := rp.branches[branch]
	if !ok {
		apiError(w, http.StatusUnprocessableEntity, doc, "No ref found for: "+*in.Ref)
		return
	}

	title := runName(rp.commits[sha].files[wf.path()], inputs, wf.path())
	f.nextID++
	wf.lastRun++
	now := f.stamp()
	run := &WorkflowRun{
		ID: f.nextID, WorkflowID: wf.id, Name: wf.path(), DisplayTitle: title,
		Status: "queued", Event: "workflow_dispatch", HeadBranch: branch, HeadSHA: sha,
		RunNumber: wf.lastRun, HTMLURL: rp.webURL("actions/runs/" + strconv.FormatInt(f.nextID, 10)),
		Actor: f.caller(r).Login, CreatedAt: now, UpdatedAt: now,
	}
	rp.runs = append(rp.runs, run)
	rp.dispatches = append(rp.dispatches, Dispatch{Workflow: wf.file, Ref: *in.Ref, Inputs: inputs, RunID: run.ID})

	if h := f.hold; h != nil {
		// The dispatch took effect; the answer waits for the test.
		f.mu.Unlock()
		h.dispatched <- run.ID
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
		f.mu.Lock()
	}
	if f.dispatch == DispatchReturnsRun && in.ReturnRunDetails != nil && *in.ReturnRunDetails {
		writeJSON(w, http.StatusOK, map[string]any{
			"workflow_run_id": run.ID,
			"run_url":         f.apiURL(rp, "actions/runs/"+strconv.FormatInt(run.ID, 10)),
			"html_url":        run.HTMLURL,
		})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// workflowRunJSON is GitHub's workflow-run shape
// (https://docs.github.com/rest/actions/workflow-runs), with the fields
// clients read.
type workflowRunJSON struct {
	ID                 int64     `json:"id"`
	Name               string    `json:"name"`
	NodeID             string    `json:"node_id"`
	HeadBranch         string    `json:"head_branch"`
	HeadSHA            string    `json:"head_sha"`
	Path               string    `json:"path"`
	DisplayTitle       string    `json:"display_title"`
	RunNumber          int       `json:"run_number"`
	Event              string    `json:"event"`
	Status             string    `json:"status"`
	Conclusion         *string   `json:"conclusion"`
	WorkflowID         int64     `json:"workflow_id"`
	URL                string    `json:"url"`
	HTMLURL            string    `json:"html_url"`
	PullRequests       []any     `json:"pull_requests"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
	Actor              User      `json:"actor"`
	RunAttempt         int       `json:"run_attempt"`
	RunStartedAt       time.Time `json:"run_started_at"`
	TriggeringActor    User      `json:"triggering_actor"`
	JobsURL            string    `json:"jobs_url"`
	LogsURL            string    `json:"logs_url"`
	ArtifactsURL       string    `json:"artifacts_url"`
	CancelURL          string    `json:"cancel_url"`
	RerunURL           string    `json:"rerun_url"`
	PreviousAttemptURL *string   `json:"previous_attempt_url"`
	WorkflowURL        string    `json:"workflow_url"`
	Repository         repoJSON  `json:"repository"`
	HeadRepository     repoJSON  `json:"head_repository"`
}

func (f *Fake) runJSON(rp *repository, run *WorkflowRun) workflowRunJSON {
	url := f.apiURL(rp, "actions/runs/"+strconv.FormatInt(run.ID, 10))
	path := ""
	for _, wf := range rp.workflows {
		if wf.id == run.WorkflowID {
			path = wf.path()
		}
	}
	return workflowRunJSON{
		ID:              run.ID,
		Name:            run.Name,
		NodeID:          base64.StdEncoding.EncodeToString([]byte("WorkflowRun" + strconv.FormatInt(run.ID, 10))),
		HeadBranch:      run.HeadBranch,
		HeadSHA:         run.HeadSHA,
		Path:            path,
		DisplayTitle:    run.DisplayTitle,
		RunNumber:       run.RunNumber,
		Event:           run.Event,
		Status:          run.Status,
		Conclusion:      emptyNil(&run.Conclusion),
		WorkflowID:      run.WorkflowID,
		URL:             url,
		HTMLURL:         run.HTMLURL,
		PullRequests:    []any{},
		CreatedAt:       run.CreatedAt,
		UpdatedAt:       run.UpdatedAt,
		Actor:           f.userJSON(run.Actor),
		RunAttempt:      1,
		RunStartedAt:    run.CreatedAt,
		TriggeringActor: f.userJSON(run.Actor),
		JobsURL:         url + "/jobs",
		LogsURL:         url + "/logs",
		ArtifactsURL:    url + "/artifacts",
		CancelURL:       url + "/cancel",
		RerunURL:        url + "/rerun",
		WorkflowURL:     f.apiURL(rp, "actions/workflows/"+strconv.FormatInt(run.WorkflowID, 10)),
		Repository:      f.repoJSON(rp),
		HeadRepository:  f.repoJSON(rp),
	}
}

// listWorkflowRuns implements GET
// /repos/{owner}/{repo}/actions/workflows/{workflow}/runs: newest first,
// filtered by event, status (a status or a conclusion), branch, actor,
// head_sha and created (GitHub's date-range syntax: >=, >, <=, <, a..b or
// a single date), paginated.
func (f *Fake) listWorkflowRuns(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-workflow"
	q := r.URL.Query()
	created, err := dateRange(q.Get("created"))
	if err != nil {
		apiError(w, http.StatusUnprocessableEntity, doc, "Validation Failed",
			fieldError{Resource: "WorkflowRun", Code: "invalid", Field: "created", Message: err.Error()})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rp := f.repoFor(w, r, doc)
	if rp == nil {
		return
	}
	wf := rp.workflow(r.PathValue("workflow"))
	if wf == nil {
		apiError(w, http.StatusNotFound, doc, "Not Found")
		return
	}
	match := func(param, value string) bool { return q.Get(param) == "" || q.Get(param) == value }
	var runs []*WorkflowRun
	for _, run := range slices.Backward(rp.runs) {
		if run.WorkflowID == wf.id && match("event", run.Event) && match("branch", run.HeadBranch) &&
			match("actor", run.Actor) && match("head_sha", run.HeadSHA) && created(run.CreatedAt) &&
			(match("status", run.Status) || match("status", run.Conclusion)) {
			runs = append(runs, run)
		}
	}
	start, end := f.paginate(w, r, len(runs))
	out := []workflowRunJSON{}
	for _, run := range runs[start:end] {
		out = append(out, f.runJSON(rp, run))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(runs), "workflow_runs": out})
}

// getWorkflowRun implements GET /repos/{owner}/{repo}/actions/runs/{id}.
func (f *Fake) getWorkflowRun(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run"
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	rp := f.repoFor(w, r, doc)
	if rp == nil {
		return
	}
	run := rp.run(id)
	if run == nil {
		apiError(w, http.StatusNotFound, doc, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, f.runJSON(rp, run))
}

// dateRange parses GitHub's date-range query syntax (>=D, >D, <=D, <D,
// D..D with * for an open end, or D alone) into a test on a time. A date
// is YYYY-MM-DD (the whole day) or an RFC 3339 time (that second); an
// empty query matches everything.
func dateRange(q string) (func(time.Time) bool, error) {
	if q == "" {
		return func(time.Time) bool { return true }, nil
	}
	// from and to bound the times matched: from <= t < to, zero if open.
	var from, to time.Time
	var err error
	bound := func(s string, end bool) time.Time {
		if s == "*" || err != nil {
			return time.Time{}
		}
		var start, stop time.Time
		start, stop, err = parseDate(s)
		if end {
			return stop
		}
		return start
	}
	switch {
	case strings.HasPrefix(q, ">="):
		from = bound(q[2:], false)
	case strings.HasPrefix(q, "<="):
		to = bound(q[2:], true)
	case strings.HasPrefix(q, ">"):
		from = bound(q[1:], true)
	case strings.HasPrefix(q, "<"):
		to = bound(q[1:], false)
	case strings.Contains(q, ".."):
		a, b, _ := strings.Cut(q, "..")
		from, to = bound(a, false), bound(b, true)
	default:
		from, to = bound(q, false), bound(q, true)
	}
	if err != nil {
		return nil, err
	}
	return func(t time.Time) bool {
		return (from.IsZero() || !t.Before(from)) && (to.IsZero() || t.Before(to))
	}, nil
}

// parseDate returns the span a date of a date range stands for.
func parseDate(s string) (start, end time.Time, err error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, t.AddDate(0, 0, 1), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, t.Add(time.Second), nil
		}
	}
	return time.Time{}, time.Time{}, fmt.Errorf("invalid date %q in created", s)
}

// runNameExpr is a GitHub expression in a workflow's run-name: one input,
// or the first non-empty of several joined by ||.
var runNameExpr = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// runName is the display title GitHub gives a dispatched run: the
// workflow file's run-name with its ${{ inputs.NAME }} (or
// github.event.inputs.NAME) expressions filled in, or the workflow's name
// when the file has none. Only that much of GitHub's expression language
// is modelled.
func runName(file []byte, inputs map[string]string, name string) string {
	for _, line := range strings.Split(string(file), "\n") {
		v, ok := strings.CutPrefix(line, "run-name:")
		if !ok {
			continue
		}
		if u, err := strconv.Unquote(strings.TrimSpace(v)); err == nil {
			v = u
		}
		return strings.TrimSpace(runNameExpr.ReplaceAllStringFunc(v, func(m string) string {
			for _, alt := range strings.Split(runNameExpr.FindStringSubmatch(m)[1], "||") {
				alt = strings.TrimSpace(alt)
				alt = strings.TrimPrefix(alt, "github.event.")
				if in, ok := strings.CutPrefix(alt, "inputs."); ok && inputs[in] != "" {
					return inputs[in]
				}
			}
			return ""
		}))
	}
	return name
}
