package approval

import (
	"context"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

// InAppSystem collects approvals through pier's own API (Port's PATCH
// /v1/actions/runs/{id}/approval, the path a web page's approve button
// uses). The votes live in the run itself, so there is nothing to open
// or close.
type InAppSystem struct {
	// Approvers supplies the organisation and team lookup; its Rule is
	// replaced by the action's.
	Approvers Approvers
	// RunURL links to the run, where it is approved.
	RunURL func(id string) string
	Now    func() time.Time
}

func (s InAppSystem) Open(_ context.Context, run store.Run, _ *catalog.Action, _ Rule) (Request, error) {
	return Request{Ref: run.ID, URL: s.RunURL(run.ID)}, nil
}

func (s InAppSystem) Check(ctx context.Context, run store.Run, _ *catalog.Action, rule Rule) (Decision, error) {
	votes := make([]Vote, len(run.Approval.Votes))
	for i, v := range run.Approval.Votes {
		votes[i] = Vote{User: v.User, Approve: v.Approve, At: v.At, Reason: v.Reason}
	}
	ap := s.Approvers
	ap.Rule = rule
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	return ap.Tally(ctx, run.Requester, votes, "", run.Approval.ExpiresAt, now)
}

func (InAppSystem) Decided(context.Context, store.Run, *catalog.Action, Decision) error { return nil }

func (InAppSystem) Finish(context.Context, store.Run, *catalog.Action) error { return nil }
