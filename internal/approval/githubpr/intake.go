package githubpr

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v62/github"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/approval"
	"github.com/pierhq/pier/internal/runs"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/webhook"
)

// Runs is what the intake needs of the run engine.
type Runs interface {
	Request(ctx context.Context, req runs.Request) (store.Run, error)
	// Pull moves the run behind an approval request along, and reports
	// whether there is one.
	Pull(ctx context.Context, system, ref string) (bool, error)
}

// Intake handles the catalog repository's pull request webhooks. A
// webhook is only ever a hint to look again: the run's pull request is
// read through the API (Follow, Check), never from the payload, which
// anyone holding the webhook secret could have written.
type Intake struct {
	System *System
	Runs   Runs
	// Grants returns the rights of a pull request's author, the
	// requester of the run it asks for: a pull request is one more door,
	// and the roles apply to it as to the API.
	Grants func(ctx context.Context, login string) (*access.Grants, error)
}

// PullRequest handles pull_request webhooks. A pull request that has a
// run is looked at again (a new head is read, closing declines); one a
// person opened into the catalog's branch adding a run request becomes a
// run, approved by the pull request's reviews.
func (in Intake) PullRequest(ctx context.Context, dl webhook.Delivery) error {
	e, ok := dl.Payload.(*gh.PullRequestEvent)
	if !ok || !in.ours(e.GetRepo()) {
		return nil
	}
	n := e.GetNumber()
	if n == 0 {
		n = e.GetPullRequest().GetNumber()
	}
	found, err := in.Runs.Pull(ctx, approval.GitHub, strconv.Itoa(n))
	if err != nil || found {
		return err
	}
	switch e.GetAction() {
	case "opened", "reopened", "synchronize":
	default:
		return nil
	}
	pr := e.GetPullRequest()
	if pr.GetBase().GetRef() != in.System.Base || strings.HasPrefix(pr.GetHead().GetRef(), BranchPrefix) || pr.GetState() != "open" {
		return nil
	}
	return in.request(ctx, n, pr.GetUser().GetLogin(), pr.GetHead().GetSHA(), pr.GetHTMLURL())
}

// request turns a person's pull request adding a run request file into
// a run. A bad request is answered on the pull request; a later push is
// a new chance.
func (in Intake) request(ctx context.Context, n int, author, head, url string) error {
	s := in.System
	file, rf, err := s.RunRequest(ctx, n, head)
	var grants *access.Grants
	if err == nil && in.Grants != nil {
		grants, err = in.Grants(ctx, author)
	}
	if err == nil {
		_, err = in.Runs.Request(ctx, runs.Request{
			Action: rf.Action, Entity: rf.Entity, Inputs: rf.Properties, Requester: author, Source: "pull_request", Grants: grants,
			RequestKey: fmt.Sprintf("pr:%s/%s#%d", s.Owner, s.Repo, n),
			Approval:   &store.RunApproval{System: approval.GitHub, Ref: strconv.Itoa(n), URL: url, File: file, ContentSHA: head},
		})
	}
	var bad *BadRequest
	var re *runs.Error
	switch {
	case errors.Is(err, ErrNoRunRequest):
		return nil
	case errors.As(err, &re) && re.Code < 500:
		bad = &BadRequest{File: file, Field: re.Field, Message: re.Message}
	case errors.As(err, &bad):
	default:
		return err // worth GitHub's redelivery: pier or GitHub failed
	}
	return s.Refuse(ctx, n, bad)
}

// Review looks at a run's pull request again after a review.
func (in Intake) Review(ctx context.Context, dl webhook.Delivery) error {
	e, ok := dl.Payload.(*gh.PullRequestReviewEvent)
	if !ok || !in.ours(e.GetRepo()) {
		return nil
	}
	_, err := in.Runs.Pull(ctx, approval.GitHub, strconv.Itoa(e.GetPullRequest().GetNumber()))
	return err
}

// ours reports whether r is the catalog repository.
func (in Intake) ours(r *gh.Repository) bool {
	return strings.EqualFold(r.GetOwner().GetLogin(), in.System.Owner) && strings.EqualFold(r.GetName(), in.System.Repo)
}
