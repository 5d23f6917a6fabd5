package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	gogithub "github.com/google/go-github/v62/github"
)

// MaxDispatchInputs is GitHub's limit on the inputs of a workflow
// dispatch.
const MaxDispatchInputs = 25

// WorkflowRun is what pier reads of a GitHub Actions workflow run.
type WorkflowRun struct {
	ID           int64
	Name         string // the workflow's
	DisplayTitle string // the run-name, where pier's workflows put its run id
	Status       string // queued, in_progress, completed, waiting, requested, pending
	Conclusion   string // success, failure, cancelled, timed_out, ...; empty until completed
	HTMLURL      string
	HeadBranch   string
	HeadSHA      string
	Event        string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func workflowRun(r *gogithub.WorkflowRun) WorkflowRun {
	return WorkflowRun{
		ID:           r.GetID(),
		Name:         r.GetName(),
		DisplayTitle: r.GetDisplayTitle(),
		Status:       r.GetStatus(),
		Conclusion:   r.GetConclusion(),
		HTMLURL:      r.GetHTMLURL(),
		HeadBranch:   r.GetHeadBranch(),
		HeadSHA:      r.GetHeadSHA(),
		Event:        r.GetEvent(),
		CreatedAt:    r.GetCreatedAt().Time,
		UpdatedAt:    r.GetUpdatedAt().Time,
	}
}

// errMayHaveDispatched marks a dispatch whose outcome is unknown.
var errMayHaveDispatched = errors.New("the workflow may have been dispatched")

// DispatchUnknown reports whether err, from DispatchWorkflow, leaves open
// whether the workflow was dispatched: no answer came back (a network
// error, a timeout) or GitHub failed (5xx). A caller must then look for
// the run (FindWorkflowRun) rather than dispatch again, or the workflow
// may run twice. Any other error is a refusal: nothing was dispatched.
func DispatchUnknown(err error) bool {
	return errors.Is(err, errMayHaveDispatched)
}

// DispatchWorkflow dispatches workflow (its file name, such as
// deploy.yml, or its numeric id) on ref (a branch or tag) with inputs.
//
// It asks GitHub for the run it creates ("return_run_details", since
// February 2026), and returns that run — its ID and HTMLURL only — and
// true. A GitHub that ignores the request (204) dispatches all the same:
// then the run is unknown (false) and FindWorkflowRun finds it. Some
// GitHub Enterprise Server versions refuse the field (400, or 422 naming
// it) and dispatch nothing; DispatchWorkflow then dispatches once more
// without it.
//
// On error, DispatchUnknown tells a refusal from an unknown outcome.
//
// GitHub API docs: https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event
func (c *Client) DispatchWorkflow(ctx context.Context, owner, repo, workflow, ref string, inputs map[string]string) (WorkflowRun, bool, error) {
	run, ok, err := c.dispatchWorkflow(ctx, owner, repo, workflow, ref, inputs)
	if err != nil {
		return WorkflowRun{}, false, fmt.Errorf("dispatch workflow %s on %s/%s@%s: %w", workflow, owner, repo, ref, notFound(err))
	}
	return run, ok, nil
}

func (c *Client) dispatchWorkflow(ctx context.Context, owner, repo, workflow, ref string, inputs map[string]string) (WorkflowRun, bool, error) {
	if len(inputs) > MaxDispatchInputs {
		return WorkflowRun{}, false, fmt.Errorf("%d inputs: GitHub takes at most %d", len(inputs), MaxDispatchInputs)
	}
	if workflow == "" || ref == "" {
		return WorkflowRun{}, false, errors.New("workflow and ref are required")
	}
	run, ok, err := c.dispatch(ctx, owner, repo, workflow, ref, inputs, true)
	if rejectsRunDetails(err) {
		run, ok, err = c.dispatch(ctx, owner, repo, workflow, ref, inputs, false)
	}
	return run, ok, err
}

// dispatch sends one dispatch request. go-github v62 has no
// return_run_details, so the request is built here.
func (c *Client) dispatch(ctx context.Context, owner, repo, workflow, ref string, inputs map[string]string, runDetails bool) (WorkflowRun, bool, error) {
	body := struct {
		Ref              string            `json:"ref"`
		Inputs           map[string]string `json:"inputs,omitempty"`
		ReturnRunDetails bool              `json:"return_run_details,omitempty"`
	}{ref, inputs, runDetails}
	u := fmt.Sprintf("repos/%v/%v/actions/workflows/%v/dispatches", owner, repo, url.PathEscape(workflow))
	req, err := c.gh.NewRequest(http.MethodPost, u, body)
	if err != nil {
		return WorkflowRun{}, false, err
	}
	var created struct {
		WorkflowRunID int64  `json:"workflow_run_id"`
		HTMLURL       string `json:"html_url"`
	}
	resp, err := c.gh.Do(ctx, req, &created)
	if err != nil {
		if code := statusCode(err); code < 400 || code >= 500 {
			err = fmt.Errorf("%w (%w)", err, errMayHaveDispatched)
		}
		return WorkflowRun{}, false, err
	}
	if resp.StatusCode == http.StatusNoContent || created.WorkflowRunID == 0 {
		return WorkflowRun{}, false, nil
	}
	return WorkflowRun{ID: created.WorkflowRunID, HTMLURL: created.HTMLURL}, true, nil
}

// rejectsRunDetails reports whether err is a GitHub that does not know
// return_run_details refusing it. A 400 to a well-formed dispatch can only
// be about the body; a 422 is also how GitHub refuses an unknown ref or
// bad inputs, which a retry would only repeat, so it must name the field.
func rejectsRunDetails(err error) bool {
	return statusCode(err) == http.StatusBadRequest || answered(err, http.StatusUnprocessableEntity, "return_run_details")
}

// FindWorkflowRun returns the newest run of workflow dispatched since
// since (workflow_dispatch runs created then or later) whose display title
// contains match — pier's run id, which its workflows put in their
// run-name; a substring, so no run id may be part of another. It reads
// every page; false if there is no such run (yet: a run appears a few
// seconds after its dispatch). Pass a since a little before the
// dispatch, for the skew between pier's clock and GitHub's.
//
// GitHub API docs: https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-workflow
func (c *Client) FindWorkflowRun(ctx context.Context, owner, repo, workflow, match string, since time.Time) (WorkflowRun, bool, error) {
	opts := &gogithub.ListWorkflowRunsOptions{Event: "workflow_dispatch", ListOptions: gogithub.ListOptions{PerPage: 100}}
	if !since.IsZero() {
		opts.Created = ">=" + since.UTC().Format(time.RFC3339)
	}
	var found *gogithub.WorkflowRun
	for {
		// The path is the same for a file name and an id.
		runs, resp, err := c.gh.Actions.ListWorkflowRunsByFileName(ctx, owner, repo, workflow, opts)
		if err != nil {
			return WorkflowRun{}, false, fmt.Errorf("list runs of workflow %s in %s/%s: %w", workflow, owner, repo, notFound(err))
		}
		for _, r := range runs.WorkflowRuns {
			if !strings.Contains(r.GetDisplayTitle(), match) {
				continue
			}
			if found == nil || newer(r, found) {
				found = r
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if found == nil {
		return WorkflowRun{}, false, nil
	}
	return workflowRun(found), true, nil
}

// newer reports whether run a was created after b (the higher id if at
// the same second).
func newer(a, b *gogithub.WorkflowRun) bool {
	ta, tb := a.GetCreatedAt().Time, b.GetCreatedAt().Time
	if !ta.Equal(tb) {
		return ta.After(tb)
	}
	return a.GetID() > b.GetID()
}

// WorkflowRun returns workflow run id; ErrNotFound if there is none.
//
// GitHub API docs: https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run
func (c *Client) WorkflowRun(ctx context.Context, owner, repo string, id int64) (WorkflowRun, error) {
	r, _, err := c.gh.Actions.GetWorkflowRunByID(ctx, owner, repo, id)
	if err != nil {
		return WorkflowRun{}, fmt.Errorf("get workflow run %d of %s/%s: %w", id, owner, repo, notFound(err))
	}
	return workflowRun(r), nil
}
