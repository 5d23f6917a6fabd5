package api

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

// listBlueprints is Port's GET /v1/blueprints.
func (s *Server) listBlueprints(w http.ResponseWriter, r *http.Request, _ *caller) int {
	return writeJSON(w, http.StatusOK, map[string]any{"blueprints": byID(s.opts.State.Load().Blueprints)})
}

// getBlueprint is Port's GET /v1/blueprints/{bp}.
func (s *Server) getBlueprint(w http.ResponseWriter, r *http.Request, _ *caller) int {
	bp := s.opts.State.Load().Blueprints[r.PathValue("bp")]
	if bp == nil {
		return writeError(w, http.StatusNotFound, "blueprint_not_found", "no blueprint "+quote(r.PathValue("bp")))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"blueprint": bp})
}

// listActions is GET /v1/actions.
func (s *Server) listActions(w http.ResponseWriter, r *http.Request, _ *caller) int {
	snap := s.opts.State.Load()
	out := make([]any, 0, len(snap.Actions))
	for _, id := range slices.Sorted(maps.Keys(snap.Actions)) {
		a := snap.Actions[id]
		if bp := r.URL.Query().Get("blueprint"); bp != "" && a.Trigger.BlueprintIdentifier != bp {
			continue
		}
		out = append(out, a)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"actions": out})
}

// getAction is GET /v1/actions/{id}.
func (s *Server) getAction(w http.ResponseWriter, r *http.Request, _ *caller) int {
	a := s.opts.State.Load().Actions[r.PathValue("id")]
	if a == nil {
		return writeError(w, http.StatusNotFound, "action_not_found", "no action "+quote(r.PathValue("id")))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"action": a})
}

// listScorecards is GET /v1/scorecards.
func (s *Server) listScorecards(w http.ResponseWriter, r *http.Request, _ *caller) int {
	return writeJSON(w, http.StatusOK, map[string]any{"scorecards": byID(s.opts.State.Load().Scorecards)})
}

// getScorecard is GET /v1/scorecards/{id}.
func (s *Server) getScorecard(w http.ResponseWriter, r *http.Request, _ *caller) int {
	snap := s.opts.State.Load()
	id := r.PathValue("id")
	sc := snap.Scorecards[id]
	if sc == nil {
		return writeError(w, http.StatusNotFound, "scorecard_not_found", "no scorecard "+quote(id))
	}
	body := map[string]any{"scorecard": sc}
	if sum, ok := snap.Scores.Summary(id); ok {
		body["summary"] = sum
	}
	return writeJSON(w, http.StatusOK, body)
}

// entityScorecards is GET /v1/blueprints/{bp}/entities/{id}/scorecards:
// the entity's level and rule outcomes in every scorecard that applies.
func (s *Server) entityScorecards(w http.ResponseWriter, r *http.Request, _ *caller) int {
	snap := s.opts.State.Load()
	bp, id := r.PathValue("bp"), r.PathValue("id")
	if snap.Entity(bp, id) == nil {
		return writeError(w, http.StatusNotFound, "entity_not_found", fmt.Sprintf("no %s entity %s", bp, quote(id)))
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
func byID[V any](m map[string]V) []V {
	out := make([]V, 0, len(m))
	for _, id := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[id])
	}
	return out
}

// scorecardHistory is GET /v1/scorecards/{id}/history: every entity
// reaching another level of the scorecard, newest first (?limit,
// ?before=<id> to page).
func (s *Server) scorecardHistory(w http.ResponseWriter, r *http.Request, _ *caller) int {
	id := r.PathValue("id")
	if s.opts.State.Load().Scorecards[id] == nil {
		return writeError(w, http.StatusNotFound, "scorecard_not_found", "no scorecard "+quote(id))
	}
	return s.levelHistory(w, r, store.LevelFilter{Scorecard: id})
}

// entityLevelHistory is GET /v1/blueprints/{bp}/entities/{id}/scorecards/history.
func (s *Server) entityLevelHistory(w http.ResponseWriter, r *http.Request, _ *caller) int {
	return s.levelHistory(w, r, store.LevelFilter{Blueprint: r.PathValue("bp"), Identifier: r.PathValue("id"), Scorecard: r.URL.Query().Get("scorecard")})
}

// levelHistory answers level changes newest first: ?limit (default 100,
// at most 1000), ?before=<id> to page; "next" is the before of the
// following page.
func (s *Server) levelHistory(w http.ResponseWriter, r *http.Request, f store.LevelFilter) int {
	p, code, ok := pageRequest(w, r, numberedPages)
	if !ok {
		return code
	}
	f.Limit, f.Before = p.limit, p.number
	changes, err := s.opts.Store.LevelHistory(r.Context(), f)
	if err != nil {
		return p.failed(w, err)
	}
	return writePage(w, "history", changes, p, func(c store.LevelChange) string { return strconv.FormatInt(c.ID, 10) })
}
