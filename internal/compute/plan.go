package compute

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/itchyny/gojq"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
)

// Kind is the kind of a computed property.
type Kind uint8

const (
	Mirror      Kind = iota + 1 // mirrorProperties
	Calculation                 // calculationProperties, or calculation {type: "jq"}
	Formula                     // calculation {type: "formula"} on a schema property
	Aggregation                 // aggregationProperties
)

func (k Kind) String() string {
	switch k {
	case Mirror:
		return "mirror"
	case Calculation:
		return "calculation"
	case Formula:
		return "formula"
	case Aggregation:
		return "aggregation"
	}
	return "unknown"
}

// DefaultTimeout bounds one run of a jq calculation when Options.Timeout
// is zero.
const DefaultTimeout = 100 * time.Millisecond

// Options tune compilation.
type Options struct {
	// Timeout bounds each run of a jq calculation. gojq has no step
	// limit; a run that exceeds it is cancelled through its context and
	// reported as an error. Default: DefaultTimeout.
	Timeout time.Duration
	// Query compiles aggregation filters.
	Query query.Options
	// Parallel is how many entities make it worth another goroutine in
	// Evaluate. Default: 2048.
	Parallel int
}

// Plan is the compiled form of every computed property of a set of
// blueprints, in an order that respects their dependencies. It is
// immutable and safe for concurrent use.
type Plan struct {
	timeout  time.Duration
	parallel int
	// byBlueprint lists each blueprint's computed properties in
	// evaluation order.
	byBlueprint map[string][]*prop
	// props indexes them by blueprint, then name.
	props map[string]map[string]*prop
	// mirrorsVia and aggsOver list, per blueprint T, the mirrors whose
	// paths land on T and the aggregations over T: the ways an entity
	// of T feeds other entities' values (see Affected).
	mirrorsVia map[string][]mirrorHop
	aggsOver   map[string][]*prop
	// dependents lists, per property, the properties of the same
	// blueprint that read it.
	dependents map[*prop][]*prop
	// relational is set when an aggregation filter uses relatedTo: its
	// values can then depend on entities Affected does not reach.
	relational bool
	// relations lists each blueprint's relations, for indexing entities
	// by what they point at: looking a blueprint's few relations up in
	// each entity is cheaper than iterating each entity's map.
	relations map[string][]relation
}

// relation is one relation of a blueprint, and the blueprint it targets.
type relation struct{ name, target string }

// prop is one compiled computed property.
type prop struct {
	blueprint, name string
	kind            Kind
	typ             string // declared type; empty accepts anything
	rank            int    // position in the global evaluation order
	index           int    // position among its blueprint's properties (byBlueprint)

	// deps are the computed properties (of any blueprint) whose values
	// this one reads.
	deps []*prop
	// selfDeps names the computed properties the expression reads on
	// the entity it evaluates: its own blueprint for jq and formulas,
	// the target's for an aggregation (its property and filter).
	selfDeps []string

	// Calculation.
	code *gojq.Code
	src  string
	// Formula.
	formula *formula
	// Mirror: hops are relations followed from this blueprint, hopBP
	// the blueprint each hop lands on; leaf is read on the last.
	hops, hopBP []string
	leaf        string
	leafKind    leafKind
	many        bool // some hop is a many relation
	// Aggregation.
	target     string
	incoming   bool     // target entities point at this one
	rels       []string // relations (of target if incoming, else of this blueprint)
	fn         string
	byProperty string // empty when counting entities
	filter     *query.Query
}

type leafKind uint8

const (
	leafProperty leafKind = iota
	leafComputed
	leafRelation
	leafIdentifier
	leafTitle
	leafBlueprint
)

// mirrorHop says that mirror m lands on a blueprint at hop index i
// (1-based: hop i is m.hops[i-1]).
type mirrorHop struct {
	m *prop
	i int
}

func (p *prop) String() string { return p.blueprint + "." + p.name }

// Compile compiles the computed properties of every blueprint of c with
// default options.
func Compile(c *catalog.Catalog) (*Plan, error) { return Options{}.Compile(c) }

// Compile compiles the computed properties of every blueprint of c. It
// reports every fault it finds, each naming blueprint.property: bad jq
// or formula, an unknown relation or property in a mirror path, an
// unknown aggregation target or function, a type it cannot check, a
// property declared twice, a dependency cycle.
func (o Options) Compile(c *catalog.Catalog) (*Plan, error) {
	p := &Plan{
		timeout:     o.Timeout,
		parallel:    o.Parallel,
		byBlueprint: map[string][]*prop{},
		props:       map[string]map[string]*prop{},
		mirrorsVia:  map[string][]mirrorHop{},
		aggsOver:    map[string][]*prop{},
		relations:   map[string][]relation{},
	}
	for bpID, bp := range c.Blueprints {
		for _, name := range slices.Sorted(maps.Keys(bp.Relations)) {
			p.relations[bpID] = append(p.relations[bpID], relation{name, bp.Relations[name].Target})
		}
	}
	if p.timeout <= 0 {
		p.timeout = DefaultTimeout
	}
	if p.parallel <= 0 {
		p.parallel = 2048
	}
	var errs []error
	fail := func(bp, name, format string, args ...any) {
		errs = append(errs, &Error{Blueprint: bp, Property: name, Message: fmt.Sprintf(format, args...)})
	}
	// First pass: declare, so that dependencies can be resolved.
	for _, bpID := range slices.Sorted(maps.Keys(c.Blueprints)) {
		bp := c.Blueprints[bpID]
		m := map[string]*prop{}
		add := func(name string, pr *prop) {
			if _, dup := m[name]; dup {
				fail(bpID, name, "declared as more than one computed property")
				return
			}
			pr.blueprint, pr.name = bpID, name
			m[name] = pr
		}
		for _, name := range slices.Sorted(maps.Keys(bp.Schema.Properties)) {
			sp := bp.Schema.Properties[name]
			if sp.Calculation == nil {
				continue
			}
			switch sp.Calculation.Type {
			case "formula":
				add(name, &prop{kind: Formula, typ: sp.Type, src: sp.Calculation.Formula})
			case "jq":
				add(name, &prop{kind: Calculation, typ: sp.Type, src: sp.Calculation.Formula})
			default:
				fail(bpID, name, "unknown calculation type %q (want formula or jq)", sp.Calculation.Type)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(bp.CalculationProperties)) {
			cp := bp.CalculationProperties[name]
			add(name, &prop{kind: Calculation, typ: cp.Type, src: cp.Calculation})
		}
		for _, name := range slices.Sorted(maps.Keys(bp.MirrorProperties)) {
			add(name, &prop{kind: Mirror, src: bp.MirrorProperties[name].Path})
		}
		for _, name := range slices.Sorted(maps.Keys(bp.AggregationProperties)) {
			add(name, &prop{kind: Aggregation, typ: bp.AggregationProperties[name].Type})
		}
		if len(m) > 0 {
			p.props[bpID] = m
		}
	}
	// Second pass: compile each and find its dependencies.
	for _, bpID := range slices.Sorted(maps.Keys(p.props)) {
		bp := c.Blueprints[bpID]
		for _, name := range slices.Sorted(maps.Keys(p.props[bpID])) {
			pr := p.props[bpID][name]
			if !validType(pr.typ) {
				fail(bpID, name, "unknown type %q", pr.typ)
				continue
			}
			var err error
			switch pr.kind {
			case Calculation:
				err = p.compileJQ(pr)
			case Formula:
				err = p.compileFormula(pr)
			case Mirror:
				err = p.compileMirror(c, pr)
			case Aggregation:
				err = p.compileAggregation(c, bp, pr, bp.AggregationProperties[name], o.Query)
			}
			if err != nil {
				fail(bpID, name, "%v", err)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := p.order(); err != nil {
		return nil, err
	}
	return p, nil
}

// Error is a computed property that does not compile, or that closes a
// dependency cycle. Compile joins one per fault.
type Error struct {
	Blueprint, Property string
	Message             string
}

func (e *Error) Error() string {
	if strings.HasPrefix(e.Message, "dependency cycle: ") {
		return e.Message // it names the properties itself
	}
	return e.Blueprint + "." + e.Property + ": " + e.Message
}

func validType(t string) bool {
	switch t {
	case "", "number", "string", "boolean", "object", "array":
		return true
	}
	return false
}

// Properties patterns a jq expression may use to read one property.
var (
	jqPropRef = regexp.MustCompile(`\.properties\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\.\s*"([^"\\]*)"|\[\s*"([^"\\]*)"\s*\])`)
	jqPropAny = regexp.MustCompile(`properties`)
	// jqWhole matches constructs that can read the whole input, and so
	// properties no pattern names: recursion, root iteration, path and
	// entry functions, serialisation.
	jqWhole = regexp.MustCompile(`\.\.|(?:^|[\s(|,;:{\[])\.\s*\[|\b(?:to_entries|with_entries|paths|leaf_paths|getpath|tostream|tojson|walk|input|inputs)\b|@json|@text`)
)

// jqRefs returns the property names expr reads, or all=true when it
// may read properties it does not name. It scans the text: a program
// that can see the whole of .properties without naming them is treated
// as reading them all.
func jqRefs(expr string) (names []string, all bool) {
	covered := 0
	for _, m := range jqPropRef.FindAllStringSubmatchIndex(expr, -1) {
		for g := 1; g <= 3; g++ {
			if m[2*g] >= 0 {
				names = append(names, expr[m[2*g]:m[2*g+1]])
			}
		}
		covered++
	}
	if len(jqPropAny.FindAllStringIndex(expr, -1)) > covered || jqWhole.MatchString(expr) {
		return nil, true
	}
	return names, false
}

func (p *Plan) compileJQ(pr *prop) error {
	q, err := gojq.Parse(pr.src)
	if err != nil {
		return fmt.Errorf("jq %q: %v", pr.src, err)
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return fmt.Errorf("jq %q: %v", pr.src, err)
	}
	pr.code = code
	names, all := jqRefs(pr.src)
	if all {
		for _, name := range slices.Sorted(maps.Keys(p.props[pr.blueprint])) {
			if name != pr.name {
				names = append(names, name)
			}
		}
	}
	p.addSelfDeps(pr, names)
	return nil
}

func (p *Plan) compileFormula(pr *prop) error {
	if pr.typ != "number" && pr.typ != "" {
		return fmt.Errorf("a formula yields a number, but the property is of type %s", pr.typ)
	}
	f, err := parseFormula(pr.src)
	if err != nil {
		return fmt.Errorf("formula %q: %v", pr.src, err)
	}
	pr.formula = f
	p.addSelfDeps(pr, f.idents(nil))
	return nil
}

// addSelfDeps records the computed properties among names as
// dependencies of pr; names that are not computed are plain properties.
func (p *Plan) addSelfDeps(pr *prop, names []string) {
	slices.Sort(names)
	names = slices.Compact(names)
	for _, n := range names {
		if d, ok := p.props[pr.blueprint][n]; ok {
			pr.deps = append(pr.deps, d)
			pr.selfDeps = append(pr.selfDeps, n)
		}
	}
}

func (p *Plan) compileMirror(c *catalog.Catalog, pr *prop) error {
	segs := strings.Split(pr.src, ".")
	if len(segs) < 2 || slices.Contains(segs, "") {
		return fmt.Errorf("mirror path %q: want relation[.relation...].property", pr.src)
	}
	bp := c.Blueprints[pr.blueprint]
	for _, s := range segs[:len(segs)-1] {
		rel, ok := bp.Relations[s]
		if !ok {
			return fmt.Errorf("mirror path %q: blueprint %s has no relation %q", pr.src, bp.Identifier, s)
		}
		next := c.Blueprints[rel.Target]
		if next == nil {
			return fmt.Errorf("mirror path %q: relation %s.%s targets unknown blueprint %q", pr.src, bp.Identifier, s, rel.Target)
		}
		pr.hops = append(pr.hops, s)
		pr.hopBP = append(pr.hopBP, rel.Target)
		pr.many = pr.many || rel.Many
		bp = next
	}
	pr.leaf = segs[len(segs)-1]
	switch pr.leaf {
	case "$identifier":
		pr.leafKind = leafIdentifier
	case "$title":
		pr.leafKind = leafTitle
	case "$blueprint":
		pr.leafKind = leafBlueprint
	default:
		if d, ok := p.props[bp.Identifier][pr.leaf]; ok {
			pr.leafKind = leafComputed
			pr.deps = append(pr.deps, d)
		} else if _, ok := bp.Schema.Properties[pr.leaf]; ok {
			pr.leafKind = leafProperty
		} else if _, ok := bp.Relations[pr.leaf]; ok {
			pr.leafKind = leafRelation
		} else {
			return fmt.Errorf("mirror path %q: blueprint %s has no property %q", pr.src, bp.Identifier, pr.leaf)
		}
	}
	for i, t := range pr.hopBP {
		p.mirrorsVia[t] = append(p.mirrorsVia[t], mirrorHop{m: pr, i: i + 1})
	}
	return nil
}

func (p *Plan) compileAggregation(c *catalog.Catalog, bp *catalog.Blueprint, pr *prop, ap catalog.AggregationProperty, qo query.Options) error {
	if pr.typ != "" && pr.typ != "number" {
		return fmt.Errorf("an aggregation yields a number, but the property is of type %s", pr.typ)
	}
	t := c.Blueprints[ap.Target]
	if t == nil {
		return fmt.Errorf("unknown target blueprint %q", ap.Target)
	}
	pr.target = ap.Target
	// Entities of the target that point at this one; failing that,
	// those this one points at.
	for _, name := range slices.Sorted(maps.Keys(t.Relations)) {
		if t.Relations[name].Target == bp.Identifier {
			pr.rels = append(pr.rels, name)
		}
	}
	pr.incoming = len(pr.rels) > 0
	if !pr.incoming {
		for _, name := range slices.Sorted(maps.Keys(bp.Relations)) {
			if bp.Relations[name].Target == t.Identifier {
				pr.rels = append(pr.rels, name)
			}
		}
	}
	if len(pr.rels) == 0 {
		return fmt.Errorf("no relation between %s and target %s", bp.Identifier, t.Identifier)
	}
	spec := ap.CalculationSpec
	pr.fn = spec.Func
	switch spec.CalculationBy {
	case "", "entities":
		if spec.CalculationBy == "" && spec.Property != "" {
			pr.byProperty = spec.Property
		} else if pr.fn != "count" {
			return fmt.Errorf("func %q over entities is not supported (only count)", pr.fn)
		}
	case "property":
		if spec.Property == "" {
			return fmt.Errorf("calculationBy property needs a property")
		}
		pr.byProperty = spec.Property
	default:
		return fmt.Errorf("unknown calculationBy %q (want entities or property)", spec.CalculationBy)
	}
	switch pr.fn {
	case "count", "sum", "average", "min", "max", "median":
	default:
		return fmt.Errorf("unknown func %q (want count, sum, average, min, max or median)", pr.fn)
	}
	var reads []string
	if pr.byProperty != "" {
		if _, ok := t.Schema.Properties[pr.byProperty]; !ok {
			if _, ok := p.props[t.Identifier][pr.byProperty]; !ok {
				return fmt.Errorf("target %s has no property %q", t.Identifier, pr.byProperty)
			}
		}
		reads = append(reads, pr.byProperty)
	}
	if ap.Query != nil {
		q, err := qo.Compile(*ap.Query)
		if err != nil {
			return fmt.Errorf("query: %v", err)
		}
		pr.filter = q
		p.relational = p.relational || q.Relational()
		reads = ruleProps(reads, ap.Query.Rules)
	}
	slices.Sort(reads)
	for _, n := range slices.Compact(reads) {
		if d, ok := p.props[t.Identifier][n]; ok {
			pr.deps = append(pr.deps, d)
			pr.selfDeps = append(pr.selfDeps, n) // names on the target, read by the filter
		}
	}
	p.aggsOver[t.Identifier] = append(p.aggsOver[t.Identifier], pr)
	return nil
}

// ruleProps appends the property names (first path element) rules read.
func ruleProps(dst []string, rules []catalog.Rule) []string {
	for _, r := range rules {
		if r.Property != "" {
			name, _, _ := strings.Cut(r.Property, ".")
			dst = append(dst, name)
		}
		dst = ruleProps(dst, r.Rules)
	}
	return dst
}

// order sorts every blueprint's properties so that each comes after
// what it depends on, across blueprints, and reports the first cycle
// found as "a.x -> b.y -> a.x".
func (p *Plan) order() error {
	const (
		unseen = iota
		active
		done
	)
	state := map[*prop]int{}
	var stack []*prop
	rank := 0
	var visit func(pr *prop) error
	visit = func(pr *prop) error {
		switch state[pr] {
		case done:
			return nil
		case active:
			i := slices.Index(stack, pr)
			names := make([]string, 0, len(stack)-i+1)
			for _, s := range stack[i:] {
				names = append(names, s.String())
			}
			return &Error{Blueprint: pr.blueprint, Property: pr.name, Message: fmt.Sprintf("dependency cycle: %s -> %s", strings.Join(names, " -> "), pr)}
		}
		state[pr] = active
		stack = append(stack, pr)
		for _, d := range pr.deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[pr] = done
		pr.rank = rank
		rank++
		return nil
	}
	for _, bp := range slices.Sorted(maps.Keys(p.props)) {
		for _, name := range slices.Sorted(maps.Keys(p.props[bp])) {
			if err := visit(p.props[bp][name]); err != nil {
				return err
			}
		}
	}
	p.dependents = map[*prop][]*prop{}
	for _, m := range p.props {
		for _, pr := range m {
			for _, d := range pr.deps {
				if d.blueprint == pr.blueprint {
					p.dependents[d] = append(p.dependents[d], pr)
				}
			}
		}
	}
	for bp, m := range p.props {
		l := make([]*prop, 0, len(m))
		for _, pr := range m {
			l = append(l, pr)
		}
		sort.Slice(l, func(i, j int) bool { return l[i].rank < l[j].rank })
		for i, pr := range l {
			pr.index = i
		}
		p.byBlueprint[bp] = l
	}
	return nil
}

// closure returns pr and the properties of its blueprint that depend on
// it, directly or not.
func (p *Plan) closure(pr *prop) []*prop {
	out := []*prop{pr}
	for i := 0; i < len(out); i++ {
		for _, d := range p.dependents[out[i]] {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

// Incremental reports whether Affected names every entity whose values
// a change can reach, so that re-evaluating only those gives what a full
// evaluation would. It does not when an aggregation filter uses
// relatedTo, which can follow relations Affected does not.
func (p *Plan) Incremental() bool { return !p.relational }

// Properties returns the names of the computed properties of blueprint
// bp in evaluation order.
func (p *Plan) Properties(bp string) []string {
	var out []string
	for _, pr := range p.byBlueprint[bp] {
		out = append(out, pr.name)
	}
	return out
}
