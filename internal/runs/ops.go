package runs

import (
	"cmp"
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/approval"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

// retry runs f on the latest version of the run until it does not lose
// a race. f returns the run to write and the event, or an error to stop.
func (e *Engine) retry(ctx context.Context, id string, f func(run store.Run, a *catalog.Action) (store.Run, store.RunEvent, error)) (store.Run, error) {
	for range maxSteps {
		run, err := e.Get(ctx, id)
		if err != nil {
			return store.Run{}, err
		}
		a, ok := e.action(run.Action)
		if !ok {
			a = &catalog.Action{Identifier: run.Action}
		}
		next, ev, err := f(run, a)
		if err != nil {
			return store.Run{}, err
		}
		stored, err := e.write(ctx, next, ev, a)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		return stored, err
	}
	return store.Run{}, refuse(503, "", "run %s is changing too often; try again", id)
}

// Report is what a workflow reports about its run (Port's PATCH
// /v1/actions/runs/{id}).
type Report struct {
	Status        string // SUCCESS, FAILURE or IN_PROGRESS; "" keeps it
	StatusLabel   string
	Link          string
	Summary       string
	ExternalRunID string
	Actor         string
}

// Report records a workflow's report. A finished run is frozen; a run
// not yet dispatched cannot be reported on.
func (e *Engine) Report(ctx context.Context, id string, r Report) (store.Run, error) {
	switch r.Status {
	case "", store.RunSuccess, store.RunFailure, store.RunInProgress:
	default:
		return store.Run{}, refuse(422, "status", "status %q: a workflow reports SUCCESS, FAILURE or IN_PROGRESS", r.Status)
	}
	return e.retry(ctx, id, func(run store.Run, _ *catalog.Action) (store.Run, store.RunEvent, error) {
		return applyReport(run, r)
	})
}

// applyReport is the change a report makes to run, refused when the run
// is not running.
func applyReport(run store.Run, r Report) (store.Run, store.RunEvent, error) {
	if err := reportable(run); err != nil {
		return run, store.RunEvent{}, err
	}
	if r.StatusLabel != "" {
		run.StatusLabel = r.StatusLabel
	}
	if r.Link != "" {
		run.Link = r.Link
	}
	if r.Summary != "" {
		run.Summary = r.Summary
	}
	if r.ExternalRunID != "" {
		run.ExternalRunID = r.ExternalRunID
	}
	ev := store.RunEvent{Actor: r.Actor, Note: "reported"}
	switch {
	case r.Status != "" && r.Status != run.Status:
		ev.To = r.Status
	case r.Status == "" && (run.Status == store.RunDispatched || run.Status == store.RunApproved):
		ev.To = store.RunInProgress
	}
	if r.StatusLabel != "" {
		ev.Note = "reported: " + r.StatusLabel
	}
	return run, ev, nil
}

// reportable refuses a report or a log line on a run that is not
// running — one rule for both, so that a workflow's log line and its
// PATCH get the same answer. A run whose dispatch started but has no
// recorded outcome (in flight, or a failure that may have reached
// GitHub) takes both: its workflow writing is the proof that it runs,
// and a report moves it to IN_PROGRESS, which stops the dispatch from
// being sent again.
func reportable(run store.Run) error { return Reportable(run) }

// Reportable is the rule as other doors use it: an entity write linked
// to a run (Port's run_id) is taken when a report would be.
func Reportable(run store.Run) error {
	switch {
	case store.RunTerminal(run.Status):
		return refuse(409, "status", "run %s is %s; a finished run does not change", run.ID, run.Status)
	case run.Status == store.RunApproved && !run.Dispatch.StartedAt.IsZero():
		return nil
	case run.Status != store.RunDispatched && run.Status != store.RunInProgress:
		return refuse(409, "status", "run %s is %s and has not been dispatched", run.ID, run.Status)
	}
	return nil
}

// Log appends a workflow's log line (Port's POST
// /v1/actions/runs/{id}/logs). A termination status ends the run and a
// status label labels it, both in one write once the line is stored. A
// run that cannot take them is refused before the line is stored, so
// that the caller gets one answer for all of it. (The line and the run
// are two writes: a report that ends the run between them still refuses
// the second.)
//
// The line is returned as stored, with its place among the run's lines
// (N) when it can be found again.
func (e *Engine) Log(ctx context.Context, id string, l store.RunLog, statusLabel, actor string) (store.Run, store.RunLog, error) {
	switch l.TerminationStatus {
	case "", store.RunSuccess, store.RunFailure:
	default:
		return store.Run{}, l, refuse(422, "terminationStatus", "terminationStatus %q: want SUCCESS or FAILURE", l.TerminationStatus)
	}
	run, err := e.Get(ctx, id)
	if err != nil {
		return store.Run{}, l, err
	}
	r := Report{Status: l.TerminationStatus, StatusLabel: statusLabel, Actor: actor}
	if err := reportable(run); err != nil {
		return store.Run{}, l, err
	}
	if l.At.IsZero() {
		l.At = e.opts.Now().UTC()
	}
	l.Actor = actor
	if err := e.store.AddRunLog(ctx, id, l); err != nil {
		return store.Run{}, l, err
	}
	l.N = e.placeOf(ctx, id, l)
	if r.Status == "" && r.StatusLabel == "" {
		return run, l, nil
	}
	run, err = e.retry(ctx, id, func(run store.Run, _ *catalog.Action) (store.Run, store.RunEvent, error) {
		return applyReport(run, r)
	})
	return run, l, err
}

// placeOf finds the line just stored among its run's lines (the last
// one equal to it), 0 if it is not there: the store keeps the order of
// lines, not a number per line.
func (e *Engine) placeOf(ctx context.Context, id string, l store.RunLog) int {
	ls, err := e.store.RunLogs(ctx, id)
	if err != nil {
		return 0
	}
	for i := len(ls) - 1; i >= 0; i-- {
		if ls[i].Message == l.Message && ls[i].Actor == l.Actor && ls[i].At.Equal(l.At) {
			return i + 1
		}
	}
	return 0
}

// Vote records an approver's verdict given through pier's API (the
// in-app approval system, Port's PATCH /v1/actions/runs/{id}/approval),
// under the action's rule, and takes the decision if there is one.
func (e *Engine) Vote(ctx context.Context, id, user string, approve bool, reason string) (store.Run, error) {
	run, err := e.retry(ctx, id, func(run store.Run, a *catalog.Action) (store.Run, store.RunEvent, error) {
		rule, err := e.mayVote(ctx, run, a, user)
		if err != nil {
			return run, store.RunEvent{}, err
		}
		if !approve && rule.RequireReason && strings.TrimSpace(reason) == "" {
			return run, store.RunEvent{}, refuse(422, "description", "declining a run of %s needs a reason (description)", a.Identifier)
		}
		votes := slices.DeleteFunc(slices.Clone(run.Approval.Votes), func(v store.RunVote) bool { return strings.EqualFold(v.User, user) })
		run.Approval.Votes = append(votes, store.RunVote{User: user, Approve: approve, Reason: reason, At: e.opts.Now().UTC()})
		note := "approved by " + user
		if !approve {
			note = "declined by " + user
		}
		return run, store.RunEvent{Actor: user, Note: note}, nil
	})
	if err != nil {
		return store.Run{}, err
	}
	if err := e.Advance(ctx, id); err != nil {
		e.opts.Logger.Warn("run: advance after vote", "id", id, "err", err)
	}
	return e.Get(ctx, run.ID)
}

// CanVote says whether user may approve or decline run through pier's
// own approval system now, under the action's rule — the checks Vote
// makes, without voting: the web portal shows the buttons (or why there
// are none) by it. The rule is returned for what it asks of a decline.
func (e *Engine) CanVote(ctx context.Context, run store.Run, user string) (approval.Rule, error) {
	a, ok := e.action(run.Action)
	if !ok {
		return approval.Rule{}, refuse(404, "", "action %q of run %s no longer exists", run.Action, run.ID)
	}
	return e.mayVote(ctx, run, a, user)
}

// mayVote is the rule of who may vote on a run in pier.
func (e *Engine) mayVote(ctx context.Context, run store.Run, a *catalog.Action, user string) (approval.Rule, error) {
	if run.Status != store.RunWaitingForApproval || run.Approval == nil {
		return approval.Rule{}, refuse(409, "", "run %s is %s, not waiting for approval", run.ID, run.Status)
	}
	if run.Approval.System != approval.InApp {
		return approval.Rule{}, refuse(409, "", "run %s is approved through %s: %s", run.ID, run.Approval.System, cmp.Or(run.Approval.URL, run.Approval.Ref))
	}
	rule, _, err := approval.RuleOf(a)
	if err != nil {
		return approval.Rule{}, err
	}
	who := e.opts.Approvers
	who.Rule = rule
	if strings.EqualFold(user, run.Requester) && !rule.AllowRequester {
		return rule, refuse(403, "", "%s requested run %s and may not approve or decline it", user, run.ID)
	}
	ok, err := who.Allowed(ctx, user)
	if err != nil {
		return rule, err
	}
	if !ok {
		return rule, refuse(403, "", "%s is not an approver of action %s", user, a.Identifier)
	}
	return rule, nil
}

// Cancel cancels a run that has not been dispatched; only its requester
// may.
func (e *Engine) Cancel(ctx context.Context, id, user string) (store.Run, error) {
	unlock := e.lock(id) // not while a dispatch is in flight
	run, err := e.retry(ctx, id, func(run store.Run, _ *catalog.Action) (store.Run, store.RunEvent, error) {
		if !strings.EqualFold(user, run.Requester) {
			return run, store.RunEvent{}, refuse(403, "", "only %s, who requested run %s, may cancel it", run.Requester, id)
		}
		if run.Status != store.RunWaitingForApproval && (run.Status != store.RunApproved || !run.Dispatch.StartedAt.IsZero()) {
			return run, store.RunEvent{}, refuse(409, "", "run %s is %s; only a run not yet dispatched can be cancelled", id, run.Status)
		}
		return run, store.RunEvent{Actor: user, To: store.RunCancelled, Note: "cancelled by " + user}, nil
	})
	unlock()
	if err != nil {
		return store.Run{}, err
	}
	e.Kick(id) // close its approval request
	return run, nil
}

// runIDPattern finds a run id in a workflow run's title.
var runIDPattern = regexp.MustCompile(`\br_[a-z2-7]{16}\b`)

// WorkflowRun is what a workflow_run webhook says.
type WorkflowRun struct {
	ID           int64
	DisplayTitle string
	Status       string
	Conclusion   string
	HTMLURL      string
}

// WorkflowRunUpdated applies a workflow_run webhook to the run it
// belongs to: found by the workflow run's id, or by the run id in its
// title. It reports whether the workflow run is one of pier's.
func (e *Engine) WorkflowRunUpdated(ctx context.Context, wr WorkflowRun) (bool, error) {
	var id string
	if rs, err := e.store.Runs(ctx, store.RunFilter{WorkflowRunID: wr.ID, Limit: 1}); err != nil {
		return false, err
	} else if len(rs) == 1 {
		id = rs[0].ID
	} else if m := runIDPattern.FindString(wr.DisplayTitle); m != "" {
		id = m
	} else {
		return false, nil
	}
	unlock := e.lock(id)
	defer unlock()
	_, err := e.progress(ctx, id, Progress{WorkflowRunID: wr.ID, Link: wr.HTMLURL, Status: WorkflowStatus(wr.Status, wr.Conclusion)}, "github")
	var re *Error
	if errors.As(err, &re) && re.Code == 404 {
		return false, nil
	}
	return err == nil, err
}

// progress moves a dispatched run after what its workflow run shows. A
// run still recorded as dispatching is dispatched: the workflow run is
// the proof.
func (e *Engine) progress(ctx context.Context, id string, p Progress, actor string) (store.Run, error) {
	run, err := e.retry(ctx, id, func(run store.Run, a *catalog.Action) (store.Run, store.RunEvent, error) {
		ev := store.RunEvent{Actor: actor}
		if run.Status == store.RunApproved && !run.Dispatch.StartedAt.IsZero() {
			run.Dispatch.At, run.Dispatch.Error = e.opts.Now().UTC(), ""
			ev.To, ev.Note = store.RunDispatched, "dispatched: workflow run found"
		} else if run.Status != store.RunDispatched && run.Status != store.RunInProgress {
			return run, ev, errNoChange
		}
		changed := ev.To != ""
		if p.WorkflowRunID != 0 && run.Dispatch.WorkflowRunID != p.WorkflowRunID {
			run.Dispatch.WorkflowRunID, changed = p.WorkflowRunID, true
		}
		if p.Link != "" && run.Link == "" {
			run.Link, changed = p.Link, true
		}
		follow := a.InvocationMethod.ReportWorkflowStatus == nil || *a.InvocationMethod.ReportWorkflowStatus
		switch {
		case p.Status == store.RunInProgress && run.Status == store.RunDispatched:
			ev.To, ev.Note = store.RunInProgress, "workflow run started"
		case (p.Status == store.RunSuccess || p.Status == store.RunFailure) && follow:
			ev.To, ev.Note = p.Status, "workflow run completed"
		}
		if ev.To == "" && !changed {
			return run, ev, errNoChange
		}
		return run, ev, nil
	})
	if err == errNoChange {
		return e.Get(ctx, id)
	}
	return run, err
}

// errNoChange stops retry without writing.
var errNoChange = errors.New("no change")

// Track polls a dispatched run's workflow run, for when webhooks are
// missed.
func (e *Engine) Track(ctx context.Context, run store.Run) error {
	a, ok := e.action(run.Action)
	if !ok {
		return nil
	}
	tr, ok := e.opts.Dispatchers[a.InvocationMethod.Type].(Tracker)
	if !ok {
		return nil
	}
	p, found, err := tr.Track(ctx, Dispatch{Run: run, Action: a})
	if err != nil || !found {
		return err
	}
	unlock := e.lock(run.ID)
	defer unlock()
	_, err = e.progress(ctx, run.ID, p, "pier")
	return err
}

// Sweep looks at every unfinished run: takes decisions that webhooks
// missed, expires approvals, finishes interrupted dispatches, polls
// workflow runs, and closes the approval requests of runs that ended
// (retrying those that failed to close). GitHub's rate limit is shared
// by every run, so a run is asked about at most every ApprovalPollEvery
// (waiting) or TrackEvery (running) — webhooks bring news sooner —
// except when its approval has expired. Runs waiting on a declared HTTP
// system are left to PollSystem, on that system's schedule.
func (e *Engine) Sweep(ctx context.Context) error {
	runs, err := e.store.Runs(ctx, store.RunFilter{Active: true, Limit: sweepLimit})
	if err != nil {
		return err
	}
	e.warnIfFull("sweep", len(runs))
	closing, err := e.store.Runs(ctx, store.RunFilter{Closing: true, Limit: sweepLimit})
	if err != nil {
		return err
	}
	e.warnIfFull("sweep of approval requests to close", len(closing))
	for _, run := range closing {
		if store.RunTerminal(run.Status) { // the others are active, listed above
			runs = append(runs, run)
		}
	}
	now := e.opts.Now()
	e.mu.Lock()
	polled := make(map[string]time.Time, len(runs))
	for _, run := range runs {
		if t, ok := e.polled[run.ID]; ok {
			polled[run.ID] = t
		}
	}
	e.polled = polled // forget finished runs
	e.mu.Unlock()
	due := func(id string, every time.Duration) bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		if t, ok := e.polled[id]; ok && now.Sub(t) < every {
			return false
		}
		e.polled[id] = now
		return true
	}
	var errs []error
	for _, run := range runs {
		if ctx.Err() != nil {
			break
		}
		ap := run.Approval
		expired := ap != nil && !ap.ExpiresAt.IsZero() && !now.Before(ap.ExpiresAt)
		switch {
		case run.Status == store.RunWaitingForApproval && ap != nil && ap.Ref != "" && !expired &&
			(strings.HasPrefix(ap.System, "http:") || !due(run.ID, e.opts.ApprovalPollEvery)):
			continue
		case run.Status == store.RunDispatched || run.Status == store.RunInProgress:
			if err := e.Advance(ctx, run.ID); err != nil {
				errs = append(errs, err)
			}
			if !due(run.ID, e.opts.TrackEvery) {
				continue
			}
			if err := e.Track(ctx, run); err != nil {
				errs = append(errs, err)
			}
		default:
			if err := e.Advance(ctx, run.ID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// PollSystem asks a declared approval system about each run waiting on
// it.
func (e *Engine) PollSystem(ctx context.Context, system string) error {
	runs, err := e.store.Runs(ctx, store.RunFilter{Status: store.RunWaitingForApproval, ApprovalSystem: system, Limit: sweepLimit})
	if err != nil {
		return err
	}
	e.warnIfFull("poll approval system "+system, len(runs))
	var errs []error
	for _, run := range runs {
		if ctx.Err() != nil {
			break
		}
		if err := e.Advance(ctx, run.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sweepLimit bounds the runs one Sweep or PollSystem looks at: the most
// the store answers at once.
const sweepLimit = 1000

// warnIfFull says when a sweep saw as many runs as it may: older runs
// were left out, and wait for the newer ones to end.
func (e *Engine) warnIfFull(what string, n int) {
	if n >= sweepLimit {
		e.opts.Logger.Warn("run: "+what+" looked at only the newest runs; older ones wait until fewer are unfinished", "limit", sweepLimit)
	}
}

// Pull finds the run behind an approval request (a pull request number)
// and moves it along: webhooks about the request are a hint to look
// again, never the decision itself. It reports whether there is such a
// run.
func (e *Engine) Pull(ctx context.Context, system, ref string) (bool, error) {
	rs, err := e.store.Runs(ctx, store.RunFilter{ApprovalSystem: system, ApprovalRef: ref, Limit: 1})
	if err != nil || len(rs) == 0 {
		return false, err
	}
	// In the background: GitHub waits ten seconds for a webhook's
	// answer, and looking again may take several API calls.
	e.Kick(rs[0].ID)
	return true, nil
}
