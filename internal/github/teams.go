package github

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	gogithub "github.com/google/go-github/v62/github"
)

// membership is the last answer GitHub gave to one membership question,
// with the ETag that lets the next ask be a conditional request.
type membership struct {
	member bool
	etag   string
}

// maxMemberships bounds the remembered answers; past it the oldest half
// of what is remembered is forgotten (a forgotten answer only costs one
// full request).
const maxMemberships = 10000

// memberships remembers answers by lower-case org/team/user.
type memberships struct {
	mu    sync.Mutex
	m     map[string]membership
	order []string
}

func (ms *memberships) get(key string) (membership, bool) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	m, ok := ms.m[key]
	return m, ok
}

func (ms *memberships) put(key string, m membership) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.m == nil {
		ms.m = map[string]membership{}
	}
	if _, ok := ms.m[key]; !ok {
		ms.order = append(ms.order, key)
	}
	ms.m[key] = m
	if len(ms.order) > maxMemberships {
		for _, k := range ms.order[:len(ms.order)/2] {
			delete(ms.m, k)
		}
		ms.order = append([]string(nil), ms.order[len(ms.order)/2:]...)
	}
}

// TeamMember reports whether user is an active member of team (its slug)
// in org. An invitation not yet accepted (pending) is not membership, nor
// is GitHub's 404 — which it also answers when the token may not read
// the org's teams, so a token without that permission makes nobody a
// member rather than everybody.
//
// Every call asks GitHub: approvals are decided on it, and someone
// removed from a team must lose the right at once, not when a cache
// expires. The ask is conditional (If-None-Match with the ETag of the
// last answer), so an unchanged membership is a 304, which GitHub does
// not count against the rate limit.
//
// GitHub API docs: https://docs.github.com/rest/teams/members#get-team-membership-for-a-user
func (c *Client) TeamMember(ctx context.Context, org, team, user string) (bool, error) {
	key := strings.ToLower(org + "/" + team + "/" + user)
	u := fmt.Sprintf("orgs/%s/teams/%s/memberships/%s", url.PathEscape(org), url.PathEscape(team), url.PathEscape(user))
	req, err := c.gh.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	last, known := c.teams.get(key)
	if known && last.etag != "" {
		req.Header.Set("If-None-Match", last.etag)
	}
	var m gogithub.Membership
	resp, err := c.gh.Do(ctx, req, &m)
	switch code := statusCode(err); {
	case code == http.StatusNotModified && known:
		return last.member, nil
	case code == http.StatusNotFound:
		c.teams.put(key, membership{})
		return false, nil
	case err != nil:
		return false, fmt.Errorf("get membership of %s in team %s/%s: %w", user, org, team, err)
	}
	member := m.GetState() == "active"
	c.teams.put(key, membership{member: member, etag: resp.Header.Get("ETag")})
	return member, nil
}
