package github

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// membership is a cached answer of TeamMember.
type membership struct {
	member  bool
	expires time.Time
}

// TeamMember reports whether user is an active member of team (its slug)
// in org. An invitation not yet accepted (pending) is not membership, nor
// is GitHub's 404 — which it also answers when the token may not read
// the org's teams, so a token without that permission makes nobody a
// member rather than everybody.
//
// Answers are cached per (org, team, user) for Options.TeamCacheTTL.
//
// GitHub API docs: https://docs.github.com/rest/teams/members#get-team-membership-for-a-user
func (c *Client) TeamMember(ctx context.Context, org, team, user string) (bool, error) {
	key := strings.ToLower(org + "/" + team + "/" + user)
	if member, ok := c.cachedMember(key); ok {
		return member, nil
	}
	m, _, err := c.gh.Teams.GetTeamMembershipBySlug(ctx, org, team, user)
	switch {
	case statusCode(err) == 404:
		m = nil
	case err != nil:
		return false, fmt.Errorf("get membership of %s in team %s/%s: %w", user, org, team, err)
	}
	member := m.GetState() == "active"
	c.cacheMember(key, member)
	return member, nil
}

func (c *Client) cachedMember(key string) (member, ok bool) {
	c.teamMu.Lock()
	defer c.teamMu.Unlock()
	m, ok := c.teams[key]
	if !ok || !c.now().Before(m.expires) {
		return false, false
	}
	return m.member, true
}

// cacheMember remembers an answer, and forgets the expired ones so that
// the cache holds only the last TTL's questions.
func (c *Client) cacheMember(key string, member bool) {
	if c.teamTTL < 0 {
		return
	}
	c.teamMu.Lock()
	defer c.teamMu.Unlock()
	now := c.now()
	for k, m := range c.teams {
		if !now.Before(m.expires) {
			delete(c.teams, k)
		}
	}
	c.teams[key] = membership{member: member, expires: now.Add(c.teamTTL)}
}
