// Package search runs the query language over a snapshot: the one
// search every door uses (the API's POST /v1/entities/search, the web
// portal's catalog filter and search box, dashboards). It lives apart from
// its callers so that what a person may find, and how fast, is decided
// once: the caller's read filter joins the query's top-level rules, where
// the snapshot's indexes narrow on it too, so that results and counts say
// nothing of entities the caller may not read.
package search

import (
	"iter"
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/internal/state"
)

// Entities returns the entities of snap that q matches and that the read
// filter f lets through, ordered by blueprint then identifier. A query
// that does not compile is a *query.Error (or another error); limit <= 0
// means no limit.
func Entities(snap *state.Snapshot, q catalog.Query, f access.Filter, now func() time.Time, limit int) ([]*state.Entity, error) {
	opts := query.Options{Now: now}
	cq, err := opts.Compile(q)
	if err != nil {
		return nil, err
	}
	if f.None() {
		return []*state.Entity{}, nil
	}
	if !f.All {
		q = Restrict(q, f.Rule())
		if cq, err = opts.Compile(q); err != nil {
			return nil, err
		}
	}
	m := cq.Matcher(snap.Graph())
	out := []*state.Entity{}
	var view query.Entity
	levels := cq.ReadsScorecards()
	for _, bp := range blueprints(snap, cq) {
		for e := range Candidates(snap, bp, q) {
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
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// blueprints are the blueprints whose entities may match.
func blueprints(snap *state.Snapshot, q *query.Query) []string {
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

// Candidates yields the entities of bp the query can match, in no
// particular order: the smallest of the index buckets that the top-level
// and-group's rules narrow it to — equality on a string, or a numeric
// range (> >= < <= between) on a property — or every entity of bp. A
// bucket may hold entities the rule then refuses, never miss one it
// accepts: every candidate must still be matched.
func Candidates(snap *state.Snapshot, bp string, q catalog.Query) iter.Seq[*state.Entity] {
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

// Restrict returns q and rule: rule among q's top-level rules when q is
// an and-group (where Candidates looks for rules an index can answer),
// else both in a new and-group.
func Restrict(q catalog.Query, rule catalog.Rule) catalog.Query {
	if q.Combinator == "and" {
		return catalog.Query{Combinator: "and", Rules: append(slices.Clone(q.Rules), rule)}
	}
	return catalog.Query{Combinator: "and", Rules: []catalog.Rule{{Combinator: q.Combinator, Rules: q.Rules}, rule}}
}
