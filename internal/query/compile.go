package query

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/catalog"
)

// op is a compiled operator. Negated operators compile to their positive
// form with node.neg set, which makes "negated = not positive" hold by
// construction, missing properties and type mismatches included.
type op uint8

const (
	opGroup op = iota
	opEq
	opGt
	opGe
	opLt
	opLe
	opIn
	opContains
	opContainsAny
	opBeginsWith
	opEndsWith
	opIsEmpty
	opBetween
	opRelatedTo
	opIsExpired
	opIsNotExpired
)

// operators maps Port's operator names to a compiled operator and
// whether it is negated. It is never written after initialisation.
var operators = map[string]struct {
	op  op
	neg bool
}{
	"=":                 {opEq, false},
	"!=":                {opEq, true},
	">":                 {opGt, false},
	">=":                {opGe, false},
	"<":                 {opLt, false},
	"<=":                {opLe, false},
	"in":                {opIn, false},
	"notIn":             {opIn, true},
	"contains":          {opContains, false},
	"doesNotContains":   {opContains, true},
	"containsAny":       {opContainsAny, false},
	"beginsWith":        {opBeginsWith, false},
	"doesNotBeginsWith": {opBeginsWith, true},
	"endsWith":          {opEndsWith, false},
	"doesNotEndsWith":   {opEndsWith, true},
	"isEmpty":           {opIsEmpty, false},
	"isNotEmpty":        {opIsEmpty, true},
	"between":           {opBetween, false},
	"notBetween":        {opBetween, true},
	"relatedTo":         {opRelatedTo, false},
	"isExpired":         {opIsExpired, false},
	"isNotExpired":      {opIsNotExpired, false},
}

// maxDepth bounds group nesting so that a hostile API body cannot make
// evaluation recurse without limit.
const maxDepth = 64

// node is one compiled rule or group.
type node struct {
	op   op
	neg  bool
	or   bool   // group: or instead of and
	kids []node // group
	prop prop
	val  operand
	set  *valueSet
	span *span
	rel  *relRule
	// levels is the scorecard's level order for ranked comparisons.
	levels []string
}

// operand is a pre-parsed scalar query value.
type operand struct {
	k      kind // kString, kNumber or kBool
	s      string
	n      num
	b      bool
	t      time.Time // when isTime
	isTime bool      // s is a date-time
	level  int       // rank of s among the scorecard's levels, or -1
}

// span is a between/notBetween range, inclusive at both ends.
type span struct {
	preset   preset
	slot     int // Matcher cache slot of a preset's bounds
	numeric  bool
	from, to num
	tFrom    time.Time
	tTo      time.Time
}

// valueSet is the pre-built array operand of in, notIn and containsAny.
type valueSet struct {
	strs   []string
	strSet map[string]struct{} // built when strs is long enough to pay off
	nums   []num
	hasT   bool
	hasF   bool
}

type compiler struct {
	opts       Options
	needsNow   bool
	scorecards []string // the scorecards whose levels rules read
	related    int      // relatedTo rules
	presets    int      // between rules with a preset
}

func errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Message: fmt.Sprintf(format, args...)}
}

func join(path string, i int) string {
	if path == "" {
		return "rules[" + strconv.Itoa(i) + "]"
	}
	return path + ".rules[" + strconv.Itoa(i) + "]"
}

func (c *compiler) group(combinator string, rules []catalog.Rule, path string, depth int) (node, error) {
	if depth > maxDepth {
		return node{}, errorf(path, "groups nested deeper than %d", maxDepth)
	}
	n := node{op: opGroup}
	switch combinator {
	case "and":
	case "or":
		n.or = true
	case "":
		return node{}, errorf(path, "missing combinator: combinator must be and/or")
	default:
		return node{}, errorf(path, "combinator must be and/or, not %q", combinator)
	}
	n.kids = make([]node, 0, len(rules))
	for i := range rules {
		k, err := c.rule(&rules[i], join(path, i), depth)
		if err != nil {
			return node{}, err
		}
		n.kids = append(n.kids, k)
	}
	return n, nil
}

func (c *compiler) rule(r *catalog.Rule, path string, depth int) (node, error) {
	if r.Combinator != "" || len(r.Rules) > 0 {
		if r.Operator != "" || r.Property != "" {
			return node{}, errorf(path, "a rule is either a group (combinator, rules) or a condition (property, operator, value), not both")
		}
		return c.group(r.Combinator, r.Rules, path, depth+1)
	}
	if r.Operator == "" {
		return node{}, errorf(path, "missing operator")
	}
	o, ok := operators[r.Operator]
	if !ok {
		return node{}, errorf(path, "unknown operator %q", r.Operator)
	}
	n := node{op: o.op, neg: o.neg}
	if o.op == opRelatedTo {
		return n, c.relatedTo(&n, r, path)
	}
	if r.Property == "" {
		return node{}, errorf(path, "operator %s needs a property", r.Operator)
	}
	p, err := compileProp(r.Property)
	if err != nil {
		return node{}, errorf(path, "%v", err)
	}
	n.prop = p
	if p.meta == propScorecard {
		if !slices.Contains(c.scorecards, p.name) {
			c.scorecards = append(c.scorecards, p.name)
		}
		n.levels = c.levels(p.name)
	}
	name := r.Operator
	switch o.op {
	case opEq:
		v, err := scalar(r.Value)
		if err != nil {
			return node{}, errorf(path, "operator %s needs a string, number or boolean value: %v", name, err)
		}
		n.val = v
	case opGt, opGe, opLt, opLe:
		v, err := scalar(r.Value)
		if err == nil && v.k == kBool {
			err = fmt.Errorf("booleans only support = and !=")
		}
		if err != nil {
			return node{}, errorf(path, "operator %s needs a number, string or date-time value: %v", name, err)
		}
		v.level = slices.Index(n.levels, v.s)
		n.val = v
	case opContains:
		v, err := scalar(r.Value)
		if err != nil {
			return node{}, errorf(path, "operator %s needs a string, number or boolean value: %v", name, err)
		}
		n.val = v
	case opBeginsWith, opEndsWith:
		s, ok := r.Value.(string)
		if !ok {
			return node{}, errorf(path, "operator %s needs a string value, got %s", name, describe(r.Value))
		}
		n.val = operand{k: kString, s: s}
	case opIn, opContainsAny:
		set, err := compileSet(r.Value)
		if err != nil {
			return node{}, errorf(path, "operator %s needs an array value: %v", name, err)
		}
		n.set = set
	case opBetween:
		s, err := compileSpan(r.Value)
		if err != nil {
			return node{}, errorf(path, "operator %s needs a value {from, to} or {preset}: %v", name, err)
		}
		if s.preset != presetNone {
			c.needsNow = true
			s.slot = c.presets
			c.presets++
		}
		n.span = s
	case opIsExpired, opIsNotExpired:
		c.needsNow = true
	case opIsEmpty:
		// No value; Port ignores one if given.
	}
	return n, nil
}

func (c *compiler) levels(scorecard string) []string {
	ls, ok := c.opts.Levels[scorecard]
	if !ok {
		ls = catalog.DefaultLevels
	}
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Title
	}
	return out
}

// scalar pre-parses a string, number or boolean query value.
func scalar(v any) (operand, error) {
	o := operand{level: -1}
	switch x := v.(type) {
	case string:
		o.k, o.s = kString, x
		if t, _, ok := parseTime(x); ok {
			o.t, o.isTime = t, true
		}
		return o, nil
	case bool:
		o.k, o.b = kBool, x
		return o, nil
	}
	if n, ok := numOf(v); ok {
		if n.lit == "" {
			// Pin the literal now so that evaluation never formats.
			n.lit = n.literal()
		}
		o.k, o.n = kNumber, n
		return o, nil
	}
	return o, fmt.Errorf("got %s", describe(v))
}

func compileSet(v any) (*valueSet, error) {
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	case []string:
		items = make([]any, len(x))
		for i, s := range x {
			items[i] = s
		}
	default:
		return nil, fmt.Errorf("got %s", describe(v))
	}
	s := &valueSet{}
	for i, it := range items {
		o, err := scalar(it)
		if err != nil {
			return nil, fmt.Errorf("value[%d]: want a string, number or boolean, %v", i, err)
		}
		switch o.k {
		case kString:
			s.strs = append(s.strs, o.s)
		case kNumber:
			s.nums = append(s.nums, o.n)
		case kBool:
			if o.b {
				s.hasT = true
			} else {
				s.hasF = true
			}
		}
	}
	// Below this size a linear scan beats hashing.
	if len(s.strs) > 8 {
		s.strSet = make(map[string]struct{}, len(s.strs))
		for _, x := range s.strs {
			s.strSet[x] = struct{}{}
		}
	}
	return s, nil
}

func compileSpan(v any) (*span, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("got %s", describe(v))
	}
	if p, ok := m["preset"]; ok {
		name, ok := p.(string)
		if !ok {
			return nil, fmt.Errorf("preset must be a string, got %s", describe(p))
		}
		pr, ok := presetNames[name]
		if !ok {
			return nil, fmt.Errorf("unknown preset %q", name)
		}
		return &span{preset: pr}, nil
	}
	from, okF := m["from"]
	to, okT := m["to"]
	if !okF || !okT {
		return nil, fmt.Errorf("both from and to are required")
	}
	if fs, ok := from.(string); ok {
		ts, ok := to.(string)
		if !ok {
			return nil, fmt.Errorf("from is a string but to is %s", describe(to))
		}
		tf, _, okF := parseTime(fs)
		tt, dateOnly, okT := parseTime(ts)
		if !okF || !okT {
			return nil, fmt.Errorf("from and to must be RFC 3339 date-times")
		}
		if dateOnly {
			// A bare date as the upper bound means the whole day.
			tt = tt.AddDate(0, 0, 1).Add(-time.Nanosecond)
		}
		if tf.After(tt) {
			return nil, fmt.Errorf("from %s is after to %s", fs, ts)
		}
		return &span{tFrom: tf, tTo: tt}, nil
	}
	nf, okF := numOf(from)
	nt, okT := numOf(to)
	if !okF || !okT {
		return nil, fmt.Errorf("from and to must both be date-times or both numbers")
	}
	if cmpNum(nf, nt) > 0 {
		return nil, fmt.Errorf("from %s is after to %s", nf.literal(), nt.literal())
	}
	return &span{numeric: true, from: nf, to: nt}, nil
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "no value"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case []any, []string:
		return "an array"
	case map[string]any:
		return "an object"
	}
	if _, ok := numOf(v); ok {
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}

// metaProp says which entity field a property reads.
type metaProp uint8

const (
	propPlain metaProp = iota
	propIdentifier
	propTitle
	propBlueprint
	propTeam
	propIcon
	propCreatedAt
	propUpdatedAt
	propScorecard
)

// metaProps maps meta-property names; never written after initialisation.
var metaProps = map[string]metaProp{
	"$identifier": propIdentifier,
	"$title":      propTitle,
	"$blueprint":  propBlueprint,
	"$team":       propTeam,
	"$icon":       propIcon,
	"$createdAt":  propCreatedAt,
	"$updatedAt":  propUpdatedAt,
}

// prop is a compiled property reference.
type prop struct {
	meta metaProp
	name string   // property, relation or scorecard identifier
	path []string // name split at dots, tried when name itself is absent
}

// ScorecardRef returns the scorecard whose level a rule's property
// reads: Port's widgets write $scorecard.<id>.level, and $scorecard.<id>
// is accepted as shorthand. It is how the compiler reads the property,
// for those who follow the references between scorecards.
func ScorecardRef(property string) (id string, ok bool) {
	rest, ok := strings.CutPrefix(property, "$scorecard.")
	if !ok {
		return "", false
	}
	id = strings.TrimSuffix(rest, ".level")
	if id == "" || strings.Contains(id, ".") {
		return "", false
	}
	return id, true
}

func compileProp(name string) (prop, error) {
	if strings.HasPrefix(name, "$") {
		if m, ok := metaProps[name]; ok {
			return prop{meta: m, name: name}, nil
		}
		if id, ok := ScorecardRef(name); ok {
			return prop{meta: propScorecard, name: id}, nil
		}
		return prop{}, fmt.Errorf("unknown meta-property %q", name)
	}
	p := prop{name: name}
	if strings.Contains(name, ".") {
		p.path = strings.Split(name, ".")
		if slices.Contains(p.path, "") {
			p.path = nil
		}
	}
	return p, nil
}

// relRule is a compiled relatedTo rule.
type relRule struct {
	blueprint string
	ids       []string
	up, down  bool
	required  reqFilter
	slot      int // Matcher cache slot
}

// reqFilter restricts which relations relatedTo follows.
type reqFilter uint8

const (
	reqAny reqFilter = iota
	reqOnly
	reqNone
)

func (f reqFilter) accepts(required bool) bool {
	switch f {
	case reqOnly:
		return required
	case reqNone:
		return !required
	}
	return true
}

func (c *compiler) relatedTo(n *node, r *catalog.Rule, path string) error {
	if r.Blueprint == "" {
		return errorf(path, "operator relatedTo needs a blueprint")
	}
	rr := &relRule{blueprint: r.Blueprint, slot: c.related}
	switch x := r.Value.(type) {
	case string:
		rr.ids = []string{x}
	case []string:
		rr.ids = slices.Clone(x)
	case []any:
		for i, v := range x {
			s, ok := v.(string)
			if !ok {
				return errorf(path, "operator relatedTo needs an entity identifier or an array of them: value[%d] is %s", i, describe(v))
			}
			rr.ids = append(rr.ids, s)
		}
	default:
		return errorf(path, "operator relatedTo needs an entity identifier or an array of them, got %s", describe(r.Value))
	}
	if len(rr.ids) == 0 {
		return errorf(path, "operator relatedTo needs at least one entity identifier")
	}
	switch r.Direction {
	case "":
		rr.up, rr.down = true, true
	case "upstream":
		rr.up = true
	case "downstream":
		rr.down = true
	default:
		return errorf(path, "direction must be upstream or downstream, not %q", r.Direction)
	}
	if r.Required != nil {
		rr.required = reqNone
		if *r.Required {
			rr.required = reqOnly
		}
	}
	c.related++
	n.rel = rr
	return nil
}

// blueprints computes the blueprint pin of a node (see Query.Blueprints).
// known is false when the node does not constrain the blueprint.
func (n *node) blueprints() (set []string, known bool) {
	switch {
	case n.op == opEq && !n.neg && n.prop.meta == propBlueprint:
		if n.val.k != kString {
			return []string{}, true
		}
		return []string{n.val.s}, true
	case n.op == opIn && !n.neg && n.prop.meta == propBlueprint:
		s := slices.Clone(n.set.strs)
		slices.Sort(s)
		return slices.Compact(s), true
	case n.op != opGroup:
		return nil, false
	}
	if n.or {
		var union []string
		for i := range n.kids {
			s, ok := n.kids[i].blueprints()
			if !ok {
				return nil, false
			}
			union = append(union, s...)
		}
		slices.Sort(union)
		return append([]string{}, slices.Compact(union)...), true
	}
	for i := range n.kids {
		s, ok := n.kids[i].blueprints()
		if !ok {
			continue
		}
		if !known {
			set, known = s, true
			continue
		}
		set = slices.DeleteFunc(set, func(b string) bool { return !slices.Contains(s, b) })
	}
	return set, known
}
