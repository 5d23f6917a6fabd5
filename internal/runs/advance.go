package runs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pierhq/pier/internal/approval"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store"
)

// maxSteps bounds one Advance: a run has at most a handful of steps
// (open, decide, dispatch, close), plus retries after lost races.
const maxSteps = 12

// bg holds the context and wait group of background work.
type bg struct {
	mu  sync.Mutex
	ctx context.Context
	wg  sync.WaitGroup
}

// Start gives the engine the context its background work runs in;
// until then Kick does nothing (runs are picked up by Recover).
func (e *Engine) Start(ctx context.Context) {
	e.bg.mu.Lock()
	e.bg.ctx = ctx
	e.bg.mu.Unlock()
}

// Wait waits for background work to finish, after the Start context is
// cancelled.
func (e *Engine) Wait() { e.bg.wg.Wait() }

// Kick moves a run along in the background.
func (e *Engine) Kick(id string) {
	e.bg.mu.Lock()
	ctx := e.bg.ctx
	if ctx == nil || ctx.Err() != nil {
		e.bg.mu.Unlock()
		return
	}
	e.bg.wg.Add(1)
	e.bg.mu.Unlock()
	go func() {
		defer e.bg.wg.Done()
		if err := e.Advance(ctx, id); err != nil && ctx.Err() == nil {
			e.opts.Logger.Warn("run: will retry on the next sweep", "id", id, "err", err)
		}
	}()
}

// Advance moves a run as far as it can go now: opens its approval
// request, takes the decision, dispatches, closes the request. It
// returns when the run waits for something outside pier.
func (e *Engine) Advance(ctx context.Context, id string) error {
	if e.opts.Leader != nil {
		f, ok := e.opts.Leader()
		if !ok {
			if e.opts.Elsewhere != nil {
				e.opts.Elsewhere(ctx, id)
			}
			return nil
		}
		ctx = store.WithFence(ctx, f)
	}
	unlock := e.lock(id)
	defer unlock()
	for range maxSteps {
		run, err := e.store.Run(ctx, id)
		if err != nil {
			return err
		}
		moved, err := e.step(ctx, run)
		if errors.Is(err, store.ErrConflict) {
			continue // someone else moved it: look again
		}
		if err != nil || !moved {
			return err
		}
	}
	return fmt.Errorf("run %s: still moving after %d steps", id, maxSteps)
}

// step takes the run's next step and reports whether it moved.
func (e *Engine) step(ctx context.Context, run store.Run) (bool, error) {
	a, ok := e.action(run.Action)
	if !ok {
		if run.Status == store.RunWaitingForApproval || run.Status == store.RunApproved && run.Dispatch.StartedAt.IsZero() {
			_, err := e.write(ctx, run, store.RunEvent{Actor: "pier", To: store.RunFailure, Note: "the action was removed from the catalog"}, &catalog.Action{Identifier: run.Action})
			return err == nil, err
		}
		if run.Status == store.RunWaitingForApproval || run.Status == store.RunApproved {
			return false, nil
		}
		a = &catalog.Action{Identifier: run.Action} // its request is still to be closed
	}
	switch run.Status {
	case store.RunWaitingForApproval:
		return e.awaitApproval(ctx, run, a)
	case store.RunApproved:
		return e.dispatch(ctx, run, a)
	}
	return e.finishApproval(ctx, run, a)
}

// awaitApproval opens the run's approval request, follows what it holds
// now, or asks its system for a decision. A failure to reach the system
// is recorded on the run and retried with backoff.
func (e *Engine) awaitApproval(ctx context.Context, run store.Run, a *catalog.Action) (bool, error) {
	now := e.opts.Now()
	ap := run.Approval
	if ap == nil {
		return false, fmt.Errorf("run %s waits for approval but has no approval request", run.ID)
	}
	expired := !ap.ExpiresAt.IsZero() && !now.Before(ap.ExpiresAt)
	if !expired && now.Before(ap.Retry.NextAt) {
		return false, nil // backing off after a failure
	}
	expire := func(sys approval.System, reason string) (bool, error) {
		if ap.Retry.Error != "" {
			reason += " (last failure: " + ap.Retry.Error + ")"
		}
		return e.decide(ctx, run, a, sys, approval.Decision{Outcome: approval.Expired, Reason: reason})
	}
	sys, err := e.opts.Systems(ap.System)
	if err != nil {
		if expired {
			return expire(nil, "expired")
		}
		return e.trouble(ctx, run, a, "reach approval system "+ap.System, err)
	}
	rule, _, err := approval.RuleOf(a)
	if err != nil {
		return false, err
	}
	if ap.Ref == "" {
		if expired {
			return expire(sys, "expired before approval could be requested")
		}
		return e.open(ctx, run, a, sys, rule)
	}
	if f, ok := sys.(approval.Follower); ok {
		m, err := f.Follow(ctx, run)
		if err != nil {
			if expired {
				return expire(sys, "expired")
			}
			return e.trouble(ctx, run, a, "read the approval request in "+ap.System, err)
		}
		if m != nil {
			return e.follow(ctx, run, a, f, m)
		}
	}
	d, err := sys.Check(ctx, run, a, rule)
	if err != nil {
		if expired {
			return expire(sys, "expired")
		}
		return e.trouble(ctx, run, a, "check approval through "+ap.System, err)
	}
	if d.Outcome == approval.Pending && expired {
		d.Outcome, d.Reason = approval.Expired, fmt.Sprintf("no decision by %s", ap.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if d.Outcome == approval.Pending {
		if ap.Retry.Failures > 0 {
			return e.recovered(ctx, run, a)
		}
		return false, nil
	}
	return e.decide(ctx, run, a, sys, d)
}

// open asks the run's system to open its approval request. The intent
// is recorded first, so that after a crash in the middle the run says
// that the request may have reached the system (which may then hold two:
// declared systems get the run id as their creation's Idempotency-Key).
func (e *Engine) open(ctx context.Context, run store.Run, a *catalog.Action, sys approval.System, rule approval.Rule) (bool, error) {
	var note string
	if at := run.Approval.OpeningAt; !at.IsZero() {
		note = fmt.Sprintf("opening the approval request in %s was interrupted at %s and may have reached it; opening it again", run.Approval.System, at.Format(time.RFC3339))
	}
	run.Approval.OpeningAt = e.opts.Now().UTC()
	run, err := e.write(ctx, run, store.RunEvent{Actor: "pier", Note: note}, a)
	if err != nil {
		return false, err
	}
	ap := run.Approval
	req, err := sys.Open(ctx, run, a, rule)
	var unusable *approval.Unusable
	switch {
	case errors.As(err, &unusable):
		ap.Ref, ap.OpeningAt = unusable.Ref, time.Time{}
		_, err := e.write(ctx, run, store.RunEvent{Actor: "pier", To: store.RunFailure,
			Note: "the approval request cannot be followed, and is not opened again: " + err.Error()}, a)
		return err == nil, err
	case err != nil:
		return e.trouble(ctx, run, a, "request approval through "+ap.System, err)
	case req.Ref == "":
		// An empty ref reads as "not yet requested": storing it would
		// open another request on every step.
		return e.trouble(ctx, run, a, "request approval through "+ap.System, errors.New("the system opened a request but gave no reference to it"))
	}
	ap.Ref, ap.URL, ap.File, ap.ContentSHA, ap.SeenSHA = req.Ref, req.URL, req.File, req.Commit, req.Commit
	ap.OpeningAt, ap.Retry = time.Time{}, store.RunRetry{}
	_, err = e.write(ctx, run, store.RunEvent{Actor: "pier", Note: noteApprovalRequested + cmp.Or(req.URL, req.Ref)}, a)
	return err == nil, err
}

// decide records an approval decision, then tells the system.
func (e *Engine) decide(ctx context.Context, run store.Run, a *catalog.Action, sys approval.System, d approval.Decision) (bool, error) {
	now := e.opts.Now().UTC()
	ap := run.Approval
	ap.Approvers, ap.DecidedBy, ap.Reason, ap.HeadSHA, ap.DecidedAt = d.Approvers, d.DecidedBy, d.Reason, d.HeadSHA, now
	ev := store.RunEvent{Actor: cmp.Or(d.DecidedBy, "pier")}
	switch d.Outcome {
	case approval.Approved:
		ev.To, ev.Note = store.RunApproved, "approved by "+strings.Join(d.Approvers, ", ")
	case approval.Declined:
		ev.To, ev.Note = store.RunDeclined, "declined"
		if d.DecidedBy != "" {
			ev.Note += " by " + d.DecidedBy
		}
		if d.Reason != "" {
			ev.Note += ": " + d.Reason
		}
	default:
		ev.To, ev.Note = store.RunExpired, cmp.Or(d.Reason, "expired")
	}
	stored, err := e.write(ctx, run, ev, a)
	if err != nil {
		return false, err
	}
	if e.opts.Metrics != nil {
		e.opts.Metrics.ApprovalWait(run.Action, d.Outcome.String(), now.Sub(run.CreatedAt))
	}
	if sys != nil {
		if err := sys.Decided(ctx, stored, a, d); err != nil {
			e.opts.Logger.Warn("run: tell the approval system", "id", run.ID, "err", err)
		}
	}
	return true, nil
}

// dispatch starts an approved run, exactly once.
func (e *Engine) dispatch(ctx context.Context, run store.Run, a *catalog.Action) (bool, error) {
	disp, ok := e.opts.Dispatchers[a.InvocationMethod.Type]
	if !ok {
		_, err := e.write(ctx, run, store.RunEvent{Actor: "pier", To: store.RunFailure,
			Note: fmt.Sprintf("invocation method %q is not configured on this pier (GITHUB needs GitHub credentials: --github-token or the --github-app-* options)", a.InvocationMethod.Type)}, a)
		return err == nil, err
	}
	d := Dispatch{Run: run, Action: a, Data: e.TemplateData(run, a)}
	now := e.opts.Now().UTC()
	if !run.Dispatch.StartedAt.IsZero() {
		return e.recoverDispatch(ctx, run, a, disp, d)
	}
	if ap := run.Approval; ap != nil && ap.Required > 0 {
		sys, err := e.opts.Systems(ap.System)
		if err != nil {
			return false, err
		}
		if rc, ok := sys.(approval.Rechecker); ok {
			if err := rc.Recheck(ctx, run); errors.Is(err, approval.ErrStale) {
				ap.Approvers, ap.DecidedBy, ap.HeadSHA, ap.DecidedAt = nil, "", "", time.Time{}
				_, err := e.write(ctx, run, store.RunEvent{Actor: "pier", To: store.RunWaitingForApproval, Note: "the approved request changed before dispatch (" + err.Error() + "): approve it again"}, a)
				return err == nil, err
			} else if err != nil {
				return false, fmt.Errorf("re-check approval before dispatch: %w", err)
			}
		}
	}
	run.Dispatch.StartedAt = now
	run, err := e.write(ctx, run, store.RunEvent{Actor: "pier", Note: "dispatching"}, a)
	if err != nil {
		return false, err
	}
	d.Run = run
	started, err := disp.Dispatch(ctx, d)
	return e.recordDispatch(ctx, run, a, started, err, e.opts.Now().Sub(now), "")
}

// recoverDispatch handles a run whose dispatch started and has no
// recorded outcome: look for what it started before doing anything
// else.
func (e *Engine) recoverDispatch(ctx context.Context, run store.Run, a *catalog.Action, disp Dispatcher, d Dispatch) (bool, error) {
	started, found, err := disp.Find(ctx, d, run.Dispatch.StartedAt.Add(-time.Minute))
	switch {
	case errors.Is(err, ErrCannotFind):
		run.Dispatch.At = e.opts.Now().UTC()
		_, err := e.write(ctx, run, store.RunEvent{Actor: "pier", To: store.RunFailure,
			Note: "the dispatch was interrupted and its outcome is unknown; it is not sent again, so that it never runs twice"}, a)
		return err == nil, err
	case err != nil:
		return false, fmt.Errorf("look for the interrupted dispatch: %w", err)
	case found:
		return e.recordDispatch(ctx, run, a, started, nil, 0, "the interrupted dispatch started a workflow run: ")
	}
	if e.opts.Now().Sub(run.Dispatch.StartedAt) < e.opts.RedispatchAfter {
		return false, nil // GitHub may not have created the workflow run yet
	}
	run.Dispatch.StartedAt, run.Dispatch.Error = e.opts.Now().UTC(), ""
	run, err = e.write(ctx, run, store.RunEvent{Actor: "pier", Note: "no workflow run found for the interrupted dispatch: dispatching"}, a)
	if err != nil {
		return false, err
	}
	d.Run = run
	t0 := e.opts.Now()
	started, err = disp.Dispatch(ctx, d)
	return e.recordDispatch(ctx, run, a, started, err, e.opts.Now().Sub(t0), "")
}

// recordDispatch writes a dispatch's outcome. An unknown outcome keeps
// the run dispatching, to be looked for.
func (e *Engine) recordDispatch(ctx context.Context, run store.Run, a *catalog.Action, s Started, derr error, took time.Duration, how string) (bool, error) {
	if e.opts.Metrics != nil && took > 0 {
		e.opts.Metrics.Dispatched(run.Action, a.InvocationMethod.Type, took, derr)
	}
	if errors.Is(derr, store.ErrFenced) {
		// This replica stopped leading before the request left: the
		// next leader finds the dispatch started and looks for it.
		return false, derr
	}
	if derr != nil && Unknown(derr) {
		run.Dispatch.Error = derr.Error()
		_, err := e.write(ctx, run, store.RunEvent{Actor: "pier", Note: "dispatch outcome unknown: " + derr.Error()}, a)
		if err != nil {
			return false, err
		}
		return false, derr
	}
	run.Dispatch.At = e.opts.Now().UTC()
	if derr != nil {
		run.Dispatch.Error = derr.Error()
		run, err := e.write(ctx, run, store.RunEvent{Actor: "pier", To: store.RunFailure, Note: "dispatch failed: " + derr.Error()}, a)
		if err != nil {
			return false, err
		}
		return e.finishApproval(ctx, run, a)
	}
	run.Dispatch.WorkflowRunID, run.Dispatch.Error = s.WorkflowRunID, ""
	if s.Link != "" {
		run.Link = s.Link
	}
	ev := store.RunEvent{Actor: "pier", To: store.RunDispatched, Note: how + "dispatched " + describeInvocation(a)}
	if s.Final != "" {
		ev.To, run.Summary = s.Final, s.Summary
	}
	run, err := e.write(ctx, run, ev, a)
	if err != nil {
		return false, err
	}
	return e.finishApproval(ctx, run, a)
}

func describeInvocation(a *catalog.Action) string {
	im := a.InvocationMethod
	if im.Type == "GITHUB" {
		return fmt.Sprintf("workflow %s in %s/%s", im.Workflow, im.Org, im.Repo)
	}
	return "webhook to " + hostOf(im.URL)
}

// finishApproval closes the run's approval request once the run no
// longer needs it: dispatched, or ended before dispatch. Closing is
// durable work: a run stays Closing (and the sweep comes back to it)
// until its system took the request, or until CloseAttempts failures in
// a row, each recorded on the run.
func (e *Engine) finishApproval(ctx context.Context, run store.Run, a *catalog.Action) (bool, error) {
	if !run.Closing() {
		return false, nil
	}
	ap := run.Approval
	now := e.opts.Now().UTC()
	if now.Before(ap.CloseRetry.NextAt) {
		return false, nil
	}
	sys, err := e.opts.Systems(ap.System)
	if err == nil {
		err = sys.Finish(ctx, run, a)
	}
	if err != nil {
		return e.closeTrouble(ctx, run, a, err)
	}
	ap.FinishedAt, ap.CloseRetry.NextAt = now, time.Time{}
	ev := store.RunEvent{Actor: "pier", Note: "approval request closed"}
	if ap.System == approval.InApp {
		ev.Note = "" // pier's own: nothing was open elsewhere
	}
	_, err = e.write(ctx, run, ev, a)
	return err == nil, err
}

// entity is the entity a run acts on, as served now.
func (e *Engine) entity(run store.Run) *state.Entity {
	if run.Entity == "" {
		return nil
	}
	snap := e.opts.Catalog()
	if snap == nil {
		return nil
	}
	return snap.Entity(run.Blueprint, run.Entity)
}
