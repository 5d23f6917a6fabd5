package runs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/pierhq/pier/internal/approval"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

// follow applies a move of the run's approval request (a pull request's
// new head) to the run, so that what is approved is what runs:
//
//   - pier's own request: a head holding exactly the run's request (as
//     pier wrote it) is one approvals may count on; any other head counts
//     for nothing (its system put pier's commit back, when it could).
//   - a person's request: the head's request is validated as at request
//     time (entity, its condition, the inputs) and becomes the run's
//     inputs; a head asking for another action or entity, or withdrawing
//     the request, declines the run; a head that does not validate (or
//     cannot be read) leaves the run waiting for one that does, its
//     approvals not counting.
//
// Each move is a run event naming the commit and who pushed it, and what
// pier made of it is said on the request for its reviewers.
func (e *Engine) follow(ctx context.Context, run store.Run, a *catalog.Action, f approval.Follower, m *approval.Move) (bool, error) {
	ap := run.Approval
	first := ap.SeenSHA == ""
	ap.SeenSHA = m.Commit
	at := fmt.Sprintf("%.7s", m.Commit)
	if len(m.By) > 0 {
		at += " (pushed by " + strings.Join(m.By, ", ") + ")"
	}
	ev := store.RunEvent{Actor: "pier"}
	var tell string
	switch {
	case m.Own && m.Intact:
		if m.Commit != ap.ContentSHA {
			ap.ContentSHA, ap.Pushers = m.Commit, m.By
			ev.Note = "the pull request's head " + at + " holds exactly the run's request; approvals count on it"
		}
	case m.Own:
		ev.Note = fmt.Sprintf("a push to pier's branch, %s, changed it: %s; approvals do not count until it holds exactly the run's request again", at, m.Problem)
		if m.Restored {
			ev.Note += fmt.Sprintf("; pier put its commit %.7s back", ap.ContentSHA)
		}
		tell = "⚠️ This branch belongs to pier. " + upper(ev.Note) + ". What runs is the request pier opened this pull request with."
	case m.Withdrawn:
		return e.decideMove(ctx, run, a, m, "the request was withdrawn: "+m.Problem)
	case m.Asked == nil:
		ev.Note = fmt.Sprintf("the pull request's head %s holds no run request pier can read: %s; the run waits for a head that does", at, m.Problem)
		tell = fmt.Sprintf("pier cannot run the request at %s: %s. The run waits for a commit that fixes it; approvals of this commit do not count.", at, m.Problem)
	case m.Asked.Action != run.Action || m.Asked.Entity != run.Entity:
		return e.decideMove(ctx, run, a, m, fmt.Sprintf("the pull request's head %s asks for another run (%s); ask for it in a new pull request", at, describeAsk(m.Asked)))
	default:
		snap := e.opts.Catalog()
		_, err := checkEntity(snap, a, m.Asked.Entity)
		var inputs map[string]any
		if err == nil {
			inputs, err = checkInputs(snap, a, m.Asked.Inputs)
		}
		var bad *Error
		switch {
		case errors.As(err, &bad) && bad.Code < 500:
			where := m.Asked.File
			if bad.Field != "" {
				where += " (" + bad.Field + ")"
			}
			ev.Note = fmt.Sprintf("the pull request's head %s does not validate: %s: %s; the run waits for a head that does", at, where, bad.Message)
			tell = fmt.Sprintf("pier cannot run the request at %s: %s: %s. The run waits for a commit that fixes it; approvals of this commit do not count.", at, where, bad.Message)
		case err != nil:
			return false, err
		default:
			changed := describeChanges(run.Inputs, inputs)
			run.Inputs, ap.ContentSHA, ap.Pushers, ap.File = inputs, m.Commit, m.By, m.Asked.File
			switch {
			case changed != "":
				ev.Note = fmt.Sprintf("the run's inputs changed at %s: %s; approvals count on it", at, changed)
				tell = fmt.Sprintf("pier will run the request as of %s: %s. Approvals count on this commit, not from whoever pushed it.", at, changed)
			case !first:
				ev.Note = "the pull request's head " + at + " asks for the same run; approvals count on it"
			}
		}
	}
	stored, err := e.write(ctx, run, ev, a)
	if err != nil {
		return false, err
	}
	if tell != "" {
		if err := f.Tell(ctx, stored, tell); err != nil {
			e.opts.Logger.Warn("run: tell the approval request", "id", run.ID, "err", err)
		}
	}
	return true, nil
}

// decideMove declines the run for a move that makes it another request.
func (e *Engine) decideMove(ctx context.Context, run store.Run, a *catalog.Action, m *approval.Move, reason string) (bool, error) {
	sys, err := e.opts.Systems(run.Approval.System)
	if err != nil {
		return false, err
	}
	return e.decide(ctx, run, a, sys, approval.Decision{Outcome: approval.Declined, Reason: reason, HeadSHA: m.Commit})
}

func describeAsk(a *approval.Asked) string {
	s := "action " + cmp.Or(a.Action, `""`)
	if a.Entity != "" {
		s += " on " + a.Entity
	}
	return s
}

// describeChanges lists what changed between two sets of inputs, in
// name order: "days: 12 → 20, note: (none) → \"x\"".
func describeChanges(before, after map[string]any) string {
	names := slices.Sorted(maps.Keys(before))
	for k := range after {
		if _, ok := before[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var out []string
	for _, k := range names {
		b, inB := before[k]
		a, inA := after[k]
		if inA == inB && reflect.DeepEqual(canonical(b), canonical(a)) {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s → %s", k, show(b, inB), show(a, inA)))
	}
	return strings.Join(out, ", ")
}

// canonical is v as JSON reads it back, so that json.Number("12") and
// 12.0 compare equal.
func canonical(v any) any {
	b, _ := json.Marshal(v)
	var out any
	json.Unmarshal(b, &out)
	return out
}

func show(v any, present bool) string {
	if !present {
		return "(none)"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func upper(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
