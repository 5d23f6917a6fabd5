package scorecard

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
)

// Set is the compiled scorecards of a catalog, in dependency order. It
// is immutable and safe for concurrent use.
type Set struct {
	cards []*Scorecard // a scorecard comes after those it reads
	byID  map[string]*Scorecard
	// linked is set when some scorecard reads the level of another
	// scorecard of the set: levels must then be fed forward.
	linked bool
}

// CycleError is a cycle of scorecards reading each other's levels.
type CycleError struct {
	// Cycle names the scorecards along the cycle, the first repeated
	// at the end: [a b a].
	Cycle []string
}

func (e *CycleError) Error() string {
	return "scorecard dependency cycle: " + strings.Join(e.Cycle, " -> ")
}

// Results holds, for each entity, the result of every scorecard that
// applies to it. Entities no scorecard applies to are absent. Keys are
// entity keys (Kind catalog.KindEntityObj).
type Results map[catalog.Key]EntityResults

// EntityResults are one entity's results, one per scorecard that applies
// to it, in the set's evaluation order. A slice rather than a map by
// scorecard: a catalog holds one per entity, and a map of three results
// takes five times the memory.
type EntityResults []Result

// Lookup returns the result of the scorecard with the given identifier.
func (r EntityResults) Lookup(card string) (Result, bool) {
	for _, res := range r {
		if res.card != nil && res.card.id == card {
			return res, true
		}
	}
	return Result{}, false
}

// Get returns the result of the scorecard with the given identifier, or
// the zero Result.
func (r EntityResults) Get(card string) Result {
	res, _ := r.Lookup(card)
	return res
}

// CompileAll compiles every scorecard of c. A scorecard without levels
// of its own uses c.Settings.Levels, then catalog.DefaultLevels, as the
// loader does; opts.Levels is extended with each scorecard's levels so
// that `$scorecard.<id>.level` ranks on the right ladder. Every
// scorecard that fails to compile is reported.
func CompileAll(c *catalog.Catalog, opts query.Options) (*Set, error) {
	if c == nil {
		return nil, errors.New("scorecard: nil catalog")
	}
	ids := slices.Sorted(maps.Keys(c.Scorecards))
	levels := maps.Clone(opts.Levels)
	if levels == nil {
		levels = make(map[string][]catalog.Level, len(ids))
	}
	for _, id := range ids {
		ls := c.Scorecards[id].Levels
		if len(ls) == 0 {
			ls = c.Settings.Levels
		}
		if len(ls) == 0 {
			ls = catalog.DefaultLevels
		}
		levels[id] = ls
	}
	opts.Levels = levels
	cards := make([]*Scorecard, 0, len(ids))
	var errs []error
	for _, id := range ids {
		sc := c.Scorecards[id]
		if sc == nil {
			errs = append(errs, fmt.Errorf("scorecard %q: nil scorecard", id))
			continue
		}
		if sc.Identifier != "" && sc.Identifier != id {
			errs = append(errs, fmt.Errorf("scorecard %q: declares identifier %q", id, sc.Identifier))
			continue
		}
		if sc.Identifier == "" {
			cp := *sc
			cp.Identifier = id
			sc = &cp
		}
		s, err := Compile(sc, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cards = append(cards, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return NewSet(cards...)
}

// NewSet orders compiled scorecards so that each comes after the
// scorecards whose levels it reads. It rejects duplicate identifiers and
// dependency cycles (*CycleError). References to scorecards outside the
// set do not order anything.
func NewSet(cards ...*Scorecard) (*Set, error) {
	s := &Set{byID: make(map[string]*Scorecard, len(cards))}
	for _, c := range cards {
		if c == nil {
			return nil, errors.New("scorecard: nil scorecard in set")
		}
		if _, dup := s.byID[c.id]; dup {
			return nil, fmt.Errorf("scorecard %q: in the set twice", c.id)
		}
		s.byID[c.id] = c
	}
	const (
		unvisited = iota
		onStack
		done
	)
	state := make(map[string]int, len(cards))
	var stack []string
	var visit func(id string) error
	visit = func(id string) error {
		switch state[id] {
		case done:
			return nil
		case onStack:
			i := slices.Index(stack, id)
			cycle := append(slices.Clone(stack[i:]), id)
			return &CycleError{Cycle: cycle}
		}
		state[id] = onStack
		stack = append(stack, id)
		for _, d := range s.byID[id].deps {
			if _, ok := s.byID[d]; !ok {
				continue
			}
			s.linked = true
			if err := visit(d); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[id] = done
		s.cards = append(s.cards, s.byID[id])
		return nil
	}
	for _, id := range slices.Sorted(maps.Keys(s.byID)) {
		if err := visit(id); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Scorecards returns the scorecards in evaluation order: each after the
// scorecards whose levels it reads.
func (s *Set) Scorecards() []*Scorecard { return slices.Clone(s.cards) }

// Scorecard returns the scorecard with the given identifier, or nil.
func (s *Set) Scorecard(id string) *Scorecard { return s.byID[id] }

// Len is the number of scorecards in the set.
func (s *Set) Len() int { return len(s.cards) }

// EvaluateAll evaluates every scorecard on every entity, at one instant
// and against one graph g (nil when no rule uses relatedTo). Entities
// the iterator yields twice keep the last result.
func (s *Set) EvaluateAll(entities iter.Seq[*query.Entity], g query.Graph) Results {
	var all []*query.Entity
	for e := range entities {
		if e != nil && e.Entity != nil {
			all = append(all, e)
		}
	}
	// Entities are scored independently: split them over the CPUs, an
	// evaluator each (evaluators keep per-run state), and join.
	workers := min(runtime.GOMAXPROCS(0), max(1, len(all)/2048))
	parts := make([]Results, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := s.evaluator(g)
			size := len(all)/workers + 1
			if w == 0 {
				size = len(all)
			}
			out := make(Results, size)
			for i := w; i < len(all); i += workers {
				if r := ev.entity(all[i]); r != nil {
					out[entityKey(all[i].Entity)] = r
				}
			}
			parts[w] = out
		}()
	}
	wg.Wait()
	// The first part, made big enough for all, takes the others in.
	out := parts[0]
	for _, p := range parts[1:] {
		maps.Copy(out, p)
	}
	return out
}

// EvaluateOnly re-evaluates the entities with the given keys and
// updates dst in place: the incremental path, for entities whose inputs
// changed. lookup returns the entity for a key, or nil when it no longer
// exists, in which case its results are removed. dst must not be read
// concurrently; clone it first (maps.Clone) to keep the old results
// readable. A nil dst is allowed only when keys is empty.
func (s *Set) EvaluateOnly(dst Results, keys []catalog.Key, lookup func(catalog.Key) *query.Entity, g query.Graph) error {
	if len(keys) == 0 {
		return nil
	}
	if dst == nil {
		return errors.New("scorecard: EvaluateOnly into nil results")
	}
	if lookup == nil {
		return errors.New("scorecard: EvaluateOnly without lookup")
	}
	ev := s.evaluator(g)
	for _, k := range keys {
		e := lookup(k)
		if e == nil || e.Entity == nil {
			delete(dst, k)
			continue
		}
		if r := ev.entity(e); r != nil {
			dst[k] = r
		} else {
			delete(dst, k)
		}
	}
	return nil
}

// Entities yields every entity of c as a query.Entity with no
// timestamps, scorecard levels or runtime values: enough for scorecards
// over declared properties, and for tests. The order is unspecified.
func Entities(c *catalog.Catalog) iter.Seq[*query.Entity] {
	return func(yield func(*query.Entity) bool) {
		if c == nil {
			return
		}
		for _, es := range c.Entities {
			for _, e := range es {
				if !yield(&query.Entity{Entity: e}) {
					return
				}
			}
		}
	}
}

func entityKey(e *catalog.Entity) catalog.Key {
	return catalog.Key{Kind: catalog.KindEntityObj, Blueprint: e.Blueprint, ID: e.Identifier}
}

// evaluator evaluates the set entity by entity at one instant.
type evaluator struct {
	set  *Set
	runs []*run
	slab []uint64
	// results is where entities' results are cut from.
	results []Result
	// view and levels are the entity linked scorecards read: the
	// caller's, with the levels computed so far (reused per entity).
	view   query.Entity
	levels overlay
}

// overlay answers for the set's scorecards from the levels computed so
// far, and for any other scorecard from the caller's levels.
type overlay struct {
	set    *Set
	base   query.Levels
	levels query.LevelMap
}

func (o *overlay) Level(id string) (string, bool) {
	if _, ours := o.set.byID[id]; ours {
		return o.levels.Level(id)
	}
	if o.base == nil {
		return "", false
	}
	return o.base.Level(id)
}

func (s *Set) evaluator(g query.Graph) *evaluator {
	ev := &evaluator{set: s, runs: make([]*run, len(s.cards)), levels: overlay{set: s, levels: query.LevelMap{}}}
	for i, c := range s.cards {
		ev.runs[i] = c.run(g)
		ev.runs[i].alloc = ev.ruleResults
	}
	return ev
}

// ruleResults hands out words for rule outcomes cut from shared chunks:
// one allocation for many entities rather than one per entity and
// scorecard.
func (ev *evaluator) ruleResults(n int) []uint64 {
	if len(ev.slab) < n {
		ev.slab = make([]uint64, max(n, slabSize))
	}
	out := ev.slab[:n:n]
	ev.slab = ev.slab[n:]
	return out
}

// slabSize is the number of words allocated at once.
const slabSize = 4096

// entity evaluates every scorecard on e in dependency order, or returns
// nil when none applies. When scorecards read each other, they read a
// copy of e whose Scorecards answers with the levels computed so far
// (the caller's entity is not modified): a computed level replaces the
// one the caller gave, and a scorecard that does not apply has no level.
func (ev *evaluator) entity(e *query.Entity) EntityResults {
	view := e
	if ev.set.linked {
		ev.view = *e
		ev.levels.base = e.Scorecards
		clear(ev.levels.levels)
		ev.view.Scorecards = &ev.levels
		view = &ev.view
	}
	if len(ev.results) < len(ev.runs) {
		ev.results = make([]Result, max(len(ev.runs), slabSize/4))
	}
	out := ev.results[:0:len(ev.runs)]
	for _, r := range ev.runs {
		res, ok := r.eval(view)
		if ev.set.linked && ok {
			ev.levels.levels[r.s.id] = res.Level
		}
		if ok {
			out = append(out, res)
		}
	}
	if len(out) == 0 {
		return nil
	}
	ev.results = ev.results[len(out):]
	return out[:len(out):len(out)]
}
