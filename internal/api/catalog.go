package api

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/internal/store"
)

// listBlueprints is Port's GET /v1/blueprints: those the caller may
// read.
func (s *Server) listBlueprints(w http.ResponseWriter, r *http.Request, c *caller) int {
	g := s.grants(r, c)
	return writeJSON(w, http.StatusOK, map[string]any{"blueprints": readableOf(s.opts.State.Load().Blueprints, func(b *catalog.Blueprint) bool {
		return g.Allows(access.Read, access.Blueprint, access.BlueprintView(b), nil)
	})})
}

// getBlueprint is Port's GET /v1/blueprints/{bp}.
func (s *Server) getBlueprint(w http.ResponseWriter, r *http.Request, c *caller) int {
	bp := s.opts.State.Load().Blueprints[r.PathValue("bp")]
	if bp == nil {
		return writeError(w, http.StatusNotFound, "blueprint_not_found", "no blueprint "+quote(r.PathValue("bp")))
	}
	if !s.allow(w, r, c, access.Read, access.Blueprint, access.BlueprintView(bp), bp.Identifier) {
		return http.StatusForbidden
	}
	return writeJSON(w, http.StatusOK, map[string]any{"blueprint": bp})
}

// listActions is GET /v1/actions: those the caller may read.
func (s *Server) listActions(w http.ResponseWriter, r *http.Request, c *caller) int {
	snap := s.opts.State.Load()
	g := s.grants(r, c)
	out := make([]any, 0, len(snap.Actions))
	for _, id := range slices.Sorted(maps.Keys(snap.Actions)) {
		a := snap.Actions[id]
		if bp := r.URL.Query().Get("blueprint"); bp != "" && a.Trigger.BlueprintIdentifier != bp {
			continue
		}
		if g.Allows(access.Read, access.Action, access.ActionView(a), nil) {
			out = append(out, a)
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"actions": out})
}

// getAction is GET /v1/actions/{id}.
func (s *Server) getAction(w http.ResponseWriter, r *http.Request, c *caller) int {
	a := s.opts.State.Load().Actions[r.PathValue("id")]
	if a == nil {
		return writeError(w, http.StatusNotFound, "action_not_found", "no action "+quote(r.PathValue("id")))
	}
	if !s.allow(w, r, c, access.Read, access.Action, access.ActionView(a), a.Identifier) {
		return http.StatusForbidden
	}
	return writeJSON(w, http.StatusOK, map[string]any{"action": a})
}

// listScorecards is GET /v1/scorecards: those the caller may read.
// Under Port's /v1/blueprints/{bp}/scorecards, those of the blueprint.
func (s *Server) listScorecards(w http.ResponseWriter, r *http.Request, c *caller) int {
	g := s.grants(r, c)
	snap := s.opts.State.Load()
	bp := r.PathValue("bp")
	if bp != "" && snap.Blueprints[bp] == nil {
		return writeError(w, http.StatusNotFound, "blueprint_not_found", "no blueprint "+quote(bp))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"scorecards": readableOf(snap.Scorecards, func(sc *catalog.Scorecard) bool {
		return (bp == "" || scores(sc, bp)) && g.Allows(access.Read, access.Scorecard, access.ScorecardView(sc), nil)
	})})
}

// getScorecard is GET /v1/scorecards/{id}, with its standing over the
// entities the caller may read.
func (s *Server) getScorecard(w http.ResponseWriter, r *http.Request, c *caller) int {
	snap := s.opts.State.Load()
	id := r.PathValue("id")
	sc := snap.Scorecards[id]
	if bp := r.PathValue("bp"); sc != nil && bp != "" && !scores(sc, bp) {
		return writeError(w, http.StatusNotFound, "scorecard_not_found", fmt.Sprintf("no scorecard %s on blueprint %s", quote(id), quote(bp)))
	}
	if sc == nil {
		return writeError(w, http.StatusNotFound, "scorecard_not_found", "no scorecard "+quote(id))
	}
	if !s.allow(w, r, c, access.Read, access.Scorecard, access.ScorecardView(sc), id) {
		return http.StatusForbidden
	}
	body := map[string]any{"scorecard": sc}
	var keepKey func(catalog.Key) bool
	if keep := s.readable(r, c); keep != nil {
		keepKey = func(k catalog.Key) bool { e := snap.Entity(k.Blueprint, k.ID); return e != nil && keep(e) }
	}
	if sum, ok := snap.Scores.SummaryOf(id, keepKey); ok {
		body["summary"] = sum
	}
	return writeJSON(w, http.StatusOK, body)
}

// entityScorecards is GET /v1/blueprints/{bp}/entities/{id}/scorecards:
// the entity's level and rule outcomes in every scorecard that applies.
func (s *Server) entityScorecards(w http.ResponseWriter, r *http.Request, c *caller) int {
	snap := s.opts.State.Load()
	bp, id := r.PathValue("bp"), r.PathValue("id")
	e := snap.Entity(bp, id)
	if e == nil {
		return writeError(w, http.StatusNotFound, "entity_not_found", fmt.Sprintf("no %s entity %s", bp, quote(id)))
	}
	if !s.allowEntity(w, r, c, access.Read, e) {
		return http.StatusForbidden
	}
	results := map[string]any{}
	if snap.Scores != nil {
		for _, res := range snap.Scores.Results[catalog.Key{Kind: catalog.KindEntityObj, Blueprint: bp, ID: id}] {
			results[res.Scorecard()] = res
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"scorecards": results})
}

// listAutomations is GET /v1/automations.
func (s *Server) listAutomations(w http.ResponseWriter, r *http.Request, _ *caller) int {
	return writeJSON(w, http.StatusOK, map[string]any{"automations": byID(s.opts.State.Load().Automations)})
}

// byID lists a map's values in identifier order, as an empty list rather
// than null when there are none.
func byID[V any](m map[string]V) []V { return readableOf(m, nil) }

// readableOf is byID keeping the values keep keeps (nil: all).
func readableOf[V any](m map[string]V, keep func(V) bool) []V {
	out := make([]V, 0, len(m))
	for _, id := range slices.Sorted(maps.Keys(m)) {
		if keep == nil || keep(m[id]) {
			out = append(out, m[id])
		}
	}
	return out
}

// scorecardHistory is GET /v1/scorecards/{id}/history: every entity
// reaching another level of the scorecard, newest first (?limit,
// ?before=<id> to page).
func (s *Server) scorecardHistory(w http.ResponseWriter, r *http.Request, c *caller) int {
	id := r.PathValue("id")
	sc := s.opts.State.Load().Scorecards[id]
	if sc == nil {
		return writeError(w, http.StatusNotFound, "scorecard_not_found", "no scorecard "+quote(id))
	}
	if !s.allow(w, r, c, access.Read, access.Scorecard, access.ScorecardView(sc), id) {
		return http.StatusForbidden
	}
	return s.levelHistory(w, r, c, store.LevelFilter{Scorecard: id})
}

// entityLevelHistory is GET /v1/blueprints/{bp}/entities/{id}/scorecards/history.
func (s *Server) entityLevelHistory(w http.ResponseWriter, r *http.Request, c *caller) int {
	return s.levelHistory(w, r, c, store.LevelFilter{Blueprint: r.PathValue("bp"), Identifier: r.PathValue("id"), Scorecard: r.URL.Query().Get("scorecard")})
}

// levelHistory answers level changes newest first: ?limit (default 100,
// at most 1000), ?before=<id> to page; "next" is the before of the
// following page. Changes of entities the caller may not read are left
// out (of entities git has deleted, unless the caller may read all).
func (s *Server) levelHistory(w http.ResponseWriter, r *http.Request, c *caller, f store.LevelFilter) int {
	p, code, ok := pageRequest(w, r, numberedPages)
	if !ok {
		return code
	}
	f.Limit, f.Before = p.limit, p.number
	changes, err := s.opts.Store.LevelHistory(r.Context(), f)
	if err != nil {
		return p.failed(w, err)
	}
	var kept func(store.LevelChange) bool
	if keep := s.readable(r, c); keep != nil {
		snap := s.opts.State.Load()
		kept = func(ch store.LevelChange) bool {
			e := snap.Entity(ch.Blueprint, ch.Identifier)
			return e != nil && keep(e)
		}
	}
	return writeKept(w, "history", changes, kept, func(c store.LevelChange) store.LevelChange { return c }, p,
		func(c store.LevelChange) string { return strconv.FormatInt(c.ID, 10) })
}

// scores reports whether sc may score entities of blueprint bp, as
// Port's /v1/blueprints/{bp}/scorecards lists them: its blueprint is bp,
// or it names none and its filter does not rule bp out.
func scores(sc *catalog.Scorecard, bp string) bool {
	if sc.BlueprintIdentifier != "" || sc.Filter == nil {
		return sc.BlueprintIdentifier == "" || sc.BlueprintIdentifier == bp
	}
	q, err := (query.Options{}).Compile(*sc.Filter)
	if err != nil {
		return false
	}
	bps := q.Blueprints()
	return bps == nil || slices.Contains(bps, bp)
}
