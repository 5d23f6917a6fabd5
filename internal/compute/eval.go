package compute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/pierhq/pier/internal/jqtmpl"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
)

// Result holds computed values per entity, by property name. A property
// whose evaluation failed is absent; a property that evaluated to null
// is present with a nil value. Numbers are json.Number, as in entities.
type Result map[catalog.Key]map[string]any

// ref is one relation pointing at an entity.
type ref struct {
	from catalog.Key
	rel  string
}

// Snapshot binds a plan to one catalog revision. It indexes the
// catalog's relations in reverse once, so that Affected and
// EvaluateOnly cost what the change touches, not what the catalog
// holds. The catalog must not change while the snapshot is in use; a
// Snapshot is safe for concurrent use once built.
type Snapshot struct {
	p     *Plan
	c     *catalog.Catalog
	refs  map[catalog.Key][]ref
	graph query.Graph
}

// Bind indexes c for p.
func (p *Plan) Bind(c *catalog.Catalog) *Snapshot {
	s := &Snapshot{p: p, c: c, refs: map[catalog.Key][]ref{}, graph: query.GraphOf(c)}
	type entry struct {
		k catalog.Key
		e *catalog.Entity
	}
	n := 0
	for bp, es := range c.Entities {
		if len(p.relations[bp]) > 0 {
			n += len(es)
		}
	}
	all := make([]entry, 0, n)
	for bp, es := range c.Entities {
		if len(p.relations[bp]) == 0 {
			continue
		}
		for id, e := range es {
			all = append(all, entry{entityKey(bp, id), e})
		}
	}
	// Reading every entity's relations waits on memory more than it
	// computes: each worker indexes a share into its own map, and the
	// maps are joined (there are usually far fewer targets than entities).
	workers := min(runtime.GOMAXPROCS(0), max(1, len(all)/p.parallel))
	parts := make([]*Snapshot, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part := &Snapshot{p: p, c: c, refs: map[catalog.Key][]ref{}}
			for i := w; i < len(all); i += workers {
				part.index(all[i].k, all[i].e, 1)
			}
			parts[w] = part
		}()
	}
	wg.Wait()
	if workers == 1 {
		s.refs = parts[0].refs
		return s
	}
	for _, part := range parts {
		for k, rs := range part.refs {
			s.refs[k] = append(s.refs[k], rs...)
		}
	}
	return s
}

// index adds (sign 1) or removes (sign -1) the references entity e,
// whose key is from, makes through its relations.
func (s *Snapshot) index(from catalog.Key, e *catalog.Entity, sign int) {
	for _, rel := range s.p.relations[from.Blueprint] {
		v, ok := e.Relations[rel.name]
		if !ok {
			continue
		}
		for _, id := range catalog.Identifiers(v) {
			to := entityKey(rel.target, id)
			r := ref{from: from, rel: rel.name}
			if sign > 0 {
				s.refs[to] = append(s.refs[to], r)
				continue
			}
			if i := slices.Index(s.refs[to], r); i >= 0 {
				s.refs[to] = slices.Delete(s.refs[to], i, i+1)
				if len(s.refs[to]) == 0 {
					delete(s.refs, to)
				}
			}
		}
	}
}

// Rebind moves the snapshot on to c: the catalog it was bound to, with
// the entities named by changed created, edited or removed, under the
// same plan. It returns the new snapshot and, sorted, the entities whose
// computed values may change: what the changed entities reached before
// the change and after it, so that an entity that stopped relating to
// another still has its values recomputed. Only the changed entities'
// references are re-indexed, so it costs what the change touches, not
// what the catalog holds; s is spent, its index now the new snapshot's.
func (s *Snapshot) Rebind(c *catalog.Catalog, changed []catalog.Key) (*Snapshot, []catalog.Key) {
	before := s.Affected(changed)
	n := &Snapshot{p: s.p, c: s.c, refs: s.refs, graph: query.GraphOf(c)}
	s.refs = nil
	for _, k := range changed {
		if e := s.c.Entities[k.Blueprint][k.ID]; e != nil && k.Kind == catalog.KindEntityObj {
			n.index(k, e, -1)
		}
	}
	n.c = c
	for _, k := range changed {
		if e := c.Entities[k.Blueprint][k.ID]; e != nil && k.Kind == catalog.KindEntityObj {
			n.index(k, e, 1)
		}
	}
	affected := n.Affected(changed)
	seen := make(map[catalog.Key]bool, len(affected))
	for _, k := range affected {
		seen[k] = true
	}
	for _, k := range before {
		if !seen[k] {
			affected = append(affected, k)
		}
	}
	sortKeys(affected)
	return n, affected
}

// Evaluate computes every computed property of every entity of c.
func (p *Plan) Evaluate(c *catalog.Catalog) (Result, []error) { return p.Bind(c).Evaluate() }

// Evaluate computes every computed property of every entity. Errors do
// not stop it: each names the entity and property, which is left out of
// the result, and what reads it sees null.
func (s *Snapshot) Evaluate() (Result, []error) { return s.EvaluateFunc(nil) }

// EvaluateFunc is Evaluate, calling done with each entity's values (when
// it has any) as soon as they are complete, on the goroutine that
// computed them: what the caller does with them is spread over the CPUs
// with the evaluation, while the entity is still in cache. done must be
// safe for concurrent use and must not modify the values.
func (s *Snapshot) EvaluateFunc(done func(k catalog.Key, vals map[string]any)) (Result, []error) {
	var keys []catalog.Key
	for _, bp := range slices.Sorted(maps.Keys(s.p.byBlueprint)) {
		for _, id := range slices.Sorted(maps.Keys(s.c.Entities[bp])) {
			keys = append(keys, entityKey(bp, id))
		}
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, len(keys)/s.p.parallel))
	// each evaluates every entity from keys[from] on, step apart, into
	// out: an entity's values are complete once all has run for it.
	each := func(ev *evaluator, from, step int, out Result) {
		for i := from; i < len(keys); i += step {
			if sl := ev.all(keys[i]); sl != nil && len(sl.vals) > 0 {
				out[keys[i]] = sl.vals
				if done != nil {
					done(keys[i], sl.vals)
				}
			}
		}
	}
	if workers == 1 {
		ev := s.newEvaluator(nil, nil)
		defer ev.done()
		out := make(Result, len(keys))
		each(ev, 0, 1, out)
		return out, ev.errs
	}
	// Entities are spread over the CPUs, an evaluator each. A value two
	// workers both need (a team's aggregation that several services
	// mirror) is computed by each: the same value, a little repeated
	// work, no locking. Each worker returns its own entities' values.
	type part struct {
		vals Result
		errs []error
	}
	parts := make([]part, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := s.newEvaluator(nil, nil)
			defer ev.done()
			size := len(keys)/workers + 1
			if w == 0 {
				size = len(keys) // it takes the other parts in
			}
			out := make(Result, size)
			each(ev, w, workers, out)
			parts[w] = part{out, ev.errs}
		}()
	}
	wg.Wait()
	// The first part takes the others in.
	out := parts[0].vals
	var errs []error
	seen := map[string]bool{}
	for i, p := range parts {
		if i > 0 {
			maps.Copy(out, p.vals)
		}
		for _, err := range p.errs {
			if !seen[err.Error()] { // a shared value's error, reported once
				seen[err.Error()] = true
				errs = append(errs, err)
			}
		}
	}
	return out, errs
}

// EvaluateOnly computes the computed properties of the entities keys
// names. Values of other entities it needs are taken from prev when
// prev holds that entity, and computed on the way otherwise (and not
// returned). When keys includes Affected(changed) for every change since
// prev was computed, the values returned are those Evaluate would give.
func (s *Snapshot) EvaluateOnly(keys []catalog.Key, prev Result) (Result, []error) {
	want := make(map[catalog.Key]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	ev := s.newEvaluator(prev, want)
	defer ev.done()
	for _, k := range keys {
		ev.all(k)
	}
	return ev.result(want), ev.errs
}

// entityKey is the key of an entity.
func entityKey(bp, id string) catalog.Key {
	return catalog.Key{Kind: catalog.KindEntityObj, Blueprint: bp, ID: id}
}

// evaluator computes values on demand and remembers them. Because the
// plan orders properties without cycles, asking for one value only ever
// asks for values of properties earlier in that order, so recursion
// ends.
type evaluator struct {
	s     *Snapshot
	prev  Result
	fresh map[catalog.Key]bool // recompute these even if prev has them
	slots map[catalog.Key]*slot
	errs  []error
	match map[*prop]*query.Matcher
	// chunk is where slots and their states are cut from, a few
	// hundred at a time rather than one allocation each.
	chunk  []slot
	states []uint8
	// in is the input of jq calculations, refilled for each: gojq
	// never writes its input, and Normalize copies what a calculation
	// returns, so nothing keeps it.
	in map[string]any

	// ctx bounds jq evaluations. A context with a timer per expression
	// cost a tenth of evaluating 20,000 calculations, so one is shared
	// and renewed when less than half of the timeout is left: every
	// expression gets between half the timeout and all of it.
	ctx      context.Context
	cancel   context.CancelFunc
	deadline time.Time
}

// starvedBy, in tests, is how long the shared deadline has already been
// used up when an expression starts: a machine short of CPU.
var starvedBy time.Duration

// jqContext returns the context a jq evaluation runs under.
func (ev *evaluator) jqContext() context.Context {
	timeout := ev.s.p.timeout
	if now := time.Now().Add(-starvedBy); ev.ctx == nil || ev.deadline.Sub(now) < timeout/2 {
		if ev.cancel != nil {
			ev.cancel()
		}
		ev.deadline = now.Add(timeout)
		ev.ctx, ev.cancel = context.WithDeadline(context.Background(), ev.deadline)
	}
	return ev.ctx
}

// run evaluates a calculation's first output under ctx; an evaluation
// the context stopped is context.DeadlineExceeded.
func (ev *evaluator) run(pr *prop, in map[string]any, ctx context.Context) (any, bool, error) {
	out, ok := pr.code.RunWithContext(ctx, in).Next()
	if err, isErr := out.(error); ok && isErr {
		if ctx.Err() != nil {
			return nil, false, context.DeadlineExceeded
		}
		return nil, false, err
	}
	return out, ok, nil
}

// done releases the evaluator's timer.
func (ev *evaluator) done() {
	if ev.cancel != nil {
		ev.cancel()
	}
}

// slot holds what the evaluator knows of one entity: the values
// computed so far, and per property of its blueprint (by index) whether
// it was computed (done) or failed.
type slot struct {
	vals  map[string]any
	state []uint8
}

const (
	done   = 1
	failed = 2
)

func (s *Snapshot) newEvaluator(prev Result, fresh map[catalog.Key]bool) *evaluator {
	return &evaluator{s: s, prev: prev, fresh: fresh,
		slots: map[catalog.Key]*slot{}, match: map[*prop]*query.Matcher{}}
}

// slot returns k's slot, making it on first use.
func (ev *evaluator) slot(k catalog.Key) *slot {
	if sl := ev.slots[k]; sl != nil {
		return sl
	}
	const n = 256
	if len(ev.chunk) == 0 {
		ev.chunk = make([]slot, n)
	}
	sl := &ev.chunk[0]
	ev.chunk = ev.chunk[1:]
	props := len(ev.s.p.byBlueprint[k.Blueprint])
	if len(ev.states) < props {
		ev.states = make([]uint8, max(props, n*4))
	}
	sl.state, ev.states = ev.states[:props:props], ev.states[props:]
	ev.slots[k] = sl
	return sl
}

// all computes every computed property of k, and returns k's slot (nil
// when there is no such entity, or its blueprint computes nothing).
func (ev *evaluator) all(k catalog.Key) *slot {
	if ev.s.c.Entities[k.Blueprint][k.ID] == nil {
		return nil
	}
	for _, pr := range ev.s.p.byBlueprint[k.Blueprint] {
		ev.value(k, pr)
	}
	return ev.slots[k]
}

// result returns the values of the entities only names.
func (ev *evaluator) result(only map[catalog.Key]bool) Result {
	out := make(Result, len(only))
	for k := range only {
		if sl := ev.slots[k]; sl != nil && sl.vals != nil {
			out[k] = sl.vals
		}
	}
	return out
}

// value returns the value of pr for entity k, computing it if needed;
// nil when it is null, missing or failed.
func (ev *evaluator) value(k catalog.Key, pr *prop) any {
	if !ev.fresh[k] {
		if m, ok := ev.prev[k]; ok {
			return m[pr.name]
		}
	}
	sl := ev.slot(k)
	switch sl.state[pr.index] {
	case done:
		return sl.vals[pr.name]
	case failed:
		return nil
	}
	e := ev.s.c.Entities[k.Blueprint][k.ID]
	if e == nil {
		return nil
	}
	v, err := ev.compute(e, k, pr)
	if err != nil {
		sl.state[pr.index] = failed
		ev.errs = append(ev.errs, fmt.Errorf("%s: property %s (%s): %w", k, pr.name, pr.kind, err))
		return nil
	}
	sl.state[pr.index] = done
	if sl.vals == nil {
		sl.vals = make(map[string]any, len(sl.state))
	}
	sl.vals[pr.name] = v
	return v
}

func (ev *evaluator) compute(e *catalog.Entity, k catalog.Key, pr *prop) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("internal error: %v", r)
		}
	}()
	switch pr.kind {
	case Formula:
		x, err := pr.formula.eval(func(name string) any { return ev.prop(e, k, name) })
		if err != nil || x == nil {
			return nil, err
		}
		return numberOf(*x)
	case Calculation:
		return ev.jq(e, k, pr)
	case Mirror:
		return ev.mirror(e, pr), nil
	case Aggregation:
		return ev.aggregate(k, pr)
	}
	return nil, fmt.Errorf("unknown kind")
}

// prop reads a property of e: computed when the plan computes it (and
// it must then be among the reader's dependencies), declared otherwise.
func (ev *evaluator) prop(e *catalog.Entity, k catalog.Key, name string) any {
	if d, ok := ev.s.p.props[k.Blueprint][name]; ok {
		return ev.value(k, d)
	}
	return e.Properties[name]
}

// jq runs a calculation on the entity as Port exposes it. Its
// .properties holds the declared properties and the computed ones the
// plan found it reads, and no others, so that what it sees does not
// depend on evaluation order.
func (ev *evaluator) jq(e *catalog.Entity, k catalog.Key, pr *prop) (any, error) {
	// gojq never writes its input, so the entity's own maps are passed
	// as they are; only a calculation that reads other computed values
	// needs a copy to add them to.
	props := e.Properties
	if len(pr.selfDeps) > 0 {
		props = make(map[string]any, len(e.Properties)+len(pr.selfDeps))
		maps.Copy(props, e.Properties)
		for _, n := range pr.selfDeps {
			props[n] = ev.value(k, ev.s.p.props[k.Blueprint][n])
		}
	}
	if props == nil {
		props = map[string]any{}
	}
	rels := e.Relations
	if rels == nil {
		rels = map[string]any{}
	}
	team := make([]any, len(e.Team))
	for i, t := range e.Team {
		team[i] = t
	}
	if ev.in == nil {
		ev.in = make(map[string]any, 7)
	}
	in := ev.in
	in["identifier"] = e.Identifier
	in["title"] = e.Title
	in["icon"] = e.Icon
	in["blueprint"] = e.Blueprint
	in["team"] = team
	in["properties"] = props
	in["relations"] = rels
	out, ok, err := ev.run(pr, in, ev.jqContext())
	if errors.Is(err, context.DeadlineExceeded) {
		// The shared deadline leaves an expression as little as half the
		// timeout, and a machine short of CPU can spend that in the
		// scheduler: only an expression that also overruns a deadline of
		// its own is a runaway. A value must not depend on the load.
		ctx, cancel := context.WithTimeout(context.Background(), ev.s.p.timeout)
		out, ok, err = ev.run(pr, in, ctx)
		cancel()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("jq %q: stopped after %v", pr.src, ev.s.p.timeout)
	case err != nil:
		return nil, fmt.Errorf("jq %q: %v", pr.src, err)
	case !ok:
		return nil, nil // no output reads as null
	}
	v, err := jqtmpl.Normalize(out)
	if err != nil {
		return nil, fmt.Errorf("jq %q: %v", pr.src, err)
	}
	if !fits(pr.typ, v) {
		b, _ := json.Marshal(v)
		return nil, fmt.Errorf("jq %q produced %s %s, but the property is of type %s", pr.src, jsonType(v), truncate(string(b), 80), pr.typ)
	}
	return v, nil
}

// mirror follows pr's relations from e and reads the leaf on what it
// reaches: one value (null when a relation or entity is missing), or an
// array of the non-null values when some hop is a many relation.
func (ev *evaluator) mirror(e *catalog.Entity, pr *prop) any {
	if !pr.many {
		// One entity at each hop (validation holds single relations to
		// one identifier): no lists to build.
		x := e
		for i, rel := range pr.hops {
			var y *catalog.Entity
			for _, id := range catalog.Identifiers(x.Relations[rel]) {
				if y = ev.s.c.Entities[pr.hopBP[i]][id]; y != nil {
					break
				}
			}
			if y == nil {
				return nil
			}
			x = y
		}
		return ev.leaf(x, pr)
	}
	cur := []*catalog.Entity{e}
	for i, rel := range pr.hops {
		var next []*catalog.Entity
		for _, x := range cur {
			for _, id := range catalog.Identifiers(x.Relations[rel]) {
				if y := ev.s.c.Entities[pr.hopBP[i]][id]; y != nil {
					next = append(next, y)
				}
			}
		}
		cur = next
	}
	out := []any{}
	for _, x := range cur {
		if v := ev.leaf(x, pr); v != nil {
			out = append(out, v)
		}
	}
	return out
}

func (ev *evaluator) leaf(x *catalog.Entity, pr *prop) any {
	switch pr.leafKind {
	case leafIdentifier:
		return x.Identifier
	case leafTitle:
		return x.Title
	case leafBlueprint:
		return x.Blueprint
	case leafRelation:
		return x.Relations[pr.leaf]
	case leafComputed:
		return ev.value(entityKey(x.Blueprint, x.Identifier), pr.deps[0])
	}
	return x.Properties[pr.leaf]
}

// related returns the target entities an aggregation of k ranges over.
func (ev *evaluator) related(k catalog.Key, pr *prop) []*catalog.Entity {
	var out []*catalog.Entity
	seen := map[string]bool{}
	add := func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		if x := ev.s.c.Entities[pr.target][id]; x != nil {
			out = append(out, x)
		}
	}
	if pr.incoming {
		for _, r := range ev.s.refs[k] {
			if r.from.Blueprint == pr.target && slices.Contains(pr.rels, r.rel) {
				add(r.from.ID)
			}
		}
	} else if e := ev.s.c.Entities[k.Blueprint][k.ID]; e != nil {
		for _, rel := range pr.rels {
			for _, id := range catalog.Identifiers(e.Relations[rel]) {
				add(id)
			}
		}
	}
	return out
}

// aggregate applies pr's function to the related entities that pass its
// filter. Over an empty set count and sum are 0 and the others null.
// Entities whose property is null or missing are left out; a value that
// is not a number is an error.
func (ev *evaluator) aggregate(k catalog.Key, pr *prop) (any, error) {
	var xs []float64
	n := 0
	for _, x := range ev.related(k, pr) {
		xk := entityKey(x.Blueprint, x.Identifier)
		if pr.filter != nil {
			qe := &query.Entity{Entity: x}
			if len(pr.selfDeps) > 0 {
				qe.Runtime = make(map[string]any, len(pr.selfDeps))
				for _, name := range pr.selfDeps {
					qe.Runtime[name] = ev.value(xk, ev.s.p.props[pr.target][name])
				}
			}
			m := ev.match[pr]
			if m == nil {
				m = pr.filter.Matcher(ev.s.graph)
				ev.match[pr] = m
			}
			if !m.Match(qe) {
				continue
			}
		}
		if pr.byProperty == "" {
			n++
			continue
		}
		f, err := toFloat(pr.byProperty, ev.prop(x, xk, pr.byProperty))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", xk, err)
		}
		if f != nil {
			xs = append(xs, *f)
			n++
		}
	}
	var r float64
	switch pr.fn {
	case "count":
		r = float64(n)
	case "sum":
		for _, x := range xs {
			r += x
		}
	default:
		if len(xs) == 0 {
			return nil, nil
		}
		switch pr.fn {
		case "average":
			for _, x := range xs {
				r += x
			}
			r /= float64(len(xs))
		case "min":
			r = slices.Min(xs)
		case "max":
			r = slices.Max(xs)
		case "median":
			slices.Sort(xs)
			if h := len(xs) / 2; len(xs)%2 == 1 {
				r = xs[h]
			} else {
				r = (xs[h-1] + xs[h]) / 2
			}
		}
	}
	return numberOf(r)
}

// numberOf renders f as a JSON number.
func numberOf(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("result %v is not a JSON number", f)
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
}

// fits reports whether v may be stored in a property of type typ. Null
// fits every type.
func fits(typ string, v any) bool {
	return v == nil || typ == "" || jsonType(v) == typ
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number, float64, int, int64, *big.Int:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
