package githubfake

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// AddTeamMember makes user a member of team (its slug) in org, with the
// state "active", or "pending" for one invited who has not accepted yet.
func (f *Fake) AddTeamMember(org, team, user, state string) {
	if state != "active" && state != "pending" {
		panic("githubfake: membership state " + state + " (want active or pending)")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.teams[teamKey(org, team, user)] = state
}

// RemoveTeamMember takes user out of team in org, as an organisation
// owner would.
func (f *Fake) RemoveTeamMember(org, team, user string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.teams, teamKey(org, team, user))
}

// teamKey identifies a membership; GitHub's names are case-insensitive.
func teamKey(org, team, user string) string {
	return strings.ToLower(org + "/" + team + "/" + user)
}

// getTeamMembership implements GET
// /orgs/{org}/teams/{team}/memberships/{user}: 404 for anyone not a
// member, active or pending.
func (f *Fake) getTeamMembership(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/teams/members#get-team-membership-for-a-user"
	org, team, user := r.PathValue("org"), r.PathValue("team"), r.PathValue("user")
	f.mu.Lock()
	defer f.mu.Unlock()
	state, ok := f.teams[teamKey(org, team, user)]
	if in := installationOf(r); in != nil && !strings.EqualFold(in.account, org) {
		ok = false // an installation sees only its organisation
	}
	if !ok {
		apiError(w, http.StatusNotFound, doc, "Not Found")
		return
	}
	f.writeConditional(w, r, map[string]string{
		"url":   f.srv.URL + "/orgs/" + org + "/teams/" + team + "/memberships/" + user,
		"role":  "member",
		"state": state,
	})
}

// teamJSON is GitHub's team shape, as in a pull request's requested_teams.
type teamJSON struct {
	ID                  int64   `json:"id"`
	NodeID              string  `json:"node_id"`
	URL                 string  `json:"url"`
	HTMLURL             string  `json:"html_url"`
	Name                string  `json:"name"`
	Slug                string  `json:"slug"`
	Description         *string `json:"description"`
	Privacy             string  `json:"privacy"`
	NotificationSetting string  `json:"notification_setting"`
	Permission          string  `json:"permission"`
	MembersURL          string  `json:"members_url"`
	RepositoriesURL     string  `json:"repositories_url"`
	Parent              *string `json:"parent"`
}

func (f *Fake) teamJSON(org, slug string) teamJSON {
	id := stableID("team:" + strings.ToLower(org+"/"+slug))
	url := f.srv.URL + "/orgs/" + org + "/teams/" + slug
	return teamJSON{
		ID:                  id,
		NodeID:              base64.StdEncoding.EncodeToString([]byte("Team" + strconv.FormatInt(id, 10))),
		URL:                 url,
		HTMLURL:             "https://github.com/orgs/" + org + "/teams/" + slug,
		Name:                slug,
		Slug:                slug,
		Privacy:             "closed",
		NotificationSetting: "notifications_enabled",
		Permission:          "pull",
		MembersURL:          url + "/members{/member}",
		RepositoriesURL:     url + "/repos",
	}
}
