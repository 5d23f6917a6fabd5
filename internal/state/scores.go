package state

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/internal/scorecard"
	"github.com/pierhq/pier/internal/store"
)

// Scores are a snapshot's scorecard results. They are computed when the
// snapshot is published: in full when scorecards, blueprints or anything
// relational may have changed, otherwise only for the entities the
// revision (or a runtime write) touched.
type Scores struct {
	Set     *scorecard.Set
	Results scorecard.Results
	// Err is set when the scorecards could not be compiled; the loader
	// validates their shape, so this is unexpected.
	Err error
	// changed names the entities that may have moved since the scores
	// these were computed from (nil: any of them), and from are those
	// scores' levels: moves are found only when someone keeps the
	// history (Holder.OnMoves). A restored snapshot has no from.
	changed []catalog.Key
	from    scorecard.Results
	hasFrom bool
}

// Moves returns the entities whose level changed since the scores these
// were computed from: what the scorecard history records.
func (sc *Scores) Moves() []LevelMove {
	if sc == nil || !sc.hasFrom {
		return nil
	}
	return moves(sc.from, sc.Results, sc.changed)
}

// LevelMove is one entity reaching another level of one scorecard. From
// is "" for an entity new to the scorecard, To "" for one that left it.
type LevelMove struct {
	Key       catalog.Key
	Scorecard string
	From, To  string
}

// LevelChanges are moves as the store's scorecard history keeps them.
func LevelChanges(revision string, at time.Time, moves []LevelMove) []store.LevelChange {
	out := make([]store.LevelChange, len(moves))
	for i, m := range moves {
		out[i] = store.LevelChange{Scorecard: m.Scorecard, Blueprint: m.Key.Blueprint, Identifier: m.Key.ID,
			From: m.From, To: m.To, Revision: revision, At: at.UTC()}
	}
	return out
}

// moves compares the levels of the entities keys names (all of them
// when keys is nil) between two score sets, in key order.
func moves(prev, next scorecard.Results, keys []catalog.Key) []LevelMove {
	if keys == nil {
		keys = make([]catalog.Key, 0, len(next))
		for k := range next {
			keys = append(keys, k)
		}
		for k := range prev {
			if _, ok := next[k]; !ok {
				keys = append(keys, k)
			}
		}
	} else {
		keys = slices.Clone(keys)
	}
	slices.SortFunc(keys, func(a, b catalog.Key) int {
		return cmp.Or(strings.Compare(a.Blueprint, b.Blueprint), strings.Compare(a.ID, b.ID))
	})
	var out []LevelMove
	for _, k := range keys {
		old, cur := prev[k], next[k]
		start := len(out)
		for _, to := range cur {
			card := to.Scorecard()
			if from := old.Get(card).Level; from != to.Level {
				out = append(out, LevelMove{Key: k, Scorecard: card, From: from, To: to.Level})
			}
		}
		for _, from := range old {
			if _, ok := cur.Lookup(from.Scorecard()); !ok {
				out = append(out, LevelMove{Key: k, Scorecard: from.Scorecard(), From: from.Level})
			}
		}
		slices.SortFunc(out[start:], func(a, b LevelMove) int { return strings.Compare(a.Scorecard, b.Scorecard) })
	}
	return out
}

// Summary returns a scorecard's levels and rule outcomes over the
// snapshot, or false if there is no such scorecard.
func (sc *Scores) Summary(id string) (scorecard.Summary, bool) { return sc.SummaryOf(id, nil) }

// SummaryOf is Summary over the entities keep keeps (nil: all), for a
// reader who may not see every entity.
func (sc *Scores) SummaryOf(id string, keep func(catalog.Key) bool) (scorecard.Summary, bool) {
	if sc == nil || sc.Set == nil {
		return scorecard.Summary{}, false
	}
	card := sc.Set.Scorecard(id)
	if card == nil {
		return scorecard.Summary{}, false
	}
	results := sc.Results
	if keep != nil {
		results = make(scorecard.Results, len(sc.Results))
		for k, r := range sc.Results {
			if keep(k) {
				results[k] = r
			}
		}
	}
	return card.Summary(results), true
}

// QueryEntity is the view of an entity the query engine evaluates.
func (s *Snapshot) QueryEntity(e *Entity) *query.Entity {
	qe := &query.Entity{}
	s.View(qe, e, true)
	return qe
}

// View fills qe with the view of e the query engine evaluates, with its
// scorecard levels when withLevels (a query that reads none is spared
// looking them up). Scanning many entities through one view allocates
// nothing per entity.
func (s *Snapshot) View(qe *query.Entity, e *Entity, withLevels bool) {
	*qe = query.Entity{Entity: e.Git, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Runtime: e.Runtime}
	if withLevels && s.Scores != nil {
		if r := s.Scores.Results[catalog.Key{Kind: catalog.KindEntityObj, Blueprint: e.Blueprint, ID: e.Identifier}]; r != nil {
			qe.Scorecards = levels(r)
		}
	}
}

// levels answers $scorecard.<id>.level from an entity's results.
type levels scorecard.EntityResults

func (l levels) Level(card string) (string, bool) {
	r, ok := scorecard.EntityResults(l).Lookup(card)
	return r.Level, ok
}

// Level returns the title of the level entity k reached in a scorecard,
// or "" when the scorecard does not apply to it.
func (sc *Scores) Level(k catalog.Key, card string) string {
	if sc == nil {
		return ""
	}
	return sc.Results[k].Get(card).Level
}

// Graph lets relatedTo rules walk the snapshot.
func (s *Snapshot) Graph() query.Graph { return snapshotGraph{s} }

type snapshotGraph struct{ s *Snapshot }

func (g snapshotGraph) Entity(blueprint, id string) *catalog.Entity {
	if e := g.s.Entity(blueprint, id); e != nil {
		return e.Git
	}
	return nil
}

func (g snapshotGraph) Blueprint(id string) *catalog.Blueprint { return g.s.Blueprints[id] }

func (g snapshotGraph) Referrers(blueprint, id string) []catalog.Key {
	return g.s.Referrers(blueprint, id)
}

// compileScores compiles a catalog's scorecards.
func compileScores(cat *catalog.Catalog) (*scorecard.Set, error) {
	return scorecard.CompileAll(cat, query.Options{})
}

// score computes s's scorecard results with set, from prev's where only
// the given entities can have changed (changed == nil forces a full
// evaluation).
func score(prev, s *Snapshot, set *scorecard.Set, err error, changed []catalog.Key) *Scores {
	if err != nil || set == nil {
		return &Scores{Err: err, Results: scorecard.Results{}}
	}
	full := changed == nil || prev == nil || prev.Scores == nil || prev.Scores.Set == nil || prev.Scores.Err != nil
	for _, card := range set.Scorecards() {
		full = full || card.Relational() || card.Clocked()
	}
	lookup := func(k catalog.Key) *query.Entity {
		e := s.Entity(k.Blueprint, k.ID)
		if e == nil {
			return nil
		}
		return &query.Entity{Entity: e.Git, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Runtime: e.Runtime}
	}
	sc := &Scores{Set: set}
	if full {
		n := 0
		for _, es := range s.Entities {
			n += len(es)
		}
		views := make([]query.Entity, 0, n) // one allocation, not one per entity
		sc.Results = set.EvaluateAll(func(yield func(*query.Entity) bool) {
			for _, es := range s.Entities {
				for _, e := range es {
					views = append(views, query.Entity{Entity: e.Git, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Runtime: e.Runtime})
					if !yield(&views[len(views)-1]) {
						return
					}
				}
			}
		}, s.Graph())
		if prev != nil {
			sc.hasFrom = true
			if prev.Scores != nil {
				sc.from = prev.Scores.Results
			}
		}
		return sc
	}
	sc.Results = maps.Clone(prev.Scores.Results)
	if err := set.EvaluateOnly(sc.Results, changed, lookup, s.Graph()); err != nil {
		sc.Err = err
	}
	sc.from, sc.changed, sc.hasFrom = prev.Scores.Results, changed, true
	return sc
}

// PlannedMove is a level move a revision would cause, with the rules
// whose outcome it flips: why the entity moves.
type PlannedMove struct {
	LevelMove
	// Failing are the rules that pass now and would fail; Passing those
	// that fail now and would pass.
	Failing, Passing []string
}

// Preview returns the level moves publishing a would cause on the state
// served now, runtime values included, and the snapshot it would
// publish, without publishing anything: a pull request's plan shows how
// its change moves scorecards as they are, not as they were at the last
// commit.
func (h *Holder) Preview(a Applied) ([]PlannedMove, *Snapshot) {
	base := h.p.Load()
	next := build(base, a)
	var prev, cur scorecard.Results
	if base.Scores != nil {
		prev = base.Scores.Results
	}
	var keys []catalog.Key
	if next.Scores != nil {
		cur, keys = next.Scores.Results, next.Scores.changed
	}
	ms := moves(prev, cur, keys)
	out := make([]PlannedMove, len(ms))
	for i, m := range ms {
		out[i] = PlannedMove{LevelMove: m}
		before, after := prev[m.Key].Get(m.Scorecard), cur[m.Key].Get(m.Scorecard)
		for _, r := range after.Rules() {
			was, ok := before.Rule(r.Identifier)
			switch {
			case ok && was.Passed() && !r.Passed():
				out[i].Failing = append(out[i].Failing, r.Identifier)
			case ok && !was.Passed() && r.Passed():
				out[i].Passing = append(out[i].Passing, r.Identifier)
			}
		}
	}
	return out, next
}
