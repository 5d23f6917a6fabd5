package approval

import (
	"cmp"
	"context"
	"errors"

	"github.com/pierhq/pier/internal/approval/httpcap"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

// HTTPSystem is a System declared in the catalog (approvalSystems),
// reached through its HTTP requests: creation opens the approval, status
// is polled on the system's schedule, post-apply follows a dispatch and
// deletion any other end.
type HTTPSystem struct {
	Client *httpcap.System
	Name   string // http:NAME
	// Data returns the template data of a run: .run, .inputs, .entity,
	// .trigger, .action, .approval.
	Data func(run store.Run, a *catalog.Action) map[string]any
}

// Open sends the creation request. A system whose creation answer names
// no approval id (its later requests find the approval by .run.id) gets
// the run's id as the reference: the engine takes an empty one for "not
// yet requested" and would create the approval again on every step.
//
// An answer that says the approval was made but cannot be followed is
// Unusable: the run fails rather than create a second one, and the
// deletion request withdraws the first when it can do without its id.
func (h HTTPSystem) Open(ctx context.Context, run store.Run, a *catalog.Action, _ Rule) (Request, error) {
	st, err := h.Client.Create(ctx, h.Data(run, a))
	if errors.Is(err, httpcap.ErrUnusable) {
		u := &Unusable{Err: err}
		if !h.Client.DeletionNeedsID() {
			u.Ref = run.ID
		}
		return Request{}, u
	}
	if err != nil {
		return Request{}, err
	}
	return Request{Ref: cmp.Or(st.ID, run.ID), URL: st.URL}, nil
}

func (h HTTPSystem) Check(ctx context.Context, run store.Run, a *catalog.Action, _ Rule) (Decision, error) {
	st, err := h.Client.Status(ctx, h.Data(run, a))
	if err != nil {
		return Decision{}, err
	}
	switch st.Decision {
	case httpcap.Approved:
		return Decision{Outcome: Approved, Approvers: []string{h.Name}, DecidedBy: h.Name, Reason: st.Display}, nil
	case httpcap.Rejected:
		return Decision{Outcome: Declined, DecidedBy: h.Name, Reason: st.Display}, nil
	}
	return Decision{}, nil // pending: the engine expires it at the run's deadline
}

func (HTTPSystem) Decided(context.Context, store.Run, *catalog.Action, Decision) error { return nil }

func (h HTTPSystem) Finish(ctx context.Context, run store.Run, a *catalog.Action) error {
	if run.Dispatch.Done() {
		return h.Client.PostApply(ctx, h.Data(run, a))
	}
	return h.Client.Delete(ctx, h.Data(run, a))
}
