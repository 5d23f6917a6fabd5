package github

import (
	"context"
	"strings"
	"sync"
	"testing"
)

func TestTeamMember(t *testing.T) {
	for _, tc := range []struct {
		name, team, user string
		want             bool
	}{
		{"active", "platform", "alice", true},
		{"any case", "Platform", "ALICE", true},
		{"pending", "platform", "bob", false},
		{"not a member", "platform", "carol", false},
		{"no such team", "nope", "alice", false},
	} {
		c, f := newFake(t)
		f.AddTeamMember("octo-org", "platform", "alice", "active")
		f.AddTeamMember("octo-org", "platform", "bob", "pending")
		got, err := c.TeamMember(context.Background(), "octo-org", tc.team, tc.user)
		if err != nil || got != tc.want {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestTeamMemberError(t *testing.T) {
	c, f := newFake(t)
	f.FailNext("GET", "/orgs/", 500)
	_, err := c.TeamMember(context.Background(), "octo-org", "platform", "alice")
	if !isStatus(err, 500) || !strings.Contains(err.Error(), "get membership of alice in team octo-org/platform") {
		t.Errorf("err %v", err)
	}
	// Errors are not cached.
	f.AddTeamMember("octo-org", "platform", "alice", "active")
	if ok, err := c.TeamMember(context.Background(), "octo-org", "platform", "alice"); !ok || err != nil {
		t.Errorf("after the error: %v, %v", ok, err)
	}
}

// Membership is asked fresh every time (an approval must not count for
// someone removed from the team a second ago), conditionally, so that an
// unchanged answer costs nothing of the rate limit.
func TestTeamMemberIsFreshAndConditional(t *testing.T) {
	c, f := newFake(t)
	ctx := context.Background()
	f.AddTeamMember("octo-org", "platform", "alice", "active")
	remaining := func() string {
		reqs := f.Requests()
		return reqs[len(reqs)-1].Header.Get("If-None-Match")
	}
	ask := func() bool {
		t.Helper()
		ok, err := c.TeamMember(ctx, "octo-org", "platform", "alice")
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !ask() || remaining() != "" {
		t.Fatalf("first ask: conditional with %q", remaining())
	}
	before := len(f.Requests())
	limitBefore := rateRemaining(t, c, ctx)
	if !ask() || remaining() == "" {
		t.Fatal("second ask is not conditional")
	}
	if n := len(f.Requests()) - before; n != 2 { // the ask and rateRemaining's
		t.Errorf("%d requests", n)
	}
	if got := rateRemaining(t, c, ctx); got != limitBefore-1 { // only rateRemaining's own request counts
		t.Errorf("rate limit remaining %d after a 304, want %d", got, limitBefore-1)
	}
	f.RemoveTeamMember("octo-org", "platform", "alice")
	if ask() {
		t.Error("removed from the team, still a member")
	}
	f.AddTeamMember("octo-org", "platform", "alice", "pending")
	if ask() {
		t.Error("pending is a member")
	}
	f.AddTeamMember("octo-org", "platform", "alice", "active")
	if !ask() {
		t.Error("added again, not a member")
	}
}

// rateRemaining reads the rate limit left, with a request that itself
// counts.
func rateRemaining(t *testing.T, c *Client, ctx context.Context) int {
	t.Helper()
	_, resp, err := c.gh.Repositories.Get(ctx, "octo-org", "catalog")
	if err != nil && resp == nil {
		t.Fatal(err)
	}
	return resp.Rate.Remaining
}

func TestTeamMemberConcurrent(t *testing.T) {
	c, f := newFake(t)
	f.AddTeamMember("octo-org", "platform", "alice", "active")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			user := []string{"alice", "bob"}[i%2]
			if ok, err := c.TeamMember(context.Background(), "octo-org", "platform", user); err != nil || ok != (user == "alice") {
				t.Errorf("%s: %v %v", user, ok, err)
			}
		})
	}
	wg.Wait()
}
