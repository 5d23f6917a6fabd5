package runs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	neturl "net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/github"
	"github.com/pierhq/pier/internal/jqtmpl"
	"github.com/pierhq/pier/internal/outbox"
	"github.com/pierhq/pier/internal/store"
)

// Dispatch is one run to start: the run, its action and the data its
// templates see.
type Dispatch struct {
	Run    store.Run
	Action *catalog.Action
	Data   map[string]any
}

// Started is what a dispatch started.
type Started struct {
	// WorkflowRunID is GitHub's workflow run, when known.
	WorkflowRunID int64
	Link          string
	// Final, when set, is the run's outcome already: a synchronized
	// webhook answers with it.
	Final   string
	Summary string
}

// Dispatcher starts runs of one invocation type.
type Dispatcher interface {
	// Dispatch starts the run. An error for which Unknown is true means
	// the dispatch may have happened.
	Dispatch(ctx context.Context, d Dispatch) (Started, error)
	// Find looks for a dispatch of the run made since since, after an
	// interruption left its outcome unknown. ErrCannotFind if the
	// invocation leaves nothing to look for.
	Find(ctx context.Context, d Dispatch, since time.Time) (Started, bool, error)
}

// Tracker is a Dispatcher that can say how a started run is going, for
// polling when webhooks are missed.
type Tracker interface {
	Track(ctx context.Context, d Dispatch) (Progress, bool, error)
}

// Progress is a started run's state as its system sees it.
type Progress struct {
	WorkflowRunID int64
	Link          string
	Status        string // IN_PROGRESS, SUCCESS or FAILURE; "" while queued
}

// ErrCannotFind is returned by Find when a dispatch leaves no trace to
// look for.
var ErrCannotFind = errors.New("a dispatch of this kind cannot be looked for")

// unknownError marks an error after which the dispatch may have happened.
type unknownError struct{ err error }

func (u unknownError) Error() string { return u.err.Error() + " (the dispatch may have happened)" }
func (u unknownError) Unwrap() error { return u.err }

// Unknown reports whether err leaves the outcome of a dispatch unknown.
func Unknown(err error) bool {
	var u unknownError
	return errors.As(err, &u)
}

// Workflows is what the GitHub dispatcher needs of the GitHub client.
type Workflows interface {
	DispatchWorkflow(ctx context.Context, owner, repo, workflow, ref string, inputs map[string]string) (github.WorkflowRun, bool, error)
	FindWorkflowRun(ctx context.Context, owner, repo, workflow, match string, since time.Time) (github.WorkflowRun, bool, error)
	WorkflowRun(ctx context.Context, owner, repo string, id int64) (github.WorkflowRun, error)
}

// GitHubDispatcher dispatches GITHUB invocations as workflow dispatches.
type GitHubDispatcher struct {
	Client Workflows
	// DefaultRef is the ref dispatched when the action names none.
	DefaultRef string
}

// RunIDInput is the workflow input pier adds when the action's inputs
// do not already carry the run id (Port's convention).
const RunIDInput = "port_run_id"

// MaxWorkflowInputs is GitHub's limit on a dispatch's inputs.
const MaxWorkflowInputs = 25

// Inputs renders the workflow inputs: the action's workflowInputs (or,
// without them, the user inputs) as strings, and the run id.
func (g GitHubDispatcher) Inputs(ctx context.Context, d Dispatch) (map[string]string, error) {
	im := d.Action.InvocationMethod
	src := im.WorkflowInputs
	if src == nil && !im.OmitUserInputs {
		src = d.Run.Inputs
	}
	if src == nil {
		src = map[string]any{}
	}
	v, err := render(ctx, src, d.Data)
	if err != nil {
		return nil, fmt.Errorf("workflowInputs: %w", err)
	}
	out := map[string]string{}
	hasID := false
	for k, val := range v.(map[string]any) {
		out[k] = jqtmpl.Text(val)
		hasID = hasID || out[k] == d.Run.ID
	}
	if !hasID {
		out[RunIDInput] = d.Run.ID
	}
	if len(out) > MaxWorkflowInputs {
		return nil, fmt.Errorf("workflowInputs: %d inputs; GitHub takes at most %d", len(out), MaxWorkflowInputs)
	}
	return out, nil
}

func (g GitHubDispatcher) ref(a *catalog.Action) string {
	if r := a.InvocationMethod.Ref; r != "" {
		return r
	}
	if g.DefaultRef != "" {
		return g.DefaultRef
	}
	return "main"
}

func (g GitHubDispatcher) Dispatch(ctx context.Context, d Dispatch) (Started, error) {
	im := d.Action.InvocationMethod
	inputs, err := g.Inputs(ctx, d)
	if err != nil {
		return Started{}, err
	}
	wr, known, err := g.Client.DispatchWorkflow(ctx, im.Org, im.Repo, im.Workflow, g.ref(d.Action), inputs)
	if err != nil {
		if github.DispatchUnknown(err) {
			return Started{}, unknownError{err}
		}
		return Started{}, err
	}
	if !known {
		// Dispatched; the run is found by its run id (the workflow's
		// run-name) when it shows up.
		return Started{}, nil
	}
	return Started{WorkflowRunID: wr.ID, Link: wr.HTMLURL}, nil
}

func (g GitHubDispatcher) Find(ctx context.Context, d Dispatch, since time.Time) (Started, bool, error) {
	im := d.Action.InvocationMethod
	wr, ok, err := g.Client.FindWorkflowRun(ctx, im.Org, im.Repo, im.Workflow, d.Run.ID, since)
	if err != nil || !ok {
		return Started{}, false, err
	}
	return Started{WorkflowRunID: wr.ID, Link: wr.HTMLURL}, true, nil
}

// Track reads the workflow run: by its id when known, else found by the
// run id in its title.
func (g GitHubDispatcher) Track(ctx context.Context, d Dispatch) (Progress, bool, error) {
	im := d.Action.InvocationMethod
	var wr github.WorkflowRun
	if id := d.Run.Dispatch.WorkflowRunID; id != 0 {
		r, err := g.Client.WorkflowRun(ctx, im.Org, im.Repo, id)
		if err != nil {
			return Progress{}, false, err
		}
		wr = r
	} else {
		since := d.Run.Dispatch.StartedAt.Add(-time.Minute)
		r, ok, err := g.Client.FindWorkflowRun(ctx, im.Org, im.Repo, im.Workflow, d.Run.ID, since)
		if err != nil || !ok {
			return Progress{}, false, err
		}
		wr = r
	}
	return Progress{WorkflowRunID: wr.ID, Link: wr.HTMLURL, Status: WorkflowStatus(wr.Status, wr.Conclusion)}, true, nil
}

// WorkflowStatus maps a GitHub workflow run's status and conclusion to a
// run status: "" while queued, IN_PROGRESS while running, SUCCESS or
// FAILURE when completed (every conclusion but success is a failure).
func WorkflowStatus(status, conclusion string) string {
	switch status {
	case "completed":
		if conclusion == "success" {
			return store.RunSuccess
		}
		return store.RunFailure
	case "in_progress":
		return store.RunInProgress
	}
	return ""
}

// WebhookDispatcher sends WEBHOOK invocations: the rendered body,
// signed as Port signs (x-port-timestamp, x-port-signature over
// "timestamp.body").
type WebhookDispatcher struct {
	Client *http.Client
	Now    func() time.Time
}

// Port's signature headers.
const (
	HeaderPortTimestamp = "X-Port-Timestamp"
	HeaderPortSignature = "X-Port-Signature"
)

func (wd WebhookDispatcher) Dispatch(ctx context.Context, d Dispatch) (Started, error) {
	im := d.Action.InvocationMethod
	url, err := jqtmpl.String(ctx, im.URL, d.Data)
	if err != nil {
		return Started{}, fmt.Errorf("url: %w", err)
	}
	body := im.Body
	if body == nil {
		body = defaultWebhookBody(d)
	}
	rendered, err := render(ctx, body, d.Data)
	if err != nil {
		return Started{}, fmt.Errorf("body: %w", err)
	}
	payload, err := json.Marshal(rendered)
	if err != nil {
		return Started{}, fmt.Errorf("body: %w", err)
	}
	method := im.Method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(payload))
	if err != nil {
		return Started{}, fmt.Errorf("url: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pier")
	for _, k := range slices.Sorted(maps.Keys(im.Headers)) {
		v, err := jqtmpl.String(ctx, im.Headers[k], d.Data)
		if err != nil {
			return Started{}, fmt.Errorf("headers.%s: %w", k, err)
		}
		req.Header.Set(k, v)
	}
	if im.Secret != "" {
		secret, err := jqtmpl.String(ctx, im.Secret, d.Data)
		if err != nil {
			return Started{}, fmt.Errorf("secret: %w", err)
		}
		ts := wd.now().Unix()
		req.Header.Set(HeaderPortTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(HeaderPortSignature, outbox.Sign(secret, ts, payload))
	}
	client := wd.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*neturl.Error](err); ok {
			err = ue.Err // its URL may hold a token
		}
		return Started{}, unknownError{fmt.Errorf("%s %s: %w", method, hostOf(url), err)}
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Started{}, fmt.Errorf("%s %s answered %s: %s", method, hostOf(url), resp.Status, strings.TrimSpace(string(head)))
	}
	s := Started{}
	if im.Synchronized {
		s.Final, s.Summary = store.RunSuccess, strings.TrimSpace(string(head))
	}
	return s, nil
}

func (wd WebhookDispatcher) Find(context.Context, Dispatch, time.Time) (Started, bool, error) {
	return Started{}, false, ErrCannotFind
}

func (wd WebhookDispatcher) now() time.Time {
	if wd.Now != nil {
		return wd.Now()
	}
	return time.Now()
}

// defaultWebhookBody is Port's run payload, for a WEBHOOK action that
// declares no body.
func defaultWebhookBody(d Dispatch) any {
	return map[string]any{
		"action":       "{{ .action.identifier }}",
		"resourceType": "run",
		"status":       "TRIGGERED",
		"trigger":      "{{ .trigger }}",
		"context":      map[string]any{"entity": "{{ .entity.identifier }}", "blueprint": d.Run.Blueprint, "runId": "{{ .run.id }}"},
		"payload":      map[string]any{"entity": "{{ .entity }}", "action": map[string]any{"identifier": "{{ .action.identifier }}"}, "properties": "{{ .inputs }}"},
	}
}

// hostOf names a URL's host for errors, leaving out paths and queries,
// which may carry tokens.
func hostOf(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexAny(u, "/?#"); i >= 0 {
		u = u[:i]
	}
	return u
}
