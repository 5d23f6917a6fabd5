package web

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/identity"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store"
)

// homeView is the home page: the search box, how many entities of each
// blueprint the visitor may read, their open runs, the runs waiting for
// their approval, and their teams' entities with scorecard levels.
type homeView struct {
	Counts  []navLink
	MyRuns  []runRow
	Waiting []runRow
	Team    []teamRow
	Runs    bool
}

type teamRow struct {
	Link   entityLink
	Levels []levelBadge
}

type entityLink struct {
	URL, Title, Identifier, Blueprint string
}

type levelBadge struct {
	Scorecard, Title, Level, Color, URL string
}

func (s *Server) home(w http.ResponseWriter, r *http.Request, v *visit) {
	view := homeView{Runs: s.opts.Runs != nil}
	for _, bp := range sortedBlueprints(v.snap, v.grants) {
		b := v.snap.Blueprints[bp]
		view.Counts = append(view.Counts, navLink{URL: "/catalog/" + url.PathEscape(bp), Title: titleOr(b.Title, bp), Count: v.count(bp)})
	}
	if s.opts.Runs != nil && v.signed != nil {
		view.MyRuns = s.myRuns(r, v, 10)
		view.Waiting = s.waitingFor(r, v, 10)
	}
	view.Team = s.teamEntities(v, 50)
	s.render(w, r, v, http.StatusOK, "home", "Home", "home", view)
}

// count is how many entities of bp the visitor may read.
func (v *visit) count(bp string) int {
	if v.readable == nil {
		return len(v.snap.Entities[bp])
	}
	n := 0
	for _, e := range v.snap.Entities[bp] {
		if v.readable(e) {
			n++
		}
	}
	return n
}

// teamEntities are the entities that relate to the visitor's teams (or
// name them as their team), with their levels.
func (s *Server) teamEntities(v *visit, max int) []teamRow {
	if v.grants == nil {
		return nil
	}
	var out []teamRow
	seen := map[catalog.Key]bool{}
	for _, team := range v.grants.Subject().Teams {
		keys := v.snap.Referrers(identity.TeamBlueprint, team)
		for _, bp := range slices.Sorted(maps.Keys(v.snap.Entities)) {
			for _, e := range v.snap.Index(bp, "$team")[team] {
				keys = append(keys, catalog.Key{Kind: catalog.KindEntityObj, Blueprint: e.Blueprint, ID: e.Identifier})
			}
		}
		for _, k := range keys {
			e := v.snap.Entity(k.Blueprint, k.ID)
			if e == nil || seen[k] || !v.canRead(e) {
				continue
			}
			seen[k] = true
			out = append(out, teamRow{Link: linkTo(v.snap, e), Levels: levelsOf(v, e)})
		}
	}
	slices.SortFunc(out, func(a, b teamRow) int {
		return strings.Compare(a.Link.Blueprint+"/"+a.Link.Identifier, b.Link.Blueprint+"/"+b.Link.Identifier)
	})
	if len(out) > max {
		out = out[:max]
	}
	return out
}

func linkTo(snap *state.Snapshot, e *state.Entity) entityLink {
	return entityLink{URL: entityURL(e.Blueprint, e.Identifier), Title: titleOr(e.Title, e.Identifier), Identifier: e.Identifier, Blueprint: e.Blueprint}
}

// levelsOf are e's levels in the scorecards the visitor may read.
func levelsOf(v *visit, e *state.Entity) []levelBadge {
	sc := v.snap.Scores
	if sc == nil {
		return nil
	}
	var out []levelBadge
	for _, res := range sc.Results[catalog.Key{Kind: catalog.KindEntityObj, Blueprint: e.Blueprint, ID: e.Identifier}] {
		card := v.snap.Scorecards[res.Scorecard()]
		if card == nil || !v.grants.Allows(access.Read, access.Scorecard, access.ScorecardView(card), nil) {
			continue
		}
		out = append(out, levelBadge{Scorecard: card.Identifier, Title: titleOr(card.Title, card.Identifier), Level: res.Level, Color: res.Color,
			URL: "/scorecards/" + url.PathEscape(card.Identifier)})
	}
	return out
}

// myRuns are the visitor's newest runs, open ones first.
func (s *Server) myRuns(r *http.Request, v *visit, max int) []runRow {
	list, err := s.opts.Runs.List(r.Context(), store.RunFilter{Limit: 500})
	if err != nil {
		s.opts.Logger.Warn("web: list runs", "err", err)
		return nil
	}
	var open, done []runRow
	for _, run := range list {
		if !strings.EqualFold(run.Requester, v.login()) {
			continue
		}
		if store.RunTerminal(run.Status) {
			done = append(done, s.runRow(v, run))
		} else {
			open = append(open, s.runRow(v, run))
		}
	}
	out := append(open, done...)
	if len(out) > max {
		out = out[:max]
	}
	return out
}

// waitingFor are the runs waiting for the visitor's approval: those the
// roles let them approve and the action's rule lets them vote on.
func (s *Server) waitingFor(r *http.Request, v *visit, max int) []runRow {
	list, err := s.opts.Runs.List(r.Context(), store.RunFilter{Status: store.RunWaitingForApproval, Limit: 500})
	if err != nil {
		s.opts.Logger.Warn("web: list runs", "err", err)
		return nil
	}
	var out []runRow
	for _, run := range list {
		if len(out) == max {
			break
		}
		if s.mayVote(r, v, run) == "" {
			out = append(out, s.runRow(v, run))
		}
	}
	return out
}
