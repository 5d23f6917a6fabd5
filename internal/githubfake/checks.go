package githubfake

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// GitHub's limits on check runs
// (https://docs.github.com/rest/checks/runs#create-a-check-run).
const (
	maxAnnotationsPerRequest = 50
	maxCheckSummary          = 65535
)

// CheckRun is a check run as the fake keeps it, for tests to assert on.
type CheckRun struct {
	ID          int64
	Name        string
	HeadSHA     string
	Status      string // queued, in_progress or completed
	Conclusion  string // set once completed
	Title       string
	Summary     string
	Annotations []Annotation
	App         string // the slug of the App that made it
	Updates     int    // PATCHes received
}

// Annotation is one annotation of a check run, in GitHub's shape.
type Annotation struct {
	Path            string `json:"path"`
	StartLine       int    `json:"start_line"`
	EndLine         int    `json:"end_line"`
	StartColumn     *int   `json:"start_column,omitempty"`
	EndColumn       *int   `json:"end_column,omitempty"`
	AnnotationLevel string `json:"annotation_level"`
	Message         string `json:"message"`
	Title           string `json:"title,omitempty"`
	RawDetails      string `json:"raw_details,omitempty"`
}

type checkRun struct {
	CheckRun
	repo        *repository
	startedAt   time.Time
	completedAt time.Time
}

// CheckRuns returns the check runs on commit sha of owner/repo, oldest
// first.
func (f *Fake) CheckRuns(owner, repo, sha string) []CheckRun {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []CheckRun
	for _, c := range f.checks {
		if strings.EqualFold(c.repo.owner, owner) && strings.EqualFold(c.repo.name, repo) && c.HeadSHA == sha {
			cr := c.CheckRun
			cr.Annotations = append([]Annotation(nil), c.Annotations...)
			out = append(out, cr)
		}
	}
	return out
}

// checkInput is the body of a create or update.
type checkInput struct {
	Name       *string `json:"name"`
	HeadSHA    *string `json:"head_sha"`
	Status     *string `json:"status"`
	Conclusion *string `json:"conclusion"`
	DetailsURL *string `json:"details_url"`
	ExternalID *string `json:"external_id"`
	Output     *struct {
		Title       *string      `json:"title"`
		Summary     *string      `json:"summary"`
		Text        *string      `json:"text"`
		Annotations []Annotation `json:"annotations"`
	} `json:"output"`
}

// checkApp is the App r acts for, or nil after answering 403: the Checks
// API takes only a GitHub App's installation tokens, as GitHub's does.
func (f *Fake) checkApp(w http.ResponseWriter, r *http.Request, doc string) *app {
	in := installationOf(r)
	if in == nil {
		apiError(w, http.StatusForbidden, doc, "You must authenticate via a GitHub App.")
		return nil
	}
	return in.app
}

// validateCheck checks a create or update body as GitHub does; it
// answers 422 and returns false for a bad one.
func validateCheck(w http.ResponseWriter, doc string, in checkInput, create bool) bool {
	var errs []fieldError
	bad := func(field, msg string) {
		errs = append(errs, fieldError{Resource: "CheckRun", Code: "invalid", Field: field, Message: msg})
	}
	if create && (in.Name == nil || *in.Name == "") {
		notSupplied(w, doc, "name")
		return false
	}
	if create && (in.HeadSHA == nil || !isSHA(*in.HeadSHA)) {
		if in.HeadSHA == nil {
			notSupplied(w, doc, "head_sha")
			return false
		}
		apiError(w, http.StatusUnprocessableEntity, doc, "No commit found for SHA: "+*in.HeadSHA)
		return false
	}
	if in.Status != nil {
		switch *in.Status {
		case "queued", "in_progress", "completed":
		default:
			bad("status", "status is not included in the list")
		}
	}
	if in.Conclusion != nil {
		switch *in.Conclusion {
		case "action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out":
		default:
			bad("conclusion", "conclusion is not included in the list")
		}
	}
	if in.Status != nil && *in.Status == "completed" && in.Conclusion == nil {
		bad("conclusion", "conclusion must be present when status is completed")
	}
	if o := in.Output; o != nil {
		if o.Title == nil || o.Summary == nil {
			bad("output", "output must have a title and a summary")
		} else if utf8.RuneCountInString(*o.Summary) > maxCheckSummary {
			bad("output.summary", fmt.Sprintf("summary is too long (maximum is %d characters)", maxCheckSummary))
		}
		if len(o.Annotations) > maxAnnotationsPerRequest {
			bad("output.annotations", fmt.Sprintf("only %d annotations are allowed per request", maxAnnotationsPerRequest))
		}
		for i, a := range o.Annotations {
			switch {
			case a.Path == "" || a.StartLine < 1 || a.EndLine < a.StartLine || a.Message == "":
				bad(fmt.Sprintf("output.annotations[%d]", i), "annotations need a path, start_line, end_line and message")
			case a.AnnotationLevel != "notice" && a.AnnotationLevel != "warning" && a.AnnotationLevel != "failure":
				bad(fmt.Sprintf("output.annotations[%d].annotation_level", i), "annotation_level is not included in the list")
			case (a.StartColumn != nil || a.EndColumn != nil) && a.StartLine != a.EndLine:
				bad(fmt.Sprintf("output.annotations[%d]", i), "start_column and end_column are only allowed when start_line equals end_line")
			}
		}
	}
	if len(errs) > 0 {
		apiError(w, http.StatusUnprocessableEntity, doc, "Validation Failed", errs...)
		return false
	}
	return true
}

// apply sets what a create or update body says; annotations add to the
// ones the run has, as on GitHub.
func (f *Fake) applyCheck(c *checkRun, in checkInput) {
	if in.Name != nil {
		c.Name = *in.Name
	}
	if in.Status != nil {
		c.Status = *in.Status
	}
	if in.Conclusion != nil {
		c.Conclusion, c.Status = *in.Conclusion, "completed"
	}
	if c.Status == "completed" && c.completedAt.IsZero() {
		c.completedAt = f.stamp()
	}
	if o := in.Output; o != nil {
		c.Title, c.Summary = *o.Title, *o.Summary
		c.Annotations = append(c.Annotations, o.Annotations...)
	}
}

// createCheckRun implements POST /repos/{owner}/{repo}/check-runs.
func (f *Fake) createCheckRun(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/checks/runs#create-a-check-run"
	var in checkInput
	if !decode(w, r, doc, &in) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rp := f.repoFor(w, r, doc)
	if rp == nil {
		return
	}
	a := f.checkApp(w, r, doc)
	if a == nil || !validateCheck(w, doc, in, true) {
		return
	}
	f.nextID++
	c := &checkRun{CheckRun: CheckRun{ID: f.nextID, HeadSHA: *in.HeadSHA, Status: "queued", App: a.slug}, repo: rp, startedAt: f.stamp()}
	f.applyCheck(c, in)
	f.checks = append(f.checks, c)
	out := f.checkJSON(c)
	w.Header().Set("Location", out["url"].(string))
	writeJSON(w, http.StatusCreated, out)
}

// updateCheckRun implements PATCH /repos/{owner}/{repo}/check-runs/{id};
// only the App that created a check run may update it.
func (f *Fake) updateCheckRun(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/checks/runs#update-a-check-run"
	var in checkInput
	if !decode(w, r, doc, &in) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rp := f.repoFor(w, r, doc)
	if rp == nil {
		return
	}
	a := f.checkApp(w, r, doc)
	if a == nil {
		return
	}
	c := f.checkRun(rp, r.PathValue("id"))
	if c == nil {
		apiError(w, http.StatusNotFound, doc, "Not Found")
		return
	}
	if c.App != a.slug {
		apiError(w, http.StatusForbidden, doc, "Invalid app_id `"+strconv.FormatInt(a.id, 10)+"` - check run can only be modified by the GitHub App that created it.")
		return
	}
	if !validateCheck(w, doc, in, false) {
		return
	}
	c.Updates++
	f.applyCheck(c, in)
	writeJSON(w, http.StatusOK, f.checkJSON(c))
}

// listCheckRunsForRef implements GET /repos/{owner}/{repo}/commits/{ref}/check-runs
// for a commit hash, filtered by check_name, newest first.
func (f *Fake) listCheckRunsForRef(w http.ResponseWriter, r *http.Request, ref string) {
	const doc = "https://docs.github.com/rest/checks/runs#list-check-runs-for-a-git-reference"
	f.mu.Lock()
	rp := f.repoFor(w, r, doc)
	if rp == nil {
		f.mu.Unlock()
		return
	}
	name := r.URL.Query().Get("check_name")
	var runs []map[string]any
	for i := len(f.checks) - 1; i >= 0; i-- {
		c := f.checks[i]
		if c.repo == rp && c.HeadSHA == ref && (name == "" || c.Name == name) {
			runs = append(runs, f.checkJSON(c))
		}
	}
	f.mu.Unlock()
	start, end := f.paginate(w, r, len(runs))
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(runs), "check_runs": append([]map[string]any{}, runs[start:end]...)})
}

func (f *Fake) checkRun(rp *repository, id string) *checkRun {
	n, _ := strconv.ParseInt(id, 10, 64)
	for _, c := range f.checks {
		if c.repo == rp && c.ID == n {
			return c
		}
	}
	return nil
}

// checkJSON is GitHub's check-run shape.
func (f *Fake) checkJSON(c *checkRun) map[string]any {
	id := strconv.FormatInt(c.ID, 10)
	var conclusion, completed any
	if c.Conclusion != "" {
		conclusion = c.Conclusion
	}
	if !c.completedAt.IsZero() {
		completed = c.completedAt
	}
	return map[string]any{
		"id": c.ID, "node_id": base64.StdEncoding.EncodeToString([]byte("CheckRun" + id)),
		"head_sha": c.HeadSHA, "external_id": "", "name": c.Name,
		"url":      f.apiURL(c.repo, "check-runs/"+id),
		"html_url": c.repo.webURL("runs/" + id),
		"status":   c.Status, "conclusion": conclusion, "started_at": c.startedAt, "completed_at": completed,
		"output": map[string]any{
			"title": c.Title, "summary": c.Summary, "text": nil, "annotations_count": len(c.Annotations),
			"annotations_url": f.apiURL(c.repo, "check-runs/"+id+"/annotations"),
		},
		"check_suite":   map[string]any{"id": c.ID},
		"app":           map[string]any{"slug": c.App},
		"pull_requests": []any{},
	}
}
