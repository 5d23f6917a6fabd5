package api

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/internal/state"
)

// searchBody accepts Port's search body in both its forms: the query
// itself ({"combinator": ..., "rules": [...]}) or wrapped with options
// ({"query": {...}, "limit": N}).
type searchBody struct {
	catalog.Query
	Wrapped *catalog.Query `json:"query"`
	Limit   int            `json:"limit"`
}

func (b *searchBody) UnmarshalJSON(data []byte) error {
	var wrapper struct {
		Query *catalog.Query `json:"query"`
		Limit int            `json:"limit"`
	}
	if err := json.Unmarshal(data, &wrapper); err != nil {
		return err
	}
	if wrapper.Query != nil {
		b.Query, b.Limit = *wrapper.Query, wrapper.Limit
		return nil
	}
	return json.Unmarshal(data, &b.Query)
}

// search is Port's POST /v1/entities/search. The query is compiled once
// and run over the current snapshot. When the query's top-level and-group
// pins the blueprint and has an equality rule, the candidates come from
// the snapshot's equality index instead of a scan of every entity.
func (s *Server) search(w http.ResponseWriter, r *http.Request, _ *caller) int {
	var body searchBody
	if code, ok := decodeBody(w, r, &body); !ok {
		return code
	}
	q, err := query.Options{Now: s.opts.Now}.Compile(body.Query)
	if err != nil {
		var qe *query.Error
		if errors.As(err, &qe) {
			return writeError(w, http.StatusBadRequest, "invalid_query", qe.Error(), map[string]any{"rule": qe.Path})
		}
		return writeError(w, http.StatusBadRequest, "invalid_query", err.Error())
	}
	snap := s.opts.State.Load()
	m := q.Matcher(snap.Graph())
	limit := body.Limit
	if limit <= 0 || limit > maxPage {
		limit = maxPage
	}
	out := []*state.Entity{}
	for _, bp := range searchBlueprints(snap, q) {
		for _, e := range candidates(snap, bp, body.Query) {
			if m.Match(snap.QueryEntity(e)) {
				out = append(out, e)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Blueprint != out[j].Blueprint {
			return out[i].Blueprint < out[j].Blueprint
		}
		return out[i].Identifier < out[j].Identifier
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return writeEntities(w, out, "")
}

// searchBlueprints are the blueprints whose entities may match.
func searchBlueprints(snap *state.Snapshot, q *query.Query) []string {
	if bps := q.Blueprints(); bps != nil {
		out := bps[:0:0]
		for _, bp := range bps {
			if snap.Entities[bp] != nil {
				out = append(out, bp)
			}
		}
		sort.Strings(out)
		return out
	}
	return slices.Sorted(maps.Keys(snap.Entities))
}

// candidates returns the entities of bp the query can match: the
// smallest equality-index bucket among the top-level and-group's
// equality rules, or every entity of bp.
func candidates(snap *state.Snapshot, bp string, q catalog.Query) []*state.Entity {
	var best []*state.Entity
	found := false
	if q.Combinator == "and" {
		for _, r := range q.Rules {
			if r.Combinator != "" || r.Operator != "=" || r.Property == "" || r.Property == "$blueprint" {
				continue
			}
			if r.Property[0] == '$' && r.Property != "$identifier" && r.Property != "$title" {
				continue
			}
			// Only plain strings: the engine compares numbers by value
			// (1 = 1.0) and date-times as instants, which an index of
			// literal text would miss.
			val, ok := r.Value.(string)
			if !ok || looksLikeTime(val) {
				continue
			}
			bucket := snap.Index(bp, r.Property)[val]
			if !found || len(bucket) < len(best) {
				best, found = bucket, true
			}
		}
	}
	if found {
		return best
	}
	ids := snap.IDs(bp)
	out := make([]*state.Entity, len(ids))
	for i, id := range ids {
		out[i] = snap.Entities[bp][id]
	}
	return out
}

func looksLikeTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}
