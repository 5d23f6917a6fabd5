// Package identity knows who people are: they sign in with GitHub (the
// OAuth web flow) or, for local development only, by picking one of the
// people of the development configuration; they keep a server-side
// session (a cookie whose hash is stored, rotated at sign-in, expiring,
// revocable); they may mint personal API tokens (hashed at rest, shown
// once, listed, revocable); and the catalog teams they belong to follow
// their GitHub team memberships.
//
// A person's catalog teams are the team entities whose github_team
// property names a GitHub team they are an active member of (or, without
// the property, whose identifier is a team slug of the catalog
// repository's organisation). Memberships are learnt at sign-in and read
// again from GitHub at most every MembershipTTL, and at once after a
// membership webhook; approval decisions never use them (they ask GitHub
// at decision time).
package identity

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/state"
)

// Person is someone who signs in.
type Person struct {
	Login string `json:"login"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	// GitHubTeams are the GitHub teams they belong to, "org/slug", as
	// learnt at sign-in (nil when not known).
	GitHubTeams []string `json:"githubTeams,omitempty"`
}

// Membership answers whether user is an active member of org's team.
// The GitHub client implements it.
type Membership interface {
	TeamMember(ctx context.Context, org, team, user string) (bool, error)
}

// MembershipTTL is how long a team membership learnt from GitHub is used
// for reads before it is asked again.
const MembershipTTL = 5 * time.Minute

// GitHubTeamProperty is the team entity property that names the GitHub
// team ("org/slug") whose members belong to it.
const GitHubTeamProperty = "github_team"

// Directory resolves people's catalog teams. It is safe for concurrent
// use.
type Directory struct {
	// GitHub asks memberships; nil leaves only what sign-in said and the
	// development people.
	GitHub Membership
	// Org is the organisation of team slugs written without one: the
	// catalog repository's owner.
	Org string
	// Dev are the development people by lower-case login; their teams
	// may be catalog team identifiers or GitHub teams.
	Dev map[string]Person
	TTL time.Duration
	Now func() time.Time

	mu     sync.Mutex
	known  map[string]known // by lower-case login
	forget map[string]time.Time

	// teams is the last snapshot's team entities with their GitHub teams:
	// every request asks for its caller's teams, and walking the team
	// entities each time cost a single entity read a quarter of its time.
	teams atomic.Pointer[teamList]
}

// teamList is one snapshot's catalog teams and the GitHub team each maps
// to ("" for none).
type teamList struct {
	snap   *state.Snapshot
	ids    []string
	github []string
}

// teamsOf returns snap's teams, computed once per snapshot.
func (d *Directory) teamsOf(snap *state.Snapshot) *teamList {
	if t := d.teams.Load(); t != nil && t.snap == snap {
		return t
	}
	t := &teamList{snap: snap, ids: snap.IDs(TeamBlueprint)}
	t.github = make([]string, len(t.ids))
	for i, id := range t.ids {
		t.github[i] = d.githubTeam(snap.Entity(TeamBlueprint, id))
	}
	d.teams.Store(t)
	return t
}

// known is what was learnt of one person's GitHub teams.
type known struct {
	// all is the complete list of their teams from sign-in, lower case,
	// valid until allAt+TTL; teams outside it are not theirs.
	all   []string
	allAt time.Time
	// asked holds answers about single teams, by lower-case org/slug.
	asked map[string]answer
}

type answer struct {
	member bool
	at     time.Time
}

func (d *Directory) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Directory) ttl() time.Duration {
	if d.TTL > 0 {
		return d.TTL
	}
	return MembershipTTL
}

// SignedIn records the GitHub teams a person has at sign-in: a complete
// answer, which spares asking team by team until it ages.
func (d *Directory) SignedIn(p Person) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.known == nil {
		d.known = map[string]known{}
	}
	k := d.known[strings.ToLower(p.Login)]
	k.all, k.allAt = lower(p.GitHubTeams), d.now()
	k.asked = nil
	d.known[strings.ToLower(p.Login)] = k
}

// Forget drops what is remembered of login's memberships (a membership
// webhook said they changed): the next read asks GitHub.
func (d *Directory) Forget(login string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.known, strings.ToLower(login))
}

// CatalogTeams returns the catalog teams (team entity identifiers, in
// order) login belongs to in snap.
func (d *Directory) CatalogTeams(ctx context.Context, login string, snap *state.Snapshot) ([]string, error) {
	if login == "" {
		return nil, nil
	}
	var out []string
	dev, isDev := d.Dev[strings.ToLower(login)]
	teams := d.teamsOf(snap)
	devGitHub := lower(dev.GitHubTeams)
	for i, id := range teams.ids {
		gh := teams.github[i]
		var in bool
		switch {
		case isDev:
			in = slices.Contains(dev.GitHubTeams, id) || gh != "" && slices.Contains(devGitHub, gh)
		case gh != "":
			var err error
			if in, err = d.member(ctx, login, gh); err != nil {
				return nil, err
			}
		}
		if in {
			out = append(out, id)
		}
	}
	return out, nil
}

// TeamBlueprint is the blueprint of the catalog's teams.
const TeamBlueprint = "team"

// githubTeam is the GitHub team ("org/slug", lower case) a team entity
// maps to.
func (d *Directory) githubTeam(e *state.Entity) string {
	if e == nil {
		return ""
	}
	if v, ok := e.Properties[GitHubTeamProperty].(string); ok && v != "" {
		if !strings.Contains(v, "/") && d.Org != "" {
			v = d.Org + "/" + v
		}
		return strings.ToLower(v)
	}
	if d.Org == "" {
		return ""
	}
	return strings.ToLower(d.Org + "/" + e.Identifier)
}

// member answers whether login is in the GitHub team gh, from what
// sign-in said while it is fresh, else from an answer of GitHub's of at
// most TTL ago, else by asking GitHub.
func (d *Directory) member(ctx context.Context, login, gh string) (bool, error) {
	key := strings.ToLower(login)
	now := d.now()
	d.mu.Lock()
	k := d.known[key]
	if k.all != nil && now.Sub(k.allAt) < d.ttl() {
		d.mu.Unlock()
		return slices.Contains(k.all, gh), nil
	}
	if a, ok := k.asked[gh]; ok && now.Sub(a.at) < d.ttl() {
		d.mu.Unlock()
		return a.member, nil
	}
	d.mu.Unlock()
	if d.GitHub == nil {
		return false, nil
	}
	org, slug, _ := strings.Cut(gh, "/")
	in, err := d.GitHub.TeamMember(ctx, org, slug, login)
	if err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.known == nil {
		d.known = map[string]known{}
	}
	k = d.known[key]
	if k.asked == nil {
		k.asked = map[string]answer{}
	}
	k.asked[gh] = answer{member: in, at: now}
	d.known[key] = k
	return in, nil
}

// Subject is the access subject of a person.
func (d *Directory) Subject(ctx context.Context, p Person, snap *state.Snapshot) (access.Subject, error) {
	teams, err := d.CatalogTeams(ctx, p.Login, snap)
	if err != nil {
		return access.Subject{}, err
	}
	return access.Subject{Login: p.Login, Email: p.Email, Name: p.Name, Teams: teams}, nil
}

func lower(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}
