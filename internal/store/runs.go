package store

import (
	"errors"
	"time"
)

// ErrConflict is returned when a run changed between reading and
// writing it: the writer lost the race and must read it again. It is how
// two paths that want to move the same run (a review webhook and the
// expiry sweep, say) never both win.
var ErrConflict = errors.New("run changed concurrently")

// Run statuses, Port's names. A run moves
// WAITING_FOR_APPROVAL → APPROVED → DISPATCHED → IN_PROGRESS → SUCCESS |
// FAILURE, or ends DECLINED, EXPIRED or CANCELLED before dispatch.
const (
	RunWaitingForApproval = "WAITING_FOR_APPROVAL"
	RunApproved           = "APPROVED"
	RunDispatched         = "DISPATCHED"
	RunInProgress         = "IN_PROGRESS"
	RunSuccess            = "SUCCESS"
	RunFailure            = "FAILURE"
	RunDeclined           = "DECLINED"
	RunExpired            = "EXPIRED"
	RunCancelled          = "CANCELLED"
)

// RunTerminal reports whether a run in status s is finished: frozen, no
// transition leaves it.
func RunTerminal(s string) bool {
	switch s {
	case RunSuccess, RunFailure, RunDeclined, RunExpired, RunCancelled:
		return true
	}
	return false
}

// Run is one request to run a self-service action, and everything that
// happened to it since.
type Run struct {
	ID        string         `json:"id"`
	Action    string         `json:"action"`
	Blueprint string         `json:"blueprint,omitempty"`
	Entity    string         `json:"entity,omitempty"`
	Inputs    map[string]any `json:"properties"`
	Status    string         `json:"status"`
	// StatusLabel is free text a workflow reports ("Deploying to eu-1").
	StatusLabel string `json:"statusLabel,omitempty"`
	Requester   string `json:"requester"`
	// Source says where the request came from: api, pull_request,
	// automation or schedule.
	Source string `json:"source"`
	// RequestKey, when set, is unique among runs: a second request with
	// the same key (the same pull request seen twice, the same automation
	// event) finds the first run instead of making another.
	RequestKey string `json:"requestKey,omitempty"`
	// Event is the event an automation's run reacts to (its templates'
	// .event); nil for runs people ask for.
	Event    map[string]any `json:"event,omitempty"`
	Approval *RunApproval   `json:"approval,omitempty"`
	Dispatch RunDispatch    `json:"dispatch"`
	// Link, ExternalRunID and Summary are what the workflow reports (or
	// what pier learns of the workflow run).
	Link          string    `json:"link,omitempty"`
	ExternalRunID string    `json:"externalRunId,omitempty"`
	Summary       string    `json:"summary,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
	EndedAt       time.Time `json:"endedAt,omitzero"`
	// Version counts the run's writes; UpdateRun refuses a run whose
	// Version is not the stored one.
	Version int64 `json:"version"`
}

// RunApproval is the approval a run waits for, and its outcome.
type RunApproval struct {
	// System is the approval system: github, pier or http:NAME.
	System string `json:"system"`
	// Ref identifies the request in that system: a pull request number,
	// an external change id. URL is where a person sees it.
	Ref       string    `json:"ref,omitempty"`
	URL       string    `json:"url,omitempty"`
	Required  int       `json:"required"`
	ExpiresAt time.Time `json:"expiresAt"`
	// File is the run request file the pull request adds: runs/<id>.json
	// on pier's own branch, or the file a person wrote.
	File string `json:"file,omitempty"`
	// ContentSHA is the newest head of the pull request whose content is
	// the run: the commit pier wrote its request in, or a person's head
	// whose request validated (and became the run's inputs). Approvals
	// count only on it.
	ContentSHA string `json:"contentSha,omitempty"`
	// SeenSHA is the last head pier read; another head is read again.
	SeenSHA string `json:"seenSha,omitempty"`
	// Pushers are who pushed ContentSHA, besides pier: their own
	// approvals do not count, unless the rule allows the last pusher.
	Pushers []string `json:"pushers,omitempty"`
	// HeadSHA is the pull request head the decision was made on, checked
	// again just before dispatch.
	HeadSHA   string    `json:"headSha,omitempty"`
	Approvers []string  `json:"approvedBy,omitempty"`
	DecidedBy string    `json:"decidedBy,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	DecidedAt time.Time `json:"decidedAt,omitzero"`
	// Votes are the verdicts given through pier's own API (the in-app
	// system); other systems keep theirs and are asked again.
	Votes []RunVote `json:"votes,omitempty"`
	// FinishedAt is when the request was closed in its system (the pull
	// request closed or merged, the external approval's post-apply or
	// deletion request answered) after the run was dispatched or ended, or
	// when pier gave up closing it (CloseRetry says why).
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// OpeningAt is when pier last began asking the system to open the
	// request. Set without a Ref, the request may have reached the
	// system before pier stopped: opening again may make a second one.
	OpeningAt time.Time `json:"openingAt,omitzero"`
	// Retry is the backoff after failures to open or check the request;
	// CloseRetry after failures to close it.
	Retry      RunRetry `json:"retry,omitzero"`
	CloseRetry RunRetry `json:"closeRetry,omitzero"`
}

// RunRetry is the state of work retried with backoff: how many attempts
// failed in a row, when the next one may be made, and the last failure
// (redacted, as the system answered it).
type RunRetry struct {
	Failures int       `json:"failures,omitempty"`
	NextAt   time.Time `json:"nextAt,omitzero"`
	Error    string    `json:"error,omitempty"`
}

// Closing reports whether the run's approval request waits to be closed
// in its system: the run no longer needs it (it was dispatched, or ended
// without) and pier has not closed it yet nor given up.
func (r Run) Closing() bool {
	ap := r.Approval
	return ap != nil && ap.Ref != "" && ap.FinishedAt.IsZero() && r.Status != RunWaitingForApproval && r.Status != RunApproved
}

// RunVote is one approver's verdict given through pier's API.
type RunVote struct {
	User    string    `json:"user"`
	Approve bool      `json:"approve"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
}

// RunDispatch records the dispatch. StartedAt is written before the call
// to GitHub or the webhook and At after it: a run with StartedAt and no
// At was interrupted mid-dispatch, and must be looked for, not
// dispatched again.
type RunDispatch struct {
	StartedAt     time.Time `json:"startedAt,omitzero"`
	At            time.Time `json:"at,omitzero"`
	WorkflowRunID int64     `json:"workflowRunId,omitempty"`
	Error         string    `json:"error,omitempty"`
}

// Done reports whether the dispatch reached its target: it has an
// outcome and it was not a failure.
func (d RunDispatch) Done() bool { return !d.At.IsZero() && d.Error == "" }

// RunEvent is one step in a run's life: a status change, or a note on the
// way (dispatch started, approval request opened).
type RunEvent struct {
	Seq   int64     `json:"seq"`
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	From  string    `json:"from,omitempty"`
	To    string    `json:"to,omitempty"`
	Note  string    `json:"note,omitempty"`
}

// RunLog is a line a workflow reported (Port's POST
// /v1/actions/runs/{id}/logs).
type RunLog struct {
	At                time.Time `json:"at"`
	Message           string    `json:"message"`
	TerminationStatus string    `json:"terminationStatus,omitempty"`
	// Actor is who wrote the line (Port's createdBy): the workflow's
	// token, or "" for lines stored before pier kept it.
	Actor string `json:"actor,omitempty"`
	// N is the line's place among its run's lines, from 1, where the
	// reader knows it; it is not stored, the order of the lines is.
	N int `json:"-"`
}

// RunFilter selects runs. Zero fields do not filter.
type RunFilter struct {
	Action    string
	Status    string
	Blueprint string
	Entity    string
	// Active selects runs that are not terminal.
	Active bool
	// Closing selects runs whose approval request waits to be closed
	// (Run.Closing).
	Closing bool
	// ApprovalSystem and ApprovalRef find the run behind an approval
	// request (a pull request's number).
	ApprovalSystem string
	ApprovalRef    string
	WorkflowRunID  int64
	// ExternalRunID, Requesters and Sources are Port's run filters
	// (external_run_id, user_email, source): the run the workflow
	// reported, runs asked for by any of these people, runs from any of
	// these sources. They are read from the run's JSON, not indexed.
	ExternalRunID string
	Requesters    []string
	Sources       []string
	// Limit bounds the answer (newest first); 0 means 100.
	Limit int
	// Before pages: only runs created before the run with this id (a run
	// that does not exist is ErrNotFound).
	Before string
}
