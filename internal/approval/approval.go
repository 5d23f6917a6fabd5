// Package approval decides whether a self-service action run may go
// ahead, and defines the interface every approval system implements.
//
// The rule an action declares in git (how many approvals, from whom,
// whether the requester counts, when approval is needed, how long it may
// take) is the same whichever system collects the approvals: a pull
// request on the catalog repository (githubpr), pier's own API (inapp),
// or an external system declared in the catalog (httpcap). A system only
// gathers votes; Tally and Decide turn them into a decision, so every
// system applies the rule identically.
package approval

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

// System names.
const (
	GitHub = "github" // a pull request on the catalog repository
	InApp  = "pier"   // PATCH /v1/actions/runs/{id}/approval
)

// DefaultExpiry is how long a run waits for approval unless the action
// says otherwise.
const DefaultExpiry = 7 * 24 * time.Hour

// Outcome is where an approval stands.
type Outcome int

const (
	Pending Outcome = iota
	Approved
	Declined
	Expired
)

func (o Outcome) String() string {
	switch o {
	case Approved:
		return "approved"
	case Declined:
		return "declined"
	case Expired:
		return "expired"
	}
	return "pending"
}

// Decision is an outcome with who made it and why.
type Decision struct {
	Outcome Outcome
	// Approvers are the allowed approvers whose approvals counted.
	Approvers []string
	// DecidedBy is who declined (or the last approver to approve).
	DecidedBy string
	Reason    string
	// HeadSHA is the pull request head the decision was made on.
	HeadSHA string
}

// Request is an approval request opened in a system.
type Request struct {
	Ref string // the system's id for it: a pull request number
	URL string // where a person sees it
	// File and Commit, for a Follower, are the request file and the
	// commit that holds the run as opened: approvals count on Commit.
	File, Commit string
}

// System collects approvals for runs. Implementations keep no state of
// their own beyond the run: the daemon may restart between any two
// calls.
type System interface {
	// Open asks for approval of run. It is called once per run, and
	// again only if it failed; it must tolerate finding its own earlier,
	// half-finished request (a branch already there).
	Open(ctx context.Context, run store.Run, a *catalog.Action, rule Rule) (Request, error)
	// Check returns the decision as the system sees it now.
	Check(ctx context.Context, run store.Run, a *catalog.Action, rule Rule) (Decision, error)
	// Decided tells the system (and, through it, people) the outcome.
	Decided(ctx context.Context, run store.Run, a *catalog.Action, d Decision) error
	// Finish closes the request once the run is over: dispatched,
	// declined, expired or cancelled.
	Finish(ctx context.Context, run store.Run, a *catalog.Action) error
}

// Rechecker is a System that must confirm a decision immediately before
// dispatch, because what was approved can change after the decision (a
// pull request gets a new commit).
type Rechecker interface {
	Recheck(ctx context.Context, run store.Run) error
}

// ErrStale is returned by Recheck when the approved request changed
// since the decision: its approvals no longer count.
var ErrStale = errors.New("approval is stale")

// Follower is a System whose request can change after it was opened: a
// pull request gets new commits. Before each decision the engine asks it
// what the request holds now, so that approvals only ever count for what
// will run: a person's new head becomes the run's inputs (once it
// validates), and a push to a request of pier's own counts for nothing.
type Follower interface {
	// Follow reads the request as it stands. It returns nil when its
	// head is the one the run last saw (RunApproval.SeenSHA), or when the
	// request is closed (Check declines it then).
	Follow(ctx context.Context, run store.Run) (*Move, error)
	// Tell says on the request what pier made of a move, for the people
	// who review it.
	Tell(ctx context.Context, run store.Run, msg string) error
}

// Move is a request whose head moved to a commit the run has not seen.
type Move struct {
	Commit string
	// By are who pushed Commit (GitHub logins).
	By []string
	// Own is set for a request pier opened itself. Intact says whether
	// Commit holds exactly the run's request as pier wrote it; Restored,
	// that it did not and pier put its own commit back.
	Own, Intact, Restored bool
	// Asked is what a person's request asks for at Commit. Without it,
	// Problem says why the head holds no request pier can read, and
	// Withdrawn that the request file is gone.
	Asked     *Asked
	Problem   string
	Withdrawn bool
}

// Asked is a run request as a person wrote it.
type Asked struct {
	File           string
	Action, Entity string
	Inputs         map[string]any
}

// Unusable is an error after which the system holds a request pier
// cannot follow: it answered that it opened one, but not so that pier
// can refer to it. Opening again would make a second; the run fails
// instead. Ref, when set, is what Finish can withdraw it by.
type Unusable struct {
	Err error
	Ref string
}

func (u *Unusable) Error() string { return u.Err.Error() }
func (u *Unusable) Unwrap() error { return u.Err }

// Rule is an action's approval rule, resolved: defaults applied and
// Port's requiredApproval mapped.
type Rule struct {
	// Required is the number of distinct allowed approvers needed.
	Required int
	// Users and Teams allow approvers; both empty allows anyone but (by
	// default) the requester. Teams are "org/slug" or "slug" (of the
	// catalog repository's organisation).
	Users []string
	Teams []string
	// All is Port's requiredApproval {type: ALL}: every listed user must
	// approve.
	All            bool
	AllowRequester bool
	// AllowLastPusher lets whoever pushed the approved head count among
	// its approvers (GitHub's "require approval of the most recent
	// reviewable push", turned off).
	AllowLastPusher bool
	Expiry          time.Duration
	RequireReason   bool
	System          string
}

// RuleOf returns the action's approval rule and whether the action has
// one. pier's `approval` wins over Port's `requiredApproval`; Port's
// `true` and {type: ANY} need one approval from anyone allowed, {type:
// ALL} one from each listed user.
func RuleOf(a *catalog.Action) (Rule, bool, error) {
	if ap := a.Approval; ap != nil {
		exp := DefaultExpiry
		if ap.ExpiresIn != "" {
			d, err := ParseExpiry(ap.ExpiresIn)
			if err != nil {
				return Rule{}, false, fmt.Errorf("action %s: approval.expiresIn: %w", a.Identifier, err)
			}
			exp = d
		}
		r := Rule{
			Required: max(ap.Approvals, 1), AllowRequester: ap.AllowRequester, AllowLastPusher: ap.AllowLastPusher, Expiry: exp,
			RequireReason: ap.RequireReason, System: ap.System,
		}
		if r.System == "" {
			r.System = GitHub
		}
		if ap.Approvers != nil {
			r.Users, r.Teams = ap.Approvers.Users, ap.Approvers.Teams
		}
		return r, true, nil
	}
	raw := strings.TrimSpace(string(a.RequiredApproval))
	switch raw {
	case "", "false", "null":
		return Rule{}, false, nil
	case "true":
		return Rule{Required: 1, Expiry: DefaultExpiry, System: GitHub}, true, nil
	}
	var v struct {
		Type string `json:"type"`
	}
	if err := catalog.Decode([]byte(raw), &v); err != nil {
		return Rule{}, false, fmt.Errorf("action %s: requiredApproval: %w", a.Identifier, err)
	}
	return Rule{Required: 1, All: v.Type == "ALL", Expiry: DefaultExpiry, System: GitHub}, true, nil
}

var expiryRe = regexp.MustCompile(`^([0-9]+)d(.*)$`)

// ParseExpiry reads a Go duration that may start with a number of days
// ("7d", "1d12h").
func ParseExpiry(s string) (time.Duration, error) {
	var days time.Duration
	if m := expiryRe.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return 0, fmt.Errorf("%q: %w", s, err)
		}
		days, s = time.Duration(n)*24*time.Hour, m[2]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration such as 7d, 36h or 90m", s)
	}
	return days + d, nil
}
