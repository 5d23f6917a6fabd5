package api

import (
	"encoding/json"
	"errors"
	"iter"
	"maps"
	"math"
	"net/http"
	"slices"
	"sort"

	"github.com/pierhq/pier/internal/access"
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
// has an equality rule on a string or a numeric range rule, the
// candidates come from the snapshot's indexes (see candidates) instead
// of a scan of every entity.
func (s *Server) search(w http.ResponseWriter, r *http.Request, c *caller) int {
	var body searchBody
	if code, ok := decodeBody(w, r, &body); !ok {
		return code
	}
	opts := query.Options{Now: s.opts.Now}
	q, err := opts.Compile(body.Query)
	if err != nil {
		return badQuery(w, err)
	}
	// What the caller may not read is not searched: its conditions join
	// the query's top-level rules, where the indexes narrow on them too,
	// so that results, counts and anything derived from them say nothing
	// of hidden entities.
	f := s.grants(r, c).Filter(access.Read, access.Entity)
	if f.None() {
		return writeEntities(w, []*state.Entity{}, "")
	}
	if !f.All {
		body.Query = restrict(body.Query, f.Rule())
		if q, err = opts.Compile(body.Query); err != nil {
			return badQuery(w, err)
		}
	}
	snap := s.opts.State.Load()
	m := q.Matcher(snap.Graph())
	limit := body.Limit
	if limit <= 0 || limit > maxPage {
		limit = maxPage
	}
	out := []*state.Entity{}
	var view query.Entity
	levels := q.ReadsScorecards()
	for _, bp := range searchBlueprints(snap, q) {
		for e := range candidates(snap, bp, body.Query) {
			snap.View(&view, e, levels)
			if m.Match(&view) {
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

// candidates yields the entities of bp the query can match, in no
// particular order: the smallest of the index buckets that the top-level
// and-group's rules narrow it to — equality on a string, or a numeric
// range (> >= < <= between) on a property — or every entity of bp. A
// bucket may hold entities the rule then refuses, never miss one it
// accepts: every candidate is still matched.
func candidates(snap *state.Snapshot, bp string, q catalog.Query) iter.Seq[*state.Entity] {
	var best iter.Seq[*state.Entity]
	size := -1
	consider := func(seq iter.Seq[*state.Entity], n int) {
		if size < 0 || n < size {
			best, size = seq, n
		}
	}
	if q.Combinator == "and" {
		for _, r := range q.Rules {
			if r.Combinator != "" || r.Property == "" {
				continue
			}
			if r.Operator == "=" {
				if bucket, ok := equalityBucket(snap, bp, r); ok {
					consider(slices.Values(bucket), len(bucket))
				}
				continue
			}
			if ranked, ok := rangeBucket(snap, bp, r); ok {
				consider(func(yield func(*state.Entity) bool) {
					for _, x := range ranked {
						if !yield(x.E) {
							return
						}
					}
				}, len(ranked))
			}
		}
	}
	if size >= 0 {
		return best
	}
	return maps.Values(snap.Entities[bp])
}

// equalityBucket returns the entities an `=` rule on a string can match.
func equalityBucket(snap *state.Snapshot, bp string, r catalog.Rule) ([]*state.Entity, bool) {
	if r.Property[0] == '$' && r.Property != "$identifier" && r.Property != "$title" {
		return nil, false
	}
	// Only plain strings: the engine compares numbers by value (1 = 1.0)
	// and date-times as instants, which an index of literal text would
	// miss.
	val, ok := r.Value.(string)
	if !ok || query.IsTime(val) {
		return nil, false
	}
	return snap.Index(bp, r.Property)[val], true
}

// rangeBucket returns the entities a numeric range rule on a property
// can match: those whose number lies within the rule's bounds, compared
// as floats and inclusively, so that exact ties decided by the engine's
// decimal comparison are kept.
func rangeBucket(snap *state.Snapshot, bp string, r catalog.Rule) ([]state.Ranked, bool) {
	if r.Property[0] == '$' {
		return nil, false
	}
	lo, hi := math.Inf(-1), math.Inf(1)
	switch r.Operator {
	case ">", ">=", "<", "<=":
		f, ok := query.Float(r.Value)
		if !ok {
			return nil, false
		}
		if r.Operator[0] == '>' {
			lo = f
		} else {
			hi = f
		}
	case "between":
		span, ok := r.Value.(map[string]any)
		if !ok {
			return nil, false
		}
		from, ok1 := query.Float(span["from"])
		to, ok2 := query.Float(span["to"])
		if !ok1 || !ok2 {
			return nil, false // dates and presets
		}
		lo, hi = from, to
	default:
		return nil, false
	}
	idx := snap.NumberIndex(bp, r.Property)
	i := sort.Search(len(idx), func(i int) bool { return idx[i].N >= lo })
	j := sort.Search(len(idx), func(i int) bool { return idx[i].N > hi })
	return idx[i:max(i, j)], true
}

func badQuery(w http.ResponseWriter, err error) int {
	var qe *query.Error
	if errors.As(err, &qe) {
		return writeError(w, http.StatusBadRequest, "invalid_query", qe.Error(), map[string]any{"rule": qe.Path})
	}
	return writeError(w, http.StatusBadRequest, "invalid_query", err.Error())
}

// restrict returns q and rule: rule among q's top-level rules when q is
// an and-group (where candidates looks for rules an index can answer),
// else both in a new and-group.
func restrict(q catalog.Query, rule catalog.Rule) catalog.Query {
	if q.Combinator == "and" {
		return catalog.Query{Combinator: "and", Rules: append(slices.Clone(q.Rules), rule)}
	}
	return catalog.Query{Combinator: "and", Rules: []catalog.Rule{{Combinator: q.Combinator, Rules: q.Rules}, rule}}
}
