package runs

import (
	"context"
	"fmt"
	"math/bits"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

// trouble records a failure to open or check the run's approval request:
// the backoff before the next attempt (every path that advances the run
// honours it: webhooks, the sweep, a system's poll) and a run event with
// the system's answer, so that the run says why it waits. The event is
// written for the first failure, whenever the answer changes, and then at
// every doubling of the count, so that a long outage leaves a handful of
// events, not one per attempt. It returns the failure for the caller's
// log.
func (e *Engine) trouble(ctx context.Context, run store.Run, a *catalog.Action, what string, cause error) (bool, error) {
	msg := what + ": " + cause.Error()
	ev := e.backoff(&run.Approval.Retry, msg)
	if _, err := e.write(ctx, run, ev, a); err != nil {
		return false, err
	}
	return false, fmt.Errorf("run %s: %s", run.ID, msg)
}

// recovered records that the approval system answers again.
func (e *Engine) recovered(ctx context.Context, run store.Run, a *catalog.Action) (bool, error) {
	r := run.Approval.Retry
	run.Approval.Retry = store.RunRetry{}
	_, err := e.write(ctx, run, store.RunEvent{Actor: "pier", Note: fmt.Sprintf("approval system %s answers again, after %d failure(s)", run.Approval.System, r.Failures)}, a)
	return err == nil, err
}

// closeTrouble records a failure to close the run's approval request, as
// trouble does, and gives up after CloseAttempts failures in a row.
func (e *Engine) closeTrouble(ctx context.Context, run store.Run, a *catalog.Action, cause error) (bool, error) {
	ap := run.Approval
	msg := "close the approval request in " + ap.System + ": " + cause.Error()
	ev := e.backoff(&ap.CloseRetry, msg)
	if ap.CloseRetry.Failures >= e.opts.CloseAttempts {
		ap.FinishedAt, ap.CloseRetry.NextAt = e.opts.Now().UTC(), time.Time{}
		ev.Note = fmt.Sprintf("gave up closing the approval request after %d failures: %s", ap.CloseRetry.Failures, msg)
	}
	if _, err := e.write(ctx, run, ev, a); err != nil {
		return false, err
	}
	return false, fmt.Errorf("run %s: %s", run.ID, msg)
}

// backoff counts one more failure in r and schedules the next attempt;
// the event says so when the failure is worth an event.
func (e *Engine) backoff(r *store.RunRetry, msg string) store.RunEvent {
	r.Failures++
	wait := e.opts.Backoff(r.Failures)
	r.NextAt = e.opts.Now().UTC().Add(wait)
	ev := store.RunEvent{Actor: "pier"}
	if msg != r.Error || bits.OnesCount(uint(r.Failures)) == 1 {
		ev.Note = fmt.Sprintf("%s (failure %d; next attempt in %s)", msg, r.Failures, wait)
	}
	r.Error = msg
	return ev
}
