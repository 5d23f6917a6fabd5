// Package validate checks entities against their blueprints without
// running CUE.
//
// CUE is the reference: schema.EntityDefinition compiles a blueprint into
// a CUE definition, and the differential tests and fuzz targets in this
// package check that this validator reaches the same verdict on generated
// valid and invalid entities and on arbitrary JSON. The Go path exists
// because CUE costs about a millisecond and 300 KB per entity of a rich
// blueprint (BenchmarkValidateCUE), which would be most of a cold load of
// a large catalog; this costs about 10 µs (BenchmarkValidate) and
// allocates only for errors and for uniqueItems arrays longer than
// pairwiseMax. It also phrases errors for catalog authors, which CUE's
// disjunction errors do not.
package validate

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/decimal"
	"github.com/pierhq/pier/internal/node"
	"github.com/pierhq/pier/schema"
)

var (
	identifierRE = regexp.MustCompile(schema.IdentifierPattern)
	emailRE      = regexp.MustCompile(schema.EmailPattern)
	urlRE        = regexp.MustCompile(schema.URLPattern)
)

// Validator checks the entities of one blueprint. It is immutable and safe
// for concurrent use.
type Validator struct {
	blueprint   string
	props       map[string]*rule
	computed    map[string]string // name -> why pier computes it
	required    []string
	relations   map[string]catalog.Relation
	requiredRel []string
}

// rule is one compiled property constraint.
type rule struct {
	name    string
	prop    *catalog.Property
	runtime bool
	pattern *regexp.Regexp
	enum    []*node.Node
	enumNum []decimal.Decimal // the value of each number in enum, by index
	// bounds are minimum, maximum, exclusiveMinimum, exclusiveMaximum,
	// parsed once; nil when absent.
	bounds [4]*decimal.Decimal
	items  *rule
}

// Compile prepares a validator for bp. It fails when a constraint cannot
// be compiled, such as a pattern that is not a valid regular expression;
// the error names the property.
func Compile(bp *catalog.Blueprint) (*Validator, error) {
	v := &Validator{
		blueprint: bp.Identifier,
		props:     map[string]*rule{},
		computed:  map[string]string{},
		relations: bp.Relations,
	}
	// A name that is both a schema property and a computed one is
	// computed: pier writes it, so git may not (schema.EntityDefinition
	// leaves it out too).
	for name := range bp.CalculationProperties {
		v.computed[name] = "a calculation property"
	}
	for name := range bp.MirrorProperties {
		v.computed[name] = "a mirror property"
	}
	for name := range bp.AggregationProperties {
		v.computed[name] = "an aggregation property"
	}
	for name, p := range bp.Schema.Properties {
		if p.Calculation != nil {
			v.computed[name] = "a calculated property"
		}
		if v.computed[name] != "" {
			continue
		}
		r, err := compileRule(name, &p)
		if err != nil {
			return nil, err
		}
		r.runtime = p.Runtime
		v.props[name] = r
	}
	for _, name := range bp.Schema.Required {
		if r, ok := v.props[name]; ok && !r.runtime {
			v.required = append(v.required, name)
		}
	}
	sort.Strings(v.required)
	v.required = slices.Compact(v.required)
	for name, r := range bp.Relations {
		if r.Required {
			v.requiredRel = append(v.requiredRel, name)
		}
	}
	sort.Strings(v.requiredRel)
	return v, nil
}

func compileRule(name string, p *catalog.Property) (*rule, error) {
	r := &rule{name: name, prop: p}
	if p.Pattern != "" {
		re, err := regexp.Compile(p.Pattern)
		if err != nil {
			return nil, fmt.Errorf("property %q: pattern: %w", name, err)
		}
		r.pattern = re
	}
	r.enumNum = make([]decimal.Decimal, len(p.Enum))
	for i, e := range p.Enum {
		n, err := node.FromAny(e, catalog.Pos{})
		if err != nil {
			return nil, fmt.Errorf("property %q: enum: %w", name, err)
		}
		if n.Kind == node.Number {
			d, ok := decimal.Parse(n.Text)
			if !ok {
				return nil, fmt.Errorf("property %q: enum: %q is not a number", name, n.Text)
			}
			r.enumNum[i] = d
		}
		r.enum = append(r.enum, n)
	}
	if typeKinds[p.Type] == node.Number || !typed(p.Type) {
		for k, lim := range []*json.Number{p.Minimum, p.Maximum, p.ExclusiveMinimum, p.ExclusiveMaximum} {
			if lim == nil {
				continue
			}
			d, ok := decimal.Parse(lim.String())
			if !ok {
				return nil, fmt.Errorf("property %q: bound %q is not a number", name, lim.String())
			}
			r.bounds[k] = &d
		}
	}
	var err error
	if (p.Type == "array" || !typed(p.Type)) && p.Items != nil && !unconstrained(p.Items) {
		if r.items, err = compileRule(name, p.Items); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// typeKinds maps the property types to the kind of value they admit.
var typeKinds = map[string]node.Kind{"string": node.String, "number": node.Number, "boolean": node.Bool, "object": node.Struct, "array": node.List}

// typed reports whether typ is one of the property types. A schema with
// no type (array items may omit it) admits any value, and applies each
// constraint to the values it is about: pattern to strings, minimum to
// numbers, minItems to arrays, and enum to all, as JSON Schema does.
func typed(typ string) bool {
	_, ok := typeKinds[typ]
	return ok
}

// unconstrained reports whether a schema admits every value.
func unconstrained(p *catalog.Property) bool {
	return !typed(p.Type) && len(p.Enum) == 0 && p.MinLength == nil && p.MaxLength == nil &&
		p.Pattern == "" && checkFormat(p.Format, "") == "" && p.Minimum == nil && p.Maximum == nil &&
		p.ExclusiveMinimum == nil && p.ExclusiveMaximum == nil && p.MinItems == nil &&
		p.MaxItems == nil && !p.UniqueItems && (p.Items == nil || unconstrained(p.Items))
}

// Validate checks one entity, given as the node tree of its declaration,
// and returns every violation. prefix is the object path of the entity,
// such as entities.service."user-service".
func (v *Validator) Validate(e *node.Node, prefix string) catalog.Diagnostics {
	c := checker{prefix: prefix}
	if e.Kind != node.Struct {
		c.add(e, "", catalog.KindShape, "an entity must be an object; got %s", e.Describe())
		return c.diags
	}
	var props, rels *node.Node
	for _, f := range e.Fields {
		switch f.Name {
		case "identifier":
			if f.Value.Kind != node.String || !identifierRE.MatchString(f.Value.Text) {
				c.add(f.Value, "identifier", catalog.KindIdentifier, "must be an identifier matching %s; got %s", schema.IdentifierPattern, f.Value.Describe())
			}
		case "title", "icon":
			if f.Value.Kind != node.String {
				c.add(f.Value, f.Name, catalog.KindShape, "must be a string; got %s", f.Value.Describe())
			}
		case "team":
			if !isStringOrStrings(f.Value) {
				c.add(f.Value, "team", catalog.KindShape, "must be a team name or a list of team names; got %s", f.Value.Describe())
			}
		case "properties":
			props = f.Value
		case "relations":
			rels = f.Value
		default:
			c.add(f.Value, catalog.PathElem(f.Name), catalog.KindShape, "field %q is not allowed in an entity (allowed: identifier, title, icon, team, properties, relations)", f.Name)
		}
	}
	v.properties(&c, e, props)
	v.relationsOf(&c, e, rels)
	return c.diags
}

func (v *Validator) properties(c *checker, e, props *node.Node) {
	if props != nil && props.Kind != node.Struct {
		c.add(props, "properties", catalog.KindShape, "must be an object; got %s", props.Describe())
		return
	}
	for _, f := range fieldsOf(props) {
		at := loc{group: "properties", name: f.Name}
		r, ok := v.props[f.Name]
		switch {
		case !ok && v.computed[f.Name] != "":
			c.addAt(f.Value, at, catalog.KindCalculated, "%q is %s that pier computes; remove it", f.Name, v.computed[f.Name])
		case !ok:
			c.addAt(f.Value, at, catalog.KindProperty, "blueprint %s has no property %q", v.blueprint, f.Name)
		case r.runtime:
			c.addAt(f.Value, at, catalog.KindRuntimeOwned, "%q is runtime-owned: it is written through the API, not in git", f.Name)
		case f.Value.Kind == node.Null && !contains(v.required, f.Name):
			// null unsets an optional property
		case f.Value.Kind == node.Null && typed(r.prop.Type):
			c.addAt(f.Value, at, catalog.KindProperty, "is required and must be %s; got null", article(r.prop.Type))
		case f.Value.Kind == node.Null:
			c.addAt(f.Value, at, catalog.KindProperty, "is required and cannot be null")
		default:
			r.checkAt(c, f.Value, at)
		}
	}
	at := e
	if props != nil {
		at = props
	}
	for _, name := range v.required {
		if props.Get(name) == nil {
			c.add(at, "properties", catalog.KindProperty, "missing required property %q", name)
		}
	}
}

func (v *Validator) relationsOf(c *checker, e, rels *node.Node) {
	if rels != nil && rels.Kind != node.Struct {
		c.add(rels, "relations", catalog.KindShape, "must be an object; got %s", rels.Describe())
		return
	}
	for _, f := range fieldsOf(rels) {
		at := loc{group: "relations", name: f.Name}
		rel, ok := v.relations[f.Name]
		if !ok {
			c.addAt(f.Value, at, catalog.KindRelation, "blueprint %s has no relation %q", v.blueprint, f.Name)
			continue
		}
		val := f.Value
		switch {
		case val.Kind == node.Null && !rel.Required:
		case rel.Many && val.Kind == node.List && allStrings(val) && (!rel.Required || len(val.Elems) > 0):
		case !rel.Many && val.Kind == node.String:
		case rel.Many:
			c.addAt(val, at, catalog.KindRelation, "must be a list of %s identifiers (many: true%s); got %s", rel.Target, nonEmpty(rel.Required), val.Describe())
		default:
			c.addAt(val, at, catalog.KindRelation, "must be one %s identifier (many: false); got %s", rel.Target, val.Describe())
		}
	}
	at := e
	if rels != nil {
		at = rels
	}
	for _, name := range v.requiredRel {
		if rels.Get(name) == nil {
			c.add(at, "relations", catalog.KindRelation, "missing required relation %q to %s", name, v.relations[name].Target)
		}
	}
}

func nonEmpty(required bool) string {
	if required {
		return ", required: at least one"
	}
	return ""
}

// check validates one property value. Checks run in a fixed order and
// every failing one is reported.
func (r *rule) check(c *checker, n *node.Node, path string) {
	r.checkAt(c, n, loc{path: path})
}

// checkAt is check with the value's location.
func (r *rule) checkAt(c *checker, n *node.Node, at loc) {
	p := r.prop
	if want, ok := typeKinds[p.Type]; ok && n.Kind != want {
		c.addAt(n, at, catalog.KindProperty, "must be %s; got %s", article(p.Type), n.Describe())
		return
	}
	switch n.Kind {
	case node.String:
		runes := -1
		count := func() int {
			if runes < 0 {
				runes = utf8.RuneCountInString(n.Text)
			}
			return runes
		}
		if p.MinLength != nil && count() < *p.MinLength {
			c.addAt(n, at, catalog.KindProperty, "must be at least %d characters long; got %d", *p.MinLength, count())
		}
		if p.MaxLength != nil && count() > *p.MaxLength {
			c.addAt(n, at, catalog.KindProperty, "must be at most %d characters long; got %d", *p.MaxLength, count())
		}
		if r.pattern != nil && !r.pattern.MatchString(n.Text) {
			c.addAt(n, at, catalog.KindProperty, "must match the pattern %s; got %s", p.Pattern, n.Describe())
		}
		if msg := checkFormat(p.Format, n.Text); msg != "" {
			c.addAt(n, at, catalog.KindProperty, "%s; got %s", msg, n.Describe())
		}
	case node.Number:
		r.checkBounds(c, n, at)
	case node.List:
		if p.MinItems != nil && len(n.Elems) < *p.MinItems {
			c.addAt(n, at, catalog.KindProperty, "must have at least %d items; got %d", *p.MinItems, len(n.Elems))
		}
		if p.MaxItems != nil && len(n.Elems) > *p.MaxItems {
			c.addAt(n, at, catalog.KindProperty, "must have at most %d items; got %d", *p.MaxItems, len(n.Elems))
		}
		if p.UniqueItems {
			repeats(n.Elems, func(i, j int) {
				c.addAt(n.Elems[i], at.item(i), catalog.KindProperty, "must be unique; item %d repeats item %d", i, j)
			})
		}
		if r.items != nil {
			for i, e := range n.Elems {
				r.items.checkAt(c, e, at.item(i))
			}
		}
	}
	if len(r.enum) > 0 && !r.inEnum(n) {
		c.addAt(n, at, catalog.KindProperty, "must be one of %s; got %s", enumList(r.enum), n.Describe())
	}
}

var boundMessages = [4]struct {
	fails func(cmp int) bool
	op    string
}{
	{func(c int) bool { return c < 0 }, ">="},
	{func(c int) bool { return c > 0 }, "<="},
	{func(c int) bool { return c <= 0 }, ">"},
	{func(c int) bool { return c >= 0 }, "<"},
}

// checkBounds compares exactly, whatever the notation or size of the
// numbers: 0.30000000000000001 is above a minimum of 0.3, and 1e400 above
// any maximum a float64 can hold.
func (r *rule) checkBounds(c *checker, n *node.Node, at loc) {
	if r.bounds == [4]*decimal.Decimal{} {
		return
	}
	val, ok := decimal.Parse(n.Text)
	if !ok {
		c.addAt(n, at, catalog.KindProperty, "must be a number; got %s", n.Describe())
		return
	}
	for k, lim := range r.bounds {
		if lim == nil {
			continue
		}
		if m := boundMessages[k]; m.fails(decimal.Compare(val, *lim)) {
			c.addAt(n, at, catalog.KindProperty, "must be %s %s; got %s", m.op, catalog.Excerpt(r.boundText(k)), n.Describe())
		}
	}
}

// boundText is the k-th bound as the blueprint wrote it.
func (r *rule) boundText(k int) string {
	p := r.prop
	return []*json.Number{p.Minimum, p.Maximum, p.ExclusiveMinimum, p.ExclusiveMaximum}[k].String()
}

// inEnum compares by value, as JSON does: 1, 1.0 and 1e0 are the same
// number. (CUE's int 1 and float 1.0 do not unify, so
// schema.EntityDefinition writes a number member as the bounds >=1 & <=1,
// which both satisfy.)
func (r *rule) inEnum(n *node.Node) bool {
	var num decimal.Decimal
	if n.Kind == node.Number {
		var ok bool
		if num, ok = decimal.Parse(n.Text); !ok {
			return false
		}
	}
	for i, e := range r.enum {
		switch {
		case e.Kind != n.Kind:
		case e.Kind == node.Number:
			if decimal.Compare(r.enumNum[i], num) == 0 {
				return true
			}
		case e.Text == n.Text:
			return true
		}
	}
	return false
}

// pairwiseMax is the longest array whose items repeats compares pair by
// pair, which allocates nothing; longer ones are hashed.
const pairwiseMax = 32

// repeats calls found(i, j) for every item i that equals an earlier item,
// j being the first such, under the equality uniqueItems uses: CUE's
// list.UniqueItems. Values of different kinds differ, objects compare
// field by field whatever their order, numbers by value, except that a
// number written as an integer never equals one written with a point or
// an exponent (CUE's int and float kinds): [1, 1.0] has no duplicate,
// [1.0, 1e0] and [0, -0] have.
func repeats(elems []*node.Node, found func(i, j int)) {
	if len(elems) <= pairwiseMax {
		for i := 1; i < len(elems); i++ {
			for j := 0; j < i; j++ {
				if equalItems(elems[j], elems[i]) {
					found(i, j)
					break
				}
			}
		}
		return
	}
	seen := make(map[string]int, len(elems))
	var buf []byte
	for i, e := range elems {
		buf = appendEqualityKey(buf[:0], e)
		if j, dup := seen[string(buf)]; dup {
			found(i, j)
			continue
		}
		seen[string(buf)] = i
	}
}

// equalItems is the equality of repeats.
func equalItems(a, b *node.Node) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case node.Null:
		return true
	case node.Bool, node.String:
		return a.Text == b.Text
	case node.Number:
		x, ok1 := decimal.Parse(a.Text)
		y, ok2 := decimal.Parse(b.Text)
		if !ok1 || !ok2 {
			return a.Text == b.Text
		}
		return x.Float() == y.Float() && decimal.Compare(x, y) == 0
	case node.List:
		if len(a.Elems) != len(b.Elems) {
			return false
		}
		for i := range a.Elems {
			if !equalItems(a.Elems[i], b.Elems[i]) {
				return false
			}
		}
		return true
	}
	if len(a.Fields) != len(b.Fields) {
		return false
	}
	for _, f := range a.Fields {
		g := b.Get(f.Name)
		if g == nil || !equalItems(f.Value, g) {
			return false
		}
	}
	return true
}

// appendEqualityKey appends a key of n that is equal for values that
// equalItems finds equal, and only for them.
func appendEqualityKey(b []byte, n *node.Node) []byte {
	switch n.Kind {
	case node.Null:
		return append(b, 'n')
	case node.Bool:
		return append(b, n.Text[0])
	case node.String:
		return strconv.AppendQuote(append(b, 's'), n.Text)
	case node.Number:
		d, ok := decimal.Parse(n.Text)
		if !ok {
			return append(append(b, '?'), n.Text...)
		}
		if d.Float() {
			b = append(b, 'f')
		} else {
			b = append(b, 'i')
		}
		return d.AppendCanonical(b)
	case node.List:
		b = append(b, '[')
		for _, e := range n.Elems {
			b = append(appendEqualityKey(b, e), ',')
		}
		return append(b, ']')
	}
	fields := n.Fields
	if !sort.SliceIsSorted(fields, func(i, j int) bool { return fields[i].Name < fields[j].Name }) {
		fields = slices.Clone(fields)
		sort.Slice(fields, func(i, j int) bool { return fields[i].Name < fields[j].Name })
	}
	b = append(b, '{')
	for _, f := range fields {
		b = strconv.AppendQuote(b, f.Name)
		b = append(appendEqualityKey(append(b, ':'), f.Value), ',')
	}
	return append(b, '}')
}

// checkFormat returns what the value should have been, or "" when it
// conforms.
func checkFormat(format, s string) string {
	switch format {
	case "date-time", "timer":
		if _, err := time.ParseInLocation(time.RFC3339Nano, s, time.UTC); err != nil {
			return "must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z"
		}
	case "email":
		if !emailRE.MatchString(s) {
			return "must be an email address"
		}
	case "url":
		if !urlRE.MatchString(s) {
			return "must be an absolute URL such as https://example.com/x"
		}
	case "ipv4":
		if a, err := netip.ParseAddr(s); err != nil || !a.Is4() {
			return "must be an IPv4 address"
		}
	case "ipv6":
		if a, err := netip.ParseAddr(s); err != nil || !a.Is6() {
			return "must be an IPv6 address"
		}
	}
	return ""
}

func enumList(enum []*node.Node) string {
	parts := make([]string, len(enum))
	for i, e := range enum {
		if e.Kind == node.String {
			parts[i] = e.Text
		} else {
			parts[i] = e.Describe()
		}
	}
	return strings.Join(parts, ", ")
}

func article(typ string) string {
	switch typ {
	case "object", "array":
		return "an " + typ
	}
	return "a " + typ
}

// loc is where a value sits in an entity: a property or relation, or an
// item of one (properties.ports[2]). It is a value, rendered only when a
// diagnostic is reported, so that valid entities cost no allocation.
type loc struct {
	group string // "properties" or "relations"
	name  string // the property or relation
	path  string // or the rendered path of the property
	depth int    // how many item indexes follow
	idx   [4]int
	more  []int // the indexes beyond the fourth
}

// item is the location of the i-th item of the array at l.
func (l loc) item(i int) loc {
	if l.depth < len(l.idx) {
		l.idx[l.depth] = i
	} else {
		l.more = append(slices.Clip(l.more), i)
	}
	l.depth++
	return l
}

func (l loc) String() string {
	s := l.path
	if s == "" {
		s = l.group + "." + catalog.PathElem(l.name)
	}
	for k := 0; k < l.depth; k++ {
		i := 0
		if k < len(l.idx) {
			i = l.idx[k]
		} else {
			i = l.more[k-len(l.idx)]
		}
		s += "[" + strconv.Itoa(i) + "]"
	}
	return s
}

type checker struct {
	prefix string
	diags  catalog.Diagnostics
}

func (c *checker) add(n *node.Node, rel, kind, format string, args ...any) {
	path := c.prefix
	if rel != "" {
		if path != "" {
			path += "."
		}
		path += rel
	}
	c.diags = append(c.diags, catalog.Diagnostic{Pos: n.Pos, Path: path, Kind: kind, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) addAt(n *node.Node, at loc, kind, format string, args ...any) {
	c.add(n, at.String(), kind, format, args...)
}

func fieldsOf(n *node.Node) []node.Field {
	if n == nil {
		return nil
	}
	return n.Fields
}

func isStringOrStrings(n *node.Node) bool {
	return n.Kind == node.String || n.Kind == node.List && allStrings(n)
}

func allStrings(n *node.Node) bool {
	for _, e := range n.Elems {
		if e.Kind != node.String {
			return false
		}
	}
	return true
}

func contains(ss []string, s string) bool {
	i := sort.SearchStrings(ss, s)
	return i < len(ss) && ss[i] == s
}
