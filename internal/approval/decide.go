package approval

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Vote is one person's standing verdict on a run.
type Vote struct {
	User    string
	Approve bool // false: declined (a change request on GitHub)
	At      time.Time
	// Commit is what the vote was given on (a pull request's head
	// commit); empty for systems without commits.
	Commit string
	Reason string
}

// Membership answers whether user belongs to org's team. The GitHub
// client implements it (cached).
type Membership interface {
	TeamMember(ctx context.Context, org, team, user string) (bool, error)
}

// Approvers decides who may approve under a rule.
type Approvers struct {
	Rule Rule
	// Org is the organisation of teams written without one.
	Org string
	// Teams checks team membership; nil makes every team empty.
	Teams Membership
	// Pushers pushed the commit votes are counted on: their approvals do
	// not count unless the rule allows the last pusher.
	Pushers []string
}

// Allowed reports whether user is an allowed approver. A rule that lists
// nobody allows anyone.
func (ap Approvers) Allowed(ctx context.Context, user string) (bool, error) {
	r := ap.Rule
	if len(r.Users) == 0 && len(r.Teams) == 0 {
		return true, nil
	}
	if slices.ContainsFunc(r.Users, func(u string) bool { return sameUser(u, user) }) {
		return true, nil
	}
	if ap.Teams == nil {
		return false, nil
	}
	for _, t := range r.Teams {
		org, slug, ok := strings.Cut(t, "/")
		if !ok {
			org, slug = ap.Org, t
		}
		in, err := ap.Teams.TeamMember(ctx, org, slug, user)
		if err != nil {
			return false, fmt.Errorf("team %s/%s: %w", org, slug, err)
		}
		if in {
			return true, nil
		}
	}
	return false, nil
}

// sameUser compares logins as GitHub does: case-insensitively.
func sameUser(a, b string) bool { return strings.EqualFold(a, b) }

// Tally applies the rule to the standing votes of a run requested by
// requester. head, when not empty, is the commit approvals must have been
// given on: an approval of an older commit is stale. Votes of people
// who are not allowed, and the requester's own (unless the rule allows
// it), do not count either way; a pusher's approval does not count
// (unless the rule allows the last pusher). Any counted decline
// declines the run; otherwise enough counted approvals approve it;
// otherwise it expires at expiresAt or stays pending.
func (ap Approvers) Tally(ctx context.Context, requester string, votes []Vote, head string, expiresAt, now time.Time) (Decision, error) {
	d := Decision{HeadSHA: head}
	var approvers []string
	var last time.Time
	for _, v := range votes {
		if sameUser(v.User, requester) && !ap.Rule.AllowRequester {
			continue
		}
		ok, err := ap.Allowed(ctx, v.User)
		if err != nil {
			return Decision{}, err
		}
		if !ok {
			continue
		}
		if !v.Approve {
			return Decision{Outcome: Declined, DecidedBy: v.User, Reason: v.Reason, HeadSHA: head}, nil
		}
		if head != "" && v.Commit != head {
			continue // stale: given on an older commit
		}
		if !ap.Rule.AllowLastPusher && slices.ContainsFunc(ap.Pushers, func(p string) bool { return sameUser(p, v.User) }) {
			continue // approving one's own push
		}
		if !expiresAt.IsZero() && !v.At.IsZero() && !v.At.Before(expiresAt) {
			continue // given after the deadline
		}
		if !slices.ContainsFunc(approvers, func(u string) bool { return sameUser(u, v.User) }) {
			approvers = append(approvers, v.User)
			if !v.At.Before(last) {
				last, d.DecidedBy = v.At, v.User
			}
		}
	}
	slices.Sort(approvers)
	d.Approvers = approvers
	if ap.enough(approvers) {
		d.Outcome = Approved
		return d, nil
	}
	d.DecidedBy = ""
	if !expiresAt.IsZero() && !now.Before(expiresAt) {
		d.Outcome = Expired
		d.Reason = fmt.Sprintf("no decision by %s", expiresAt.UTC().Format(time.RFC3339))
	}
	return d, nil
}

// enough reports whether the approvers satisfy the rule: Required of
// them, and under Port's ALL every listed user.
func (ap Approvers) enough(approvers []string) bool {
	if ap.Rule.All && len(ap.Rule.Users) > 0 {
		for _, u := range ap.Rule.Users {
			if !slices.ContainsFunc(approvers, func(a string) bool { return sameUser(a, u) }) {
				return false
			}
		}
		return true
	}
	return len(approvers) >= max(ap.Rule.Required, 1)
}

// Review is a pull request review as GitHub lists it.
type Review struct {
	User     string
	State    string // APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
	CommitID string
	Body     string
	At       time.Time
}

// ReviewVotes turns a pull request's reviews, in GitHub's chronological
// order, into standing votes: for each reviewer only the latest APPROVED
// or CHANGES_REQUESTED review counts, and a dismissed review takes the
// reviewer's verdict away (GitHub lists a dismissed review with state
// DISMISSED in its original place). Comments and pending reviews are no
// verdict.
func ReviewVotes(reviews []Review) []Vote {
	var order []string
	latest := map[string]*Vote{}
	for _, r := range reviews {
		key := strings.ToLower(r.User)
		switch r.State {
		case "APPROVED", "CHANGES_REQUESTED":
			if _, seen := latest[key]; !seen {
				order = append(order, key)
			}
			latest[key] = &Vote{User: r.User, Approve: r.State == "APPROVED", At: r.At, Commit: r.CommitID, Reason: r.Body}
		case "DISMISSED":
			if _, seen := latest[key]; seen {
				latest[key] = nil
			}
		}
	}
	votes := make([]Vote, 0, len(order))
	for _, k := range order {
		if v := latest[k]; v != nil {
			votes = append(votes, *v)
		}
	}
	return votes
}

// PullRequest is what the decision needs of a pull request.
type PullRequest struct {
	Open    bool
	HeadSHA string
	// Holds says whether the head holds exactly the run (its content is
	// the run's request): approvals count only then.
	Holds bool
}

// DecidePullRequest is the decision rule for a run approved on a pull
// request: closing the pull request declines the run; otherwise the
// reviews are tallied against the current head commit, whose approvals
// count only if it holds the run.
func (ap Approvers) DecidePullRequest(ctx context.Context, pr PullRequest, requester string, reviews []Review, expiresAt, now time.Time) (Decision, error) {
	if !pr.Open {
		return Decision{Outcome: Declined, Reason: "the pull request was closed", HeadSHA: pr.HeadSHA}, nil
	}
	votes := ReviewVotes(reviews)
	if !pr.Holds {
		// Declines still count; approvals of this head cannot.
		votes = slices.DeleteFunc(votes, func(v Vote) bool { return v.Approve })
	}
	return ap.Tally(ctx, requester, votes, pr.HeadSHA, expiresAt, now)
}
