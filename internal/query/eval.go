package query

import (
	"strings"
	"time"
)

// evalCtx carries one evaluation: the entity, the graph, the instant, and
// (in a Matcher) the relatedTo cache.
type evalCtx struct {
	e      *Entity
	g      Graph
	now    time.Time
	cache  []relCache // per relatedTo rule; nil outside a Matcher
	bounds []bounds   // per preset range; nil outside a Matcher
}

// bounds caches the instants a preset stands for at the Matcher's now.
type bounds struct {
	ok       bool
	from, to time.Time
}

func (c *evalCtx) eval(n *node) bool {
	switch n.op {
	case opGroup:
		// An empty and-group is vacuously true and an empty or-group
		// vacuously false, as in logic: a filter with no rules keeps
		// everything, and appending rules to an or can only widen it.
		if n.or {
			for i := range n.kids {
				if c.eval(&n.kids[i]) {
					return true
				}
			}
			return false
		}
		for i := range n.kids {
			if !c.eval(&n.kids[i]) {
				return false
			}
		}
		return true
	case opRelatedTo:
		return c.related(n.rel)
	}
	v := resolve(c.e, &n.prop)
	return c.test(n, &v) != n.neg
}

// test applies a positive operator. Every branch answers false for a
// missing value and for a value of a type the operator does not apply
// to; the negated operators are the complement, so they answer true.
func (c *evalCtx) test(n *node, v *value) bool {
	switch n.op {
	case opEq:
		return equal(v, &n.val)
	case opGt, opGe, opLt, opLe:
		r, ok := compare(n, v)
		if !ok {
			return false
		}
		switch n.op {
		case opGt:
			return r > 0
		case opGe:
			return r >= 0
		case opLt:
			return r < 0
		}
		return r <= 0
	case opIn:
		return n.set.contains(v)
	case opContains:
		switch v.k {
		case kString:
			return n.val.k == kString && strings.Contains(v.s, n.val.s)
		case kArray, kStrings:
			for i := range v.elems() {
				el := v.elem(i)
				if equalScalar(&el, &n.val) {
					return true
				}
			}
		}
		return false
	case opContainsAny:
		if v.k == kString {
			for _, s := range n.set.strs {
				if strings.Contains(v.s, s) {
					return true
				}
			}
			return false
		}
		return v.isArray() && n.set.contains(v)
	case opBeginsWith, opEndsWith:
		return affix(v, n.val.s, n.op == opBeginsWith)
	case opIsEmpty:
		return empty(v)
	case opBetween:
		return c.between(n.span, v)
	case opIsExpired, opIsNotExpired:
		t, ok := v.timeOf()
		if !ok {
			return false
		}
		// A timer is expired from the instant it names on.
		return t.After(c.now) == (n.op == opIsNotExpired)
	}
	return false
}

// equal implements =. An array matches when one of its elements does;
// arrays nested in arrays are not searched.
//
// The array walks here and below call a non-recursive scalar helper so
// that the element value stays on the stack: Match does not allocate.
func equal(v *value, o *operand) bool {
	if v.isArray() {
		for i := range v.elems() {
			el := v.elem(i)
			if equalScalar(&el, o) {
				return true
			}
		}
		return false
	}
	return equalScalar(v, o)
}

func equalScalar(v *value, o *operand) bool {
	switch v.k {
	case kString:
		if o.k != kString {
			return false
		}
		if v.s == o.s {
			return true
		}
		if o.isTime {
			if t, _, ok := parseTime(v.s); ok {
				return t.Equal(o.t)
			}
		}
		return false
	case kNumber:
		if o.k != kNumber {
			return false
		}
		n, ok := numOf(v.raw)
		return ok && cmpNum(n, o.n) == 0
	case kBool:
		return o.k == kBool && v.b == o.b
	case kTime:
		t, _ := v.timeOf()
		return o.isTime && t.Equal(o.t)
	}
	return false
}

// compare orders a scalar value against n's operand. Numbers compare
// numerically, date-times as instants when both sides parse, scorecard
// levels by rank, other strings bytewise. Anything else is unordered.
func compare(n *node, v *value) (int, bool) {
	o := &n.val
	switch v.k {
	case kNumber:
		if o.k != kNumber {
			return 0, false
		}
		x, ok := numOf(v.raw)
		if !ok {
			return 0, false
		}
		return cmpNum(x, o.n), true
	case kTime:
		if !o.isTime {
			return 0, false
		}
		t, _ := v.timeOf()
		return t.Compare(o.t), true
	case kString:
		if o.k != kString {
			return 0, false
		}
		if n.prop.meta == propScorecard {
			rank := -1
			for i, l := range n.levels {
				if l == v.s {
					rank = i
					break
				}
			}
			if rank < 0 || o.level < 0 {
				return 0, false
			}
			return rank - o.level, true
		}
		if o.isTime {
			if t, _, ok := parseTime(v.s); ok {
				return t.Compare(o.t), true
			}
		}
		return strings.Compare(v.s, o.s), true
	}
	return 0, false
}

// contains reports whether a scalar value, or any element of an array
// value, is in the set.
func (s *valueSet) contains(v *value) bool {
	if v.isArray() {
		for i := range v.elems() {
			el := v.elem(i)
			if s.containsScalar(&el) {
				return true
			}
		}
		return false
	}
	return s.containsScalar(v)
}

func (s *valueSet) containsScalar(v *value) bool {
	switch v.k {
	case kString:
		if s.strSet != nil {
			_, ok := s.strSet[v.s]
			return ok
		}
		for _, x := range s.strs {
			if x == v.s {
				return true
			}
		}
	case kNumber:
		if len(s.nums) == 0 {
			return false
		}
		x, ok := numOf(v.raw)
		if !ok {
			return false
		}
		for _, y := range s.nums {
			if cmpNum(x, y) == 0 {
				return true
			}
		}
	case kBool:
		return (v.b && s.hasT) || (!v.b && s.hasF)
	}
	return false
}

// affix implements beginsWith and endsWith on strings and on the string
// elements of arrays.
func affix(v *value, s string, prefix bool) bool {
	if v.isArray() {
		for i := range v.elems() {
			if el := v.elem(i); el.k == kString && hasAffix(el.s, s, prefix) {
				return true
			}
		}
		return false
	}
	return v.k == kString && hasAffix(v.s, s, prefix)
}

func hasAffix(s, affix string, prefix bool) bool {
	if prefix {
		return strings.HasPrefix(s, affix)
	}
	return strings.HasSuffix(s, affix)
}

// empty implements isEmpty: missing, null, "", [] and {} are empty.
func empty(v *value) bool {
	switch v.k {
	case kMissing, kNull:
		return true
	case kString:
		return v.s == ""
	case kArray, kStrings:
		return v.elems() == 0
	case kObject:
		return len(v.raw.(map[string]any)) == 0
	}
	return false
}

// between implements between on numbers (numeric spans) and date-times
// (date spans and presets), inclusive at both ends.
func (c *evalCtx) between(s *span, v *value) bool {
	if s.numeric {
		if v.k != kNumber {
			return false
		}
		x, ok := numOf(v.raw)
		return ok && cmpNum(x, s.from) >= 0 && cmpNum(x, s.to) <= 0
	}
	t, ok := v.timeOf()
	if !ok {
		return false
	}
	from, to := s.tFrom, s.tTo
	if s.preset != presetNone {
		if c.bounds == nil {
			from, to = s.preset.bounds(c.now)
		} else {
			b := &c.bounds[s.slot]
			if !b.ok {
				b.from, b.to = s.preset.bounds(c.now)
				b.ok = true
			}
			from, to = b.from, b.to
		}
	}
	return !t.Before(from) && !t.After(to)
}
