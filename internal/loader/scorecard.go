package loader

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/node"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/schema"
)

// scorecards shape-checks and decodes every scorecard, checks what it
// names, and checks everything the state's compilation
// (scorecard.CompileAll) refuses, so that a revision the loader accepts
// never loses its scorecard results later: every filter and rule query
// must compile, with each scorecard's levels ranking
// `$scorecard.<id>.level`; level ladders must be well formed; and no
// scorecards may read each other's levels in a cycle. Each problem is
// reported where it is written. (The loader cannot call the scorecard
// package itself: that package's tests load the example catalog.)
func (a *assembly) scorecards() {
	defaults := a.cat.Settings.Levels
	if len(defaults) == 0 {
		defaults = catalog.DefaultLevels
	}
	var (
		objs  []*object
		cards []*catalog.Scorecard
	)
	for _, o := range a.sorted(catalog.KindScorecardObj) {
		path := objectPath(o.key)
		if !a.shape(schema.Scorecard, path, o.node) {
			continue
		}
		sc := &catalog.Scorecard{}
		if !a.decode(o, sc) {
			continue
		}
		sc.Identifier = o.key.ID
		if bp := sc.BlueprintIdentifier; bp != "" && !a.hasBlueprint(bp) {
			n := lookup(o.node, []string{"blueprintIdentifier"})
			a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: path + ".blueprintIdentifier", Kind: catalog.KindReference, Message: fmt.Sprintf("blueprint %q does not exist", bp)})
		}
		ls := sc.Levels
		if len(ls) == 0 {
			ls = defaults
		} else {
			a.checkLevels(o.node, []string{"levels"}, path, ls)
		}
		seen := map[string]bool{}
		for i, r := range sc.Rules {
			rp := fmt.Sprintf("%s.rules[%d]", path, i)
			if seen[r.Identifier] {
				n := lookup(o.node, []string{"rules", strconv.Itoa(i), "identifier"})
				a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: rp + ".identifier", Kind: catalog.KindDuplicate, Message: fmt.Sprintf("rule %q is declared twice in this scorecard", r.Identifier)})
			}
			seen[r.Identifier] = true
			if !hasLevel(ls, r.Level) {
				n := lookup(o.node, []string{"rules", strconv.Itoa(i), "level"})
				a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: rp + ".level", Kind: catalog.KindReference, Message: fmt.Sprintf("must be one of %s; got %q", levelNames(ls), catalog.Excerpt(r.Level))})
			}
		}
		a.cat.Scorecards[o.key.ID] = sc
		a.addObject(o, sc)
		objs = append(objs, o)
		cards = append(cards, sc)
	}

	// Queries compile with every scorecard's ladder, as CompileAll
	// passes them.
	ladders := make(map[string][]catalog.Level, len(cards))
	for _, sc := range cards {
		ls := sc.Levels
		if len(ls) == 0 {
			ls = defaults
		}
		ladders[sc.Identifier] = ls
	}
	opts := query.Options{Levels: ladders}
	for i, sc := range cards {
		o, path := objs[i], objectPath(objs[i].key)
		if sc.Filter != nil {
			a.scorecardQuery(o, []string{"filter"}, path, *sc.Filter, opts)
		}
		for j := range sc.Rules {
			a.scorecardQuery(o, []string{"rules", strconv.Itoa(j), "query"}, path, sc.Rules[j].Query, opts)
		}
	}
	a.scorecardCycles(objs)
}

// checkLevels reports a level ladder the state's compilation refuses: a
// level without a title, or a title declared twice. rel leads from n to
// the ladder.
func (a *assembly) checkLevels(n *node.Node, rel []string, path string, ls []catalog.Level) {
	first := map[string]int{}
	for i, l := range ls {
		el := append(slices.Clip(rel), strconv.Itoa(i), "title")
		switch j, dup := first[l.Title]; {
		case l.Title == "":
			a.diags = append(a.diags, catalog.Diagnostic{Pos: lookup(n, el).Pos, Path: joinPath(path, el), Kind: catalog.KindShape, Message: "a level needs a title"})
		case dup:
			related := lookup(n, append(slices.Clip(rel), strconv.Itoa(j), "title")).Pos
			a.diags = append(a.diags, catalog.Diagnostic{Pos: lookup(n, el).Pos, Path: joinPath(path, el), Kind: catalog.KindDuplicate, Message: fmt.Sprintf("level %q is declared twice", l.Title), Related: []catalog.Pos{related}})
		default:
			first[l.Title] = i
		}
	}
}

// scorecardQuery reports a filter or rule query of a scorecard that the
// query language refuses, at the offending rule.
func (a *assembly) scorecardQuery(o *object, rel []string, path string, q catalog.Query, opts query.Options) {
	_, err := opts.Compile(q)
	if err == nil {
		return
	}
	n := lookup(o.node, rel)
	msg := err.Error()
	var qe *query.Error
	if errors.As(err, &qe) {
		var sub []string
		n, sub = queryRule(n, qe.Path)
		rel = append(rel, sub...)
		msg = qe.Message
	}
	a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: joinPath(path, rel), Kind: catalog.KindShape, Message: msg})
}

// queryRule follows the rule path of a query error (`rules[2].rules[0]`)
// from the query's node q, and returns the rule's node and the elements
// leading to it from q. Decoding appends a query's `conditions` to its
// `rules` (catalog.Query), so an index past the rules continues into the
// conditions. Where the path cannot be followed, it stops at the deepest
// node found.
func queryRule(q *node.Node, p string) (*node.Node, []string) {
	var rel []string
	if p == "" {
		return q, nil
	}
	n := q
	for _, seg := range strings.Split(p, ".") {
		s, ok := strings.CutPrefix(seg, "rules[")
		s, ok2 := strings.CutSuffix(s, "]")
		i, err := strconv.Atoi(s)
		if !ok || !ok2 || err != nil {
			break
		}
		next, el := ruleElem(n, i)
		if next == nil {
			break
		}
		n, rel = next, append(rel, el...)
	}
	return n, rel
}

// ruleElem returns the i-th rule of the query or group n, counting the
// `rules` and then the `conditions`, and its path elements from n.
func ruleElem(n *node.Node, i int) (*node.Node, []string) {
	for _, key := range []string{"rules", "conditions"} {
		l := n.Get(key)
		if l == nil || l.Kind != node.List {
			continue
		}
		if i < len(l.Elems) {
			return l.Elems[i], []string{key, strconv.Itoa(i)}
		}
		i -= len(l.Elems)
	}
	return nil, nil
}

// scorecardRef is where a scorecard first reads another's level.
type scorecardRef struct {
	pos  catalog.Pos
	path string
}

// scorecardCycles reports every cycle of scorecards reading each other's
// levels, which the state's compilation refuses (*scorecard.CycleError).
// Scorecards are visited as scorecard.NewSet does, by identifier and
// each one's references in order, and a cycle is reported at the
// scorecard that closes it, at its rule reading the first scorecard of
// the cycle, with the other references of the cycle as related
// positions. The closing reference is then ignored, so that the other
// cycles, if any, show in the same load.
func (a *assembly) scorecardCycles(objs []*object) {
	refs := make(map[string]map[string]scorecardRef, len(objs))
	for _, o := range objs {
		refs[o.key.ID] = scorecardRefs(o)
	}
	deps := func(id string) []string {
		var out []string
		for d := range refs[id] {
			if _, ok := refs[d]; ok {
				out = append(out, d)
			}
		}
		slices.Sort(out)
		return out
	}
	const (
		unvisited = iota
		onStack
		done
	)
	state := make(map[string]int, len(objs))
	var (
		stack []string
		visit func(id string)
	)
	visit = func(id string) {
		state[id] = onStack
		stack = append(stack, id)
		for _, d := range deps(id) {
			switch state[d] {
			case unvisited:
				visit(d)
			case onStack:
				// stack[i:] reads on to id, which reads d: [d ... id d].
				i := slices.Index(stack, d)
				cycle := append(slices.Clone(stack[i:]), d)
				var related []catalog.Pos
				for k := 0; k+2 < len(cycle); k++ {
					related = append(related, refs[cycle[k]][cycle[k+1]].pos)
				}
				r := refs[id][d]
				a.diags = append(a.diags, catalog.Diagnostic{
					Pos: r.pos, Path: r.path, Kind: catalog.KindReference, Related: related,
					Message: fmt.Sprintf("scorecard dependency cycle: %s (each reads the level of the next)", strings.Join(cycle, " -> ")),
				})
			}
		}
		stack = stack[:len(stack)-1]
		state[id] = done
	}
	for _, o := range objs { // sorted by identifier
		if state[o.key.ID] == unvisited {
			visit(o.key.ID)
		}
	}
}

// scorecardRefs returns, for each scorecard whose level the scorecard o
// reads (`$scorecard.<id>.level`, or the shorthand `$scorecard.<id>`),
// where it first does: in its filter, then its rules in order.
func scorecardRefs(o *object) map[string]scorecardRef {
	out := map[string]scorecardRef{}
	path := objectPath(o.key)
	var walk func(q *node.Node, rel []string)
	walk = func(q *node.Node, rel []string) {
		for _, key := range []string{"rules", "conditions"} {
			l := q.Get(key)
			if l == nil || l.Kind != node.List {
				continue
			}
			for i, r := range l.Elems {
				el := append(slices.Clip(rel), key, strconv.Itoa(i))
				if p := r.Get("property"); p != nil && p.Kind == node.String {
					if id, ok := query.ScorecardRef(p.Text); ok {
						if _, seen := out[id]; !seen {
							out[id] = scorecardRef{pos: p.Pos, path: joinPath(path, append(slices.Clip(el), "property"))}
						}
					}
				}
				walk(r, el)
			}
		}
	}
	if f := o.node.Get("filter"); f != nil {
		walk(f, []string{"filter"})
	}
	if rs := o.node.Get("rules"); rs != nil && rs.Kind == node.List {
		for i, r := range rs.Elems {
			if q := r.Get("query"); q != nil {
				walk(q, []string{"rules", strconv.Itoa(i), "query"})
			}
		}
	}
	return out
}
