package approval

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// teams is a fixed team membership: "org/team" -> members.
type teams map[string][]string

func (t teams) TeamMember(_ context.Context, org, team, user string) (bool, error) {
	if org == "broken" {
		return false, errors.New("GitHub is down")
	}
	return slices.Contains(t[org+"/"+team], user), nil
}

func TestDecidePullRequest(t *testing.T) {
	const head, old = "c2c2c2", "c1c1c1"
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	expires := t0.Add(7 * 24 * time.Hour)
	open := PullRequest{Open: true, HeadSHA: head, Holds: true}
	approve := func(user string, m int) Review {
		return Review{User: user, State: "APPROVED", CommitID: head, At: at(m)}
	}
	changes := func(user string, m int) Review {
		return Review{User: user, State: "CHANGES_REQUESTED", CommitID: head, At: at(m), Body: "not now"}
	}
	platform := teams{"acme/platform": {"pat", "sam"}}

	tests := []struct {
		name      string
		rule      Rule
		pr        PullRequest
		reviews   []Review
		now       time.Time
		want      Outcome
		approvers []string
		by        string
		pushers   []string
	}{
		{name: "no reviews yet", rule: Rule{Required: 1}, pr: open, want: Pending},
		{name: "one approval is enough", rule: Rule{Required: 1}, pr: open,
			reviews: []Review{approve("pat", 1)}, want: Approved, approvers: []string{"pat"}, by: "pat"},
		{name: "two needed, one given", rule: Rule{Required: 2}, pr: open,
			reviews: []Review{approve("pat", 1)}, want: Pending, approvers: []string{"pat"}},
		{name: "two needed, two given", rule: Rule{Required: 2}, pr: open,
			reviews: []Review{approve("sam", 1), approve("pat", 2)}, want: Approved, approvers: []string{"pat", "sam"}, by: "pat"},
		{name: "the same person twice is one approval", rule: Rule{Required: 2}, pr: open,
			reviews: []Review{approve("pat", 1), approve("PAT", 2)}, want: Pending, approvers: []string{"PAT"}},
		{name: "requester approving own run is ignored", rule: Rule{Required: 1}, pr: open,
			reviews: []Review{approve("alice", 1)}, want: Pending},
		{name: "requester may approve when the rule allows", rule: Rule{Required: 1, AllowRequester: true}, pr: open,
			reviews: []Review{approve("Alice", 1)}, want: Approved, approvers: []string{"Alice"}, by: "Alice"},
		{name: "approval on an older commit is stale", rule: Rule{Required: 1}, pr: open,
			reviews: []Review{{User: "pat", State: "APPROVED", CommitID: old, At: at(1)}}, want: Pending},
		{name: "stale approval then fresh one", rule: Rule{Required: 1}, pr: open,
			reviews: []Review{{User: "pat", State: "APPROVED", CommitID: old, At: at(1)}, approve("pat", 5)}, want: Approved, approvers: []string{"pat"}, by: "pat"},
		{name: "approval then change request by the same reviewer", rule: Rule{Required: 1}, pr: open,
			reviews: []Review{approve("pat", 1), changes("pat", 2)}, want: Declined, by: "pat"},
		{name: "change request then approval by the same reviewer", rule: Rule{Required: 1}, pr: open,
			reviews: []Review{changes("pat", 1), approve("pat", 2)}, want: Approved, approvers: []string{"pat"}, by: "pat"},
		{name: "a standing change request declines despite other approvals", rule: Rule{Required: 1}, pr: open,
			reviews: []Review{approve("pat", 1), changes("sam", 2)}, want: Declined, by: "sam"},
		{name: "change request on an older commit still declines", rule: Rule{Required: 1}, pr: open,
			reviews: []Review{{User: "sam", State: "CHANGES_REQUESTED", CommitID: old, At: at(1)}}, want: Declined, by: "sam"},
		{name: "change request by someone not allowed is ignored", rule: Rule{Required: 1, Teams: []string{"platform"}}, pr: open,
			reviews: []Review{changes("mallory", 1), approve("sam", 2)}, want: Approved, approvers: []string{"sam"}, by: "sam"},
		{name: "comments are no verdict", rule: Rule{Required: 1}, pr: open,
			reviews: []Review{approve("pat", 1), {User: "pat", State: "COMMENTED", CommitID: head, At: at(2)}}, want: Approved, approvers: []string{"pat"}, by: "pat"},
		{name: "a dismissed approval does not count", rule: Rule{Required: 1}, pr: open,
			reviews: []Review{{User: "pat", State: "DISMISSED", CommitID: head, At: at(1)}}, want: Pending},
		{name: "a dismissed change request lifts the decline", rule: Rule{Required: 1}, pr: open,
			reviews: []Review{approve("pat", 1), {User: "sam", State: "DISMISSED", CommitID: head, At: at(2)}}, want: Approved, approvers: []string{"pat"}, by: "pat"},
		{name: "team member counts", rule: Rule{Required: 1, Teams: []string{"platform"}}, pr: open,
			reviews: []Review{approve("sam", 1)}, want: Approved, approvers: []string{"sam"}, by: "sam"},
		{name: "non-member does not count", rule: Rule{Required: 1, Teams: []string{"platform"}}, pr: open,
			reviews: []Review{approve("mallory", 1)}, want: Pending},
		{name: "team with its organisation", rule: Rule{Required: 1, Teams: []string{"acme/platform"}}, pr: open,
			reviews: []Review{approve("pat", 1)}, want: Approved, approvers: []string{"pat"}, by: "pat"},
		{name: "listed user counts without a team", rule: Rule{Required: 1, Users: []string{"Kim"}, Teams: []string{"platform"}}, pr: open,
			reviews: []Review{approve("kim", 1)}, want: Approved, approvers: []string{"kim"}, by: "kim"},
		{name: "Port's ALL needs every listed user", rule: Rule{Required: 1, All: true, Users: []string{"pat", "sam"}}, pr: open,
			reviews: []Review{approve("pat", 1)}, want: Pending, approvers: []string{"pat"}},
		{name: "Port's ALL satisfied", rule: Rule{Required: 1, All: true, Users: []string{"pat", "sam"}}, pr: open,
			reviews: []Review{approve("pat", 1), approve("sam", 2)}, want: Approved, approvers: []string{"pat", "sam"}, by: "sam"},
		{name: "the last pusher's approval does not count", rule: Rule{Required: 1}, pr: open, pushers: []string{"Pat"},
			reviews: []Review{approve("pat", 1)}, want: Pending},
		{name: "the last pusher may decline", rule: Rule{Required: 1}, pr: open, pushers: []string{"pat"},
			reviews: []Review{changes("pat", 1)}, want: Declined, by: "pat"},
		{name: "another approver than the pusher", rule: Rule{Required: 1}, pr: open, pushers: []string{"pat"},
			reviews: []Review{approve("pat", 1), approve("sam", 2)}, want: Approved, approvers: []string{"sam"}, by: "sam"},
		{name: "the last pusher when the rule allows", rule: Rule{Required: 1, AllowLastPusher: true}, pr: open, pushers: []string{"pat"},
			reviews: []Review{approve("pat", 1)}, want: Approved, approvers: []string{"pat"}, by: "pat"},
		{name: "a head that does not hold the run takes no approval", rule: Rule{Required: 1}, pr: PullRequest{Open: true, HeadSHA: head},
			reviews: []Review{approve("pat", 1)}, want: Pending},
		{name: "a head that does not hold the run still takes a decline", rule: Rule{Required: 1}, pr: PullRequest{Open: true, HeadSHA: head},
			reviews: []Review{approve("pat", 1), changes("sam", 2)}, want: Declined, by: "sam"},
		{name: "pull request closed declines", rule: Rule{Required: 1}, pr: PullRequest{HeadSHA: head},
			reviews: []Review{approve("pat", 1)}, want: Declined},
		{name: "expired without a decision", rule: Rule{Required: 1}, pr: open,
			now: expires, want: Expired},
		{name: "approval after the deadline does not count", rule: Rule{Required: 1}, pr: open,
			reviews: []Review{{User: "pat", State: "APPROVED", CommitID: head, At: expires.Add(time.Minute)}}, now: expires.Add(time.Hour), want: Expired},
		{name: "approved in time, checked late", rule: Rule{Required: 1}, pr: open,
			reviews: []Review{approve("pat", 1)}, now: expires.Add(time.Hour), want: Approved, approvers: []string{"pat"}, by: "pat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = at(60)
			}
			ap := Approvers{Rule: tt.rule, Org: "acme", Teams: platform, Pushers: tt.pushers}
			d, err := ap.DecidePullRequest(context.Background(), tt.pr, "alice", tt.reviews, expires, now)
			if err != nil {
				t.Fatal(err)
			}
			if d.Outcome != tt.want {
				t.Fatalf("outcome %v, want %v (%+v)", d.Outcome, tt.want, d)
			}
			if !slices.Equal(d.Approvers, tt.approvers) && (len(d.Approvers) > 0 || len(tt.approvers) > 0) {
				t.Errorf("approvers %v, want %v", d.Approvers, tt.approvers)
			}
			if d.DecidedBy != tt.by {
				t.Errorf("decided by %q, want %q", d.DecidedBy, tt.by)
			}
			if d.HeadSHA != tt.pr.HeadSHA {
				t.Errorf("head %q, want %q", d.HeadSHA, tt.pr.HeadSHA)
			}
		})
	}
}

func TestTeamLookupErrorIsReported(t *testing.T) {
	ap := Approvers{Rule: Rule{Required: 1, Teams: []string{"broken/x"}}, Teams: teams{}}
	_, err := ap.Tally(context.Background(), "alice", []Vote{{User: "pat", Approve: true}}, "", time.Time{}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "team broken/x") {
		t.Fatalf("err = %v", err)
	}
}

func TestRuleOf(t *testing.T) {
	tests := []struct {
		name, json string
		want       Rule
		needs      bool
		err        string
	}{
		{"no approval", `{"identifier":"a"}`, Rule{}, false, ""},
		{"Port's false", `{"identifier":"a","requiredApproval":false}`, Rule{}, false, ""},
		{"Port's true", `{"identifier":"a","requiredApproval":true}`, Rule{Required: 1, Expiry: DefaultExpiry, System: GitHub}, true, ""},
		{"Port's ANY", `{"identifier":"a","requiredApproval":{"type":"ANY"}}`, Rule{Required: 1, Expiry: DefaultExpiry, System: GitHub}, true, ""},
		{"Port's ALL", `{"identifier":"a","requiredApproval":{"type":"ALL"}}`, Rule{Required: 1, All: true, Expiry: DefaultExpiry, System: GitHub}, true, ""},
		{"pier's rule wins", `{"identifier":"a","requiredApproval":false,"approval":{"approvals":2,"approvers":{"teams":["platform"]},"expiresIn":"1d12h","system":"pier","requireReason":true}}`,
			Rule{Required: 2, Teams: []string{"platform"}, Expiry: 36 * time.Hour, System: InApp, RequireReason: true}, true, ""},
		{"bad expiry", `{"identifier":"a","approval":{"approvals":1,"expiresIn":"soon"}}`, Rule{}, false, "approval.expiresIn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustAction(t, tt.json)
			r, needs, err := RuleOf(a)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || needs != tt.needs {
				t.Fatalf("needs %v err %v", needs, err)
			}
			if !slices.Equal(r.Teams, tt.want.Teams) || r.Required != tt.want.Required || r.All != tt.want.All ||
				r.Expiry != tt.want.Expiry || r.System != tt.want.System || r.RequireReason != tt.want.RequireReason {
				t.Errorf("rule %+v, want %+v", r, tt.want)
			}
		})
	}
}
