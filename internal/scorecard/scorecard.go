package scorecard

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
)

// Rule statuses, spelled as Port reports them.
const (
	StatusSuccess = "SUCCESS"
	StatusFailure = "FAILURE"
)

// Scorecard is a compiled scorecard. It is immutable and safe for
// concurrent use.
type Scorecard struct {
	id, title, blueprint string
	filter               *query.Query // nil: no filter
	levels               []catalog.Level
	rules                []rule // in declaration order
	deps                 []string
	relational, clocked  bool
}

type rule struct {
	id, title, level string
	rank             int // index of level in levels
	q                *query.Query
}

// Result is what one scorecard made of one entity.
type Result struct {
	// Level is the title of the level reached; LevelIndex its rank,
	// 0 for the base level.
	Level      string
	LevelIndex int
	Color      string
	// card made the result, and passed has a bit per rule of card, in
	// its rule order. Outcomes are kept as bits rather than as a list of
	// RuleResult because a catalog holds a Result per entity and
	// scorecard: tens of thousands of lists of strings that the garbage
	// collector would walk again on every cycle. Rules spells them out.
	card   *Scorecard
	passed []uint64
}

// RuleResult is the outcome of one rule for one entity.
type RuleResult struct {
	Identifier string `json:"identifier"`
	Level      string `json:"level"`
	Status     string `json:"status"` // StatusSuccess or StatusFailure
}

// Passed reports whether the entity passed the rule.
func (r RuleResult) Passed() bool { return r.Status == StatusSuccess }

// Rules returns every rule's outcome, in the scorecard's rule order.
func (r Result) Rules() []RuleResult {
	if r.card == nil {
		return []RuleResult{}
	}
	out := make([]RuleResult, len(r.card.rules))
	for i := range out {
		out[i] = r.rule(i)
	}
	return out
}

// Rule returns the outcome of the rule with the given identifier.
func (r Result) Rule(id string) (RuleResult, bool) {
	if r.card != nil {
		for i := range r.card.rules {
			if r.card.rules[i].id == id {
				return r.rule(i), true
			}
		}
	}
	return RuleResult{}, false
}

func (r Result) rule(i int) RuleResult {
	status := StatusFailure
	if r.rulePassed(i) {
		status = StatusSuccess
	}
	ru := &r.card.rules[i]
	return RuleResult{Identifier: ru.id, Level: ru.level, Status: status}
}

// Scorecard returns the identifier of the scorecard that made r.
func (r Result) Scorecard() string {
	if r.card == nil {
		return ""
	}
	return r.card.id
}

func (r Result) rulePassed(i int) bool { return r.passed[i/64]&(1<<(i%64)) != 0 }

// MarshalJSON writes the result as Port does, with its rules spelled out.
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Level      string       `json:"level"`
		LevelIndex int          `json:"levelIndex"`
		Color      string       `json:"color,omitempty"`
		Rules      []RuleResult `json:"rules"`
	}{r.Level, r.LevelIndex, r.Color, r.Rules()})
}

// Compile validates and compiles sc. Its levels are sc.Levels, or when
// it declares none opts.Levels[sc.Identifier], or catalog.DefaultLevels.
// opts.Levels also ranks the levels of other scorecards that rules read
// through `$scorecard.<id>.level`; [CompileAll] fills it for a catalog.
func Compile(sc *catalog.Scorecard, opts query.Options) (*Scorecard, error) {
	if sc == nil {
		return nil, errors.New("scorecard: nil scorecard")
	}
	if sc.Identifier == "" {
		return nil, errors.New("scorecard: missing identifier")
	}
	levels := sc.Levels
	if len(levels) == 0 {
		levels = opts.Levels[sc.Identifier]
	}
	if len(levels) == 0 {
		levels = catalog.DefaultLevels
	}
	s := &Scorecard{
		id:        sc.Identifier,
		title:     sc.Title,
		blueprint: sc.BlueprintIdentifier,
		levels:    slices.Clone(levels),
	}
	rank := make(map[string]int, len(levels))
	for i, l := range levels {
		if l.Title == "" {
			return nil, fmt.Errorf("scorecard %q: levels[%d] has no title", s.id, i)
		}
		if _, dup := rank[l.Title]; dup {
			return nil, fmt.Errorf("scorecard %q: level %q is declared twice", s.id, l.Title)
		}
		rank[l.Title] = i
	}
	// The scorecard's own levels rank `$scorecard.<self>.level` too,
	// although a Set rejects that reference as a cycle.
	if !slices.Equal(opts.Levels[s.id], s.levels) {
		m := maps.Clone(opts.Levels)
		if m == nil {
			m = map[string][]catalog.Level{}
		}
		m[s.id] = s.levels
		opts.Levels = m
	}

	deps := map[string]bool{}
	// note records what a query depends on besides the entity itself:
	// other scorecards' levels, the relation graph, the clock.
	note := func(q *query.Query) {
		for _, id := range q.Scorecards() {
			deps[id] = true
		}
		s.relational = s.relational || q.Relational()
		s.clocked = s.clocked || q.ReadsClock()
	}
	if sc.Filter != nil {
		q, err := opts.Compile(*sc.Filter)
		if err != nil {
			return nil, fmt.Errorf("scorecard %q: filter: %w", s.id, err)
		}
		s.filter = q
		note(q)
	}
	seen := make(map[string]bool, len(sc.Rules))
	for i := range sc.Rules {
		r := &sc.Rules[i]
		if r.Identifier == "" {
			return nil, fmt.Errorf("scorecard %q: rules[%d] has no identifier", s.id, i)
		}
		if seen[r.Identifier] {
			return nil, fmt.Errorf("scorecard %q: rule %q is declared twice", s.id, r.Identifier)
		}
		seen[r.Identifier] = true
		lv, ok := rank[r.Level]
		if !ok {
			return nil, fmt.Errorf("scorecard %q: rule %q: unknown level %q (levels: %s)", s.id, r.Identifier, r.Level, titles(levels))
		}
		q, err := opts.Compile(r.Query)
		if err != nil {
			return nil, fmt.Errorf("scorecard %q: rule %q: %w", s.id, r.Identifier, err)
		}
		note(q)
		s.rules = append(s.rules, rule{id: r.Identifier, title: r.Title, level: r.Level, rank: lv, q: q})
	}
	for id := range deps {
		s.deps = append(s.deps, id)
	}
	slices.Sort(s.deps)
	return s, nil
}

func titles(levels []catalog.Level) string {
	ts := make([]string, len(levels))
	for i, l := range levels {
		ts[i] = l.Title
	}
	return strings.Join(ts, ", ")
}

// Identifier returns the scorecard's identifier.
func (s *Scorecard) Identifier() string { return s.id }

// Title returns the scorecard's title.
func (s *Scorecard) Title() string { return s.title }

// Blueprint returns the scorecard's blueprintIdentifier, "" if unset.
func (s *Scorecard) Blueprint() string { return s.blueprint }

// Levels returns the scorecard's levels, lowest first.
func (s *Scorecard) Levels() []catalog.Level { return slices.Clone(s.levels) }

// DependsOn returns the scorecards whose levels the filter or rules
// read, sorted.
func (s *Scorecard) DependsOn() []string { return slices.Clone(s.deps) }

// Relational reports whether some rule or the filter follows relations
// (relatedTo), so that an entity's result may change when another
// entity changes.
func (s *Scorecard) Relational() bool { return s.relational }

// Clocked reports whether some rule or the filter reads the clock
// (isExpired, isNotExpired, date presets), so that an entity's result
// may change while nothing changes in the catalog.
func (s *Scorecard) Clocked() bool { return s.clocked }

// Evaluate reports the level e reached and each rule's outcome. The
// boolean is false when the scorecard does not apply to e. g resolves
// relatedTo rules and may be nil. Levels of other scorecards are read
// from e.Scorecards as given. To evaluate many entities, use a [Set].
func (s *Scorecard) Evaluate(e *query.Entity, g query.Graph) (Result, bool) {
	return s.run(g).eval(e)
}

// run holds the per-evaluation matchers of one scorecard: they read the
// clock once and cache what relatedTo rules learn of the graph.
type run struct {
	s      *Scorecard
	filter *query.Matcher
	rules  []*query.Matcher
	// alloc returns n zeroed words for rule outcomes; nil means make.
	alloc func(n int) []uint64
}

func (s *Scorecard) run(g query.Graph) *run {
	r := &run{s: s, rules: make([]*query.Matcher, len(s.rules))}
	if s.filter != nil {
		r.filter = s.filter.Matcher(g)
	}
	for i := range s.rules {
		r.rules[i] = s.rules[i].q.Matcher(g)
	}
	return r
}

// applies reports whether the scorecard applies to e.
func (r *run) applies(e *query.Entity) bool {
	if e == nil || e.Entity == nil {
		return false
	}
	if r.s.blueprint != "" && e.Blueprint != r.s.blueprint {
		return false
	}
	return r.filter == nil || r.filter.Match(e)
}

func (r *run) eval(e *query.Entity) (Result, bool) {
	if !r.applies(e) {
		return Result{}, false
	}
	s := r.s
	top := len(s.levels) - 1 // highest level reachable so far
	res := Result{card: s}
	words := (len(s.rules) + 63) / 64
	if r.alloc != nil {
		res.passed = r.alloc(words)
	} else {
		res.passed = make([]uint64, words)
	}
	for i := range s.rules {
		if r.rules[i].Match(e) {
			res.passed[i/64] |= 1 << (i % 64)
			continue
		}
		// Failing a rule of level L caps the entity just below L, and
		// never below the base level.
		top = min(top, max(s.rules[i].rank-1, 0))
	}
	res.LevelIndex = top
	res.Level = s.levels[top].Title
	res.Color = s.levels[top].Color
	return res, true
}
