package github

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/githubfake"
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

func TestTeamMemberCache(t *testing.T) {
	f := githubfake.New()
	defer f.Close()
	f.AddTeamMember("octo-org", "platform", "alice", "active")
	now := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	ctx := context.Background()

	for _, tc := range []struct {
		name     string
		ttl      time.Duration
		after    time.Duration // between the asks
		requests int           // for asking about alice twice, then bob
	}{
		{"default TTL, within", 0, 59 * time.Second, 2},
		{"default TTL, expired", 0, 60 * time.Second, 3},
		{"longer TTL", 10 * time.Minute, 5 * time.Minute, 2},
		{"disabled", -1, 0, 3},
	} {
		c, err := New(Options{BaseURL: f.URL(), TeamCacheTTL: tc.ttl})
		if err != nil {
			t.Fatal(err)
		}
		at := now
		c.now = func() time.Time { return at }
		before := len(f.Requests())
		first, _ := c.TeamMember(ctx, "octo-org", "platform", "alice")
		f.AddTeamMember("octo-org", "platform", "alice", "pending") // GitHub changes; the cache does not know
		at = at.Add(tc.after)
		second, _ := c.TeamMember(ctx, "octo-org", "platform", "alice")
		if bob, _ := c.TeamMember(ctx, "octo-org", "platform", "bob"); bob {
			t.Errorf("%s: bob is a member", tc.name)
		}
		if n := len(f.Requests()) - before; n != tc.requests {
			t.Errorf("%s: %d requests, want %d", tc.name, n, tc.requests)
		}
		if !first || second != (tc.requests == 2) {
			t.Errorf("%s: answers %v then %v", tc.name, first, second)
		}
		f.AddTeamMember("octo-org", "platform", "alice", "active")
	}
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
