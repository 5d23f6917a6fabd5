package api

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/identity"
)

// Port's users and teams: the people pier knows (who signed in, the
// development people) and the catalog's teams (team entities). They are
// the organisation's directory, not the catalog's data: anyone signed in
// reads them; anonymous callers only when they may read everything.

// userView is Port's user shape.
type userView struct {
	Email     string    `json:"email"`
	FirstName string    `json:"firstName"`
	LastName  string    `json:"lastName"`
	Login     string    `json:"login"`
	Status    string    `json:"status"`
	Type      string    `json:"type"`
	Providers []string  `json:"providers"`
	Teams     []nameRef `json:"teams"`
	Roles     []nameRef `json:"roles"`
}

type nameRef struct {
	Name string `json:"name"`
}

func (s *Server) directoryReader(w http.ResponseWriter, r *http.Request, c *caller) bool {
	if c != nil {
		return true
	}
	return s.allow(w, r, c, access.Read, access.Any, nil, "the directory of people and teams")
}

// people are the people pier knows, with their catalog teams and roles.
func (s *Server) people(r *http.Request) ([]userView, error) {
	p := s.opts.People
	if p == nil || p.Known == nil {
		return []userView{}, nil
	}
	known, err := p.Known(r.Context())
	if err != nil {
		return nil, err
	}
	snap := s.opts.State.Load()
	out := make([]userView, 0, len(known))
	for _, k := range known {
		sub := access.Subject{Login: k.Login, Email: k.Email, Name: k.Name, Admin: p.rights().Admin(k.Login)}
		if p.Directory != nil {
			if sub.Teams, err = p.Directory.CatalogTeams(r.Context(), k.Login, snap); err != nil {
				return nil, fmt.Errorf("teams of %s: %w", k.Login, err)
			}
		}
		first, last, _ := strings.Cut(k.Name, " ")
		u := userView{Email: k.Email, FirstName: first, LastName: last, Login: k.Login, Status: "ACTIVE", Type: "STANDARD",
			Providers: []string{"github"}, Teams: []nameRef{}, Roles: []nameRef{}}
		for _, t := range sub.Teams {
			u.Teams = append(u.Teams, nameRef{Name: t})
		}
		for _, role := range snap.Access.Roles(sub) {
			u.Roles = append(u.Roles, nameRef{Name: role})
		}
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b userView) int { return strings.Compare(strings.ToLower(a.Login), strings.ToLower(b.Login)) })
	return out, nil
}

// listUsers is Port's GET /v1/users.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, c *caller) int {
	if !s.directoryReader(w, r, c) {
		return http.StatusForbidden
	}
	users, err := s.people(r)
	if err != nil {
		return writeError(w, http.StatusInternalServerError, "directory_error", err.Error())
	}
	return writeJSON(w, http.StatusOK, map[string]any{"ok": true, "users": users})
}

// getUser is Port's GET /v1/users/{email}; a GitHub login is taken too.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request, c *caller) int {
	if !s.directoryReader(w, r, c) {
		return http.StatusForbidden
	}
	users, err := s.people(r)
	if err != nil {
		return writeError(w, http.StatusInternalServerError, "directory_error", err.Error())
	}
	who := r.PathValue("email")
	for _, u := range users {
		if strings.EqualFold(u.Email, who) || strings.EqualFold(u.Login, who) {
			return writeJSON(w, http.StatusOK, map[string]any{"ok": true, "user": u})
		}
	}
	return writeError(w, http.StatusNotFound, "user_not_found", "no user "+quote(who)+" (pier knows the people who signed in)")
}

// teamView is Port's team shape, with the GitHub team it maps to.
type teamView struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Provider    string    `json:"provider"`
	GitHubTeam  string    `json:"githubTeam,omitempty"`
	Users       []nameRef `json:"users"`
}

func (s *Server) teams(r *http.Request) ([]teamView, error) {
	snap := s.opts.State.Load()
	users, err := s.people(r)
	if err != nil {
		return nil, err
	}
	var out []teamView
	for _, id := range snap.IDs(identity.TeamBlueprint) {
		e := snap.Entity(identity.TeamBlueprint, id)
		t := teamView{Name: id, Description: e.Title, Provider: "pier", Users: []nameRef{}}
		if gh, ok := e.Properties[identity.GitHubTeamProperty].(string); ok && gh != "" {
			t.Provider, t.GitHubTeam = "github", gh
		}
		for _, u := range users {
			if slices.Contains(u.Teams, nameRef{Name: id}) {
				t.Users = append(t.Users, nameRef{Name: cmp.Or(u.Email, u.Login)})
			}
		}
		out = append(out, t)
	}
	return nonNil(out), nil
}

// listTeams is Port's GET /v1/teams: the catalog's team entities.
func (s *Server) listTeams(w http.ResponseWriter, r *http.Request, c *caller) int {
	if !s.directoryReader(w, r, c) {
		return http.StatusForbidden
	}
	teams, err := s.teams(r)
	if err != nil {
		return writeError(w, http.StatusInternalServerError, "directory_error", err.Error())
	}
	return writeJSON(w, http.StatusOK, map[string]any{"ok": true, "teams": teams})
}

// getTeam is Port's GET /v1/teams/{name}.
func (s *Server) getTeam(w http.ResponseWriter, r *http.Request, c *caller) int {
	if !s.directoryReader(w, r, c) {
		return http.StatusForbidden
	}
	teams, err := s.teams(r)
	if err != nil {
		return writeError(w, http.StatusInternalServerError, "directory_error", err.Error())
	}
	for _, t := range teams {
		if t.Name == r.PathValue("name") {
			return writeJSON(w, http.StatusOK, map[string]any{"ok": true, "team": t})
		}
	}
	return writeError(w, http.StatusNotFound, "team_not_found", "no team "+quote(r.PathValue("name"))+" (teams are entities of blueprint team)")
}
