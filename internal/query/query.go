package query

import (
	"slices"
	"time"

	"github.com/pierhq/pier/internal/catalog"
)

// Entity is the view of an entity a query is evaluated on: the entity as
// declared plus what the system knows about it that is not in git.
//
// It is a struct rather than an interface so that resolving a property
// is a field or map access with no dynamic dispatch and no allocation.
type Entity struct {
	*catalog.Entity
	// CreatedAt and UpdatedAt back $createdAt and $updatedAt. A zero
	// time reads as a missing value.
	CreatedAt, UpdatedAt time.Time
	// Scorecards gives the level the entity reached in each scorecard;
	// it backs $scorecard.<id>.level. Nil: none.
	Scorecards Levels
	// Runtime holds values of runtime-owned properties (written through
	// the API, not git). They win over Properties of the same name.
	Runtime map[string]any
}

// Levels gives an entity's scorecard levels. It is an interface so that
// whoever holds scorecard results can answer from them, instead of
// keeping a map of level titles per entity beside them.
type Levels interface {
	// Level returns the title of the level the entity reached in the
	// scorecard, or false when the scorecard does not apply to it.
	Level(scorecard string) (string, bool)
}

// LevelMap is Levels as a map from scorecard identifier to level title.
type LevelMap map[string]string

// Level implements Levels.
func (m LevelMap) Level(scorecard string) (string, bool) {
	l, ok := m[scorecard]
	return l, ok
}

// Graph is what relatedTo needs to follow relations: entities by key, and
// blueprints to learn each relation's target blueprint and whether it is
// required. Implementations must be safe for the concurrent use the
// caller makes of the query. A Graph that also implements Referrers makes
// downstream relatedTo rules cheaper in a Matcher.
type Graph interface {
	// Entity returns the entity or nil if there is none.
	Entity(blueprint, identifier string) *catalog.Entity
	// Blueprint returns the blueprint or nil if there is none.
	Blueprint(identifier string) *catalog.Blueprint
}

// Options tune compilation and evaluation.
type Options struct {
	// Now is the clock for date presets, isExpired and isNotExpired. It
	// is read once per Match (once per Matcher), never at compile time,
	// so one compiled query stays correct as time passes. Calendar-day
	// presets (today, yesterday, tomorrow) use the location of the time
	// it returns. Default: time.Now.
	Now func() time.Time
	// Levels gives each scorecard's levels, lowest first, so that
	// `$scorecard.<id>.level` compares by rank with > >= < <=. Scorecards
	// not listed use catalog.DefaultLevels.
	Levels map[string][]catalog.Level
}

// Query is a compiled query. It is immutable and safe for concurrent use.
type Query struct {
	root       node
	now        func() time.Time
	needsNow   bool     // some rule reads the clock
	scorecards []string // the scorecards whose levels rules read, sorted
	related    int      // number of relatedTo rules (Matcher cache slots)
	presets    int      // number of preset ranges (Matcher cache slots)
	blueprints []string
	pinned     bool
}

// Compile compiles q with default options.
func Compile(q catalog.Query) (*Query, error) { return Options{}.Compile(q) }

// Compile validates and compiles q. A query that is not valid yields an
// *Error naming the offending rule by path, such as `rules[2].rules[0]`.
func (o Options) Compile(q catalog.Query) (*Query, error) {
	c := compiler{opts: o}
	root, err := c.group(q.Combinator, q.Rules, "", 0)
	if err != nil {
		return nil, err
	}
	slices.Sort(c.scorecards)
	out := &Query{root: root, now: o.Now, needsNow: c.needsNow, scorecards: c.scorecards, related: c.related, presets: c.presets}
	if out.now == nil {
		out.now = time.Now
	}
	if set, known := root.blueprints(); known {
		out.pinned = true
		out.blueprints = set
	}
	return out, nil
}

// Blueprints returns the blueprints an entity must belong to for the
// query to match, when the query pins `$blueprint` with = or in under
// and-groups (or or-groups whose every branch pins it). It returns nil
// when the query does not constrain the blueprint, and an empty non-nil
// slice when no blueprint can match. The API uses it to pre-filter.
func (q *Query) Blueprints() []string {
	if !q.pinned {
		return nil
	}
	return append([]string{}, q.blueprints...)
}

// ReadsScorecards reports whether some rule reads `$scorecard.<id>.level`:
// when none does, Entity.Scorecards need not be filled.
func (q *Query) ReadsScorecards() bool { return len(q.scorecards) > 0 }

// Scorecards returns, sorted, the scorecards whose levels the query reads.
func (q *Query) Scorecards() []string { return slices.Clone(q.scorecards) }

// ReadsClock reports whether the query's answer can change as time
// passes (date presets, isExpired, isNotExpired).
func (q *Query) ReadsClock() bool { return q.needsNow }

// Relational reports whether some rule is a relatedTo rule: whether an
// entity's match can depend on other entities than the one matched.
func (q *Query) Relational() bool { return q.related > 0 }

// Match reports whether e satisfies the query. g resolves relatedTo
// rules and may be nil when the query has none (relatedTo is then
// false). Match reads the clock once per call; to evaluate many
// entities at one instant, and to share relatedTo work, use a Matcher.
func (q *Query) Match(e *Entity, g Graph) bool {
	if e == nil || e.Entity == nil {
		return false
	}
	c := evalCtx{e: e, g: g}
	if q.needsNow {
		c.now = q.now()
	}
	return c.eval(&q.root)
}

// Matcher evaluates one query over many entities against one graph at
// one instant: a search, a scorecard run, an aggregation. It caches what
// relatedTo rules learn about the graph and the instants date presets
// stand for, so it must not outlive changes to the graph, and it is not
// safe for concurrent use.
type Matcher struct {
	q   *Query
	ctx evalCtx
}

// Matcher returns a Matcher over g with the clock read now.
func (q *Query) Matcher(g Graph) *Matcher {
	m := &Matcher{q: q, ctx: evalCtx{g: g}}
	if q.needsNow {
		m.ctx.now = q.now()
	}
	if q.related > 0 {
		m.ctx.cache = make([]relCache, q.related)
	}
	if q.presets > 0 {
		m.ctx.bounds = make([]bounds, q.presets)
	}
	return m
}

// Match reports whether e satisfies the query.
func (m *Matcher) Match(e *Entity) bool {
	if e == nil || e.Entity == nil {
		return false
	}
	m.ctx.e = e
	ok := m.ctx.eval(&m.q.root)
	m.ctx.e = nil
	return ok
}

// Error is a compile error. Path names the rule (`rules[2].rules[0]`,
// empty for the query itself) so that the API can answer 400 pointing at
// what to fix.
type Error struct {
	Path    string
	Message string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "query: " + e.Message
	}
	return "query " + e.Path + ": " + e.Message
}
