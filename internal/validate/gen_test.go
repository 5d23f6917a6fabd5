package validate

import (
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/pierhq/pier/internal/catalog"
)

// gen generates blueprints and entities for them, deterministically from a
// seed. Valid entities are built to satisfy the blueprint; invalid ones
// are a valid one with exactly one mutation, whose kind and path are
// recorded so the test can check that the Go validator reports it.
type gen struct {
	r *rand.Rand
	n int // counter for unique names
}

func newGen(seed uint64) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (g *gen) intn(n int) int         { return g.r.IntN(n) }
func (g *gen) chance(p float64) bool  { return g.r.Float64() < p }
func (g *gen) between(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }
func pick[T any](g *gen, xs ...T) T   { return xs[g.r.IntN(len(xs))] }
func ip(i int) *int                   { return &i }

// ---- blueprints ----

// Property and relation names, some of which need quoting in CUE and in
// diagnostic paths.
var propNames = []string{
	"language", "lifecycle", "replicas", "tags", "owner_email", "homepage",
	"created", "ip", "ip6", "enabled", "meta", "ports", "score", "ratio",
	"my-prop", "$x", "with space", "ünïcode", "x.y", "1abc", "_hidden",
	"#def", `quote"d`, "back\\slash", "日本", "if", "for", "null", "true",
	"identifier", "properties", "relations", "κ",
}

var relNames = []string{"team", "owner", "deps", "parent", "consumers", "my-rel", "$r", "domain", "with space"}

type bpInfo struct {
	bp       *catalog.Blueprint
	required map[string]bool
	// settable are the schema properties an entity may set, by name.
	settable map[string]*catalog.Property
	// forbidden are names an entity may not set: runtime or computed.
	runtime  []string
	computed []string
}

func (g *gen) blueprint(i int) *bpInfo {
	bp := &catalog.Blueprint{
		Identifier: fmt.Sprintf("bp%d", i),
		Schema:     catalog.BlueprintSchema{Properties: map[string]catalog.Property{}},
	}
	names := slices.Clone(propNames)
	g.r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	nprops := g.between(2, 9)
	for _, name := range names[:nprops] {
		p := g.property(0)
		switch {
		case g.chance(0.08):
			p.Runtime = true
		case g.chance(0.06):
			p.Calculation = &catalog.Formula{Type: "jq", Formula: ".properties.x"}
		}
		bp.Schema.Properties[name] = p
		if g.chance(0.4) {
			bp.Schema.Required = append(bp.Schema.Required, name)
		}
	}
	// Computed properties of the other three kinds, under names not used
	// above (and, rarely, under a schema property's name: pier computes
	// it, so git still may not set it).
	rest := names[nprops:]
	take := func() string {
		if g.chance(0.1) {
			return names[g.intn(nprops)]
		}
		s := rest[0]
		rest = rest[1:]
		return s
	}
	if g.chance(0.3) {
		bp.CalculationProperties = map[string]catalog.CalculationProperty{take(): {Calculation: ".title", Type: "string"}}
	}
	if g.chance(0.3) {
		bp.MirrorProperties = map[string]catalog.MirrorProperty{take(): {Path: "team.$title"}}
	}
	if g.chance(0.3) {
		bp.AggregationProperties = map[string]catalog.AggregationProperty{take(): {Target: "x", CalculationSpec: catalog.CalculationSpec{Func: "count"}}}
	}
	if g.chance(0.05) && len(bp.Schema.Required) > 0 {
		// a required property listed twice, or one that is not declared
		bp.Schema.Required = append(bp.Schema.Required, pick(g, bp.Schema.Required[0], "undeclared"))
	}
	rnames := slices.Clone(relNames)
	g.r.Shuffle(len(rnames), func(i, j int) { rnames[i], rnames[j] = rnames[j], rnames[i] })
	if nrel := g.intn(5); nrel > 0 {
		bp.Relations = map[string]catalog.Relation{}
		for _, name := range rnames[:nrel] {
			bp.Relations[name] = catalog.Relation{Target: pick(g, "team", "service"), Required: g.chance(0.4), Many: g.chance(0.5)}
		}
	}

	return infoOf(bp)
}

// infoOf works out what an entity of bp may and may not set.
func infoOf(bp *catalog.Blueprint) *bpInfo {
	info := &bpInfo{bp: bp, required: map[string]bool{}, settable: map[string]*catalog.Property{}}
	computed := map[string]bool{}
	for name, p := range bp.Schema.Properties {
		if p.Calculation != nil {
			computed[name] = true
		}
	}
	for name := range bp.CalculationProperties {
		computed[name] = true
	}
	for name := range bp.MirrorProperties {
		computed[name] = true
	}
	for name := range bp.AggregationProperties {
		computed[name] = true
	}
	for name := range computed {
		info.computed = append(info.computed, name)
	}
	for name, p := range bp.Schema.Properties {
		switch {
		case computed[name]:
		case p.Runtime:
			info.runtime = append(info.runtime, name)
		default:
			info.settable[name] = &p
		}
	}
	for _, name := range bp.Schema.Required {
		if info.settable[name] != nil {
			info.required[name] = true
		}
	}
	sort.Strings(info.computed)
	sort.Strings(info.runtime)
	return info
}

// property generates one property schema whose constraints can be met.
func (g *gen) property(depth int) catalog.Property {
	types := []string{"string", "string", "string", "number", "number", "boolean", "object", "array", "array"}
	if depth > 0 {
		types = types[:len(types)-1] // arrays of arrays only rarely
		if g.chance(0.1) {
			types = append(types, "array")
		}
	}
	var p catalog.Property
	p.Type = pick(g, types...)
	p.Title = "A property"
	switch p.Type {
	case "string":
		g.stringConstraints(&p)
	case "number":
		g.numberConstraints(&p)
	case "boolean":
		if g.chance(0.2) {
			p.Enum = []any{pick(g, true, false)}
		}
	case "array":
		g.arrayConstraints(&p, depth)
	}
	return p
}

// ---- strings ----

// A strSpec is a string constraint family with generators of values that
// meet it and values that miss it.
type strSpec struct {
	pattern string
	format  string
	minLen  int                           // shortest value good can make
	good    func(g *gen, n int) string    // n runes (at least minLen)
	bad     func(g *gen, n int) string    // misses the pattern or format
	fixed   []string                      // for formats: valid samples
	invalid []string                      // for formats: invalid samples
	_       func(g *gen, s string) string // unused
}

var (
	lower     = []rune("abcdefghijklmnopqrstuvwxyz")
	upperU    = []rune("ABCÉÑZ")
	lowerU    = []rune("abcéßñz")
	digits    = []rune("0123456789")
	cjk       = []rune("日本語中文字")
	anyRunes  = []rune("aZ0 é日🚀\u0301\\\"\n\t\u0001\u2028<>&/~")
	nonSpaceU = []rune("aZ0é日🚀\\\"<>&/~-_")
)

func (g *gen) runes(pool []rune, n int) string {
	var b strings.Builder
	for range n {
		b.WriteRune(pool[g.intn(len(pool))])
	}
	return b.String()
}

var stringPatterns = []strSpec{
	{pattern: `^[a-z]+$`, minLen: 1,
		good: func(g *gen, n int) string { return g.runes(lower, n) },
		bad:  func(g *gen, n int) string { return g.runes(lower, n-1) + pick(g, "A", " ", "é", "1") }},
	{pattern: `^[a-z0-9-]+$`, minLen: 1,
		good: func(g *gen, n int) string { return g.runes([]rune("abz09-"), n) },
		bad:  func(g *gen, n int) string { return "_" + g.runes(lower, n-1) }},
	{pattern: `^\p{Lu}[\p{Ll}\d]*$`, minLen: 1,
		good: func(g *gen, n int) string { return g.runes(upperU, 1) + g.runes(append(lowerU, digits...), n-1) },
		bad:  func(g *gen, n int) string { return g.runes(lowerU, n) }},
	{pattern: `^(foo|bar)-\d+$`, minLen: 5,
		good: func(g *gen, n int) string { return pick(g, "foo-", "bar-") + g.runes(digits, n-4) },
		bad:  func(g *gen, n int) string { return "baz-" + g.runes(digits, max(n-4, 1)) }},
	{pattern: `\d`, minLen: 1,
		good: func(g *gen, n int) string {
			s := []rune(g.runes(lower, n))
			s[g.intn(n)] = digits[g.intn(10)]
			return string(s)
		},
		bad: func(g *gen, n int) string { return g.runes(lowerU, n) }},
	{pattern: `(?i)^abc`, minLen: 3,
		good: func(g *gen, n int) string { return pick(g, "abc", "ABC", "aBc") + g.runes(lower, n-3) },
		bad:  func(g *gen, n int) string { return "xbc" + g.runes(lower, max(n-3, 0)) }},
	{pattern: `^[^\s]+$`, minLen: 1,
		good: func(g *gen, n int) string { return g.runes(nonSpaceU, n) },
		bad:  func(g *gen, n int) string { return g.runes(nonSpaceU, max(n-1, 0)) + pick(g, " ", "\t", "\n") }},
	{pattern: `^[\x{4e00}-\x{9fff}]+$`, minLen: 1,
		good: func(g *gen, n int) string { return g.runes(cjk, n) },
		bad:  func(g *gen, n int) string { return g.runes(lower, n) }},
	{pattern: `^v\d+\.\d+\.\d+$`, minLen: 6,
		good: func(g *gen, n int) string { return "v1.2." + g.runes(digits, n-5) },
		bad:  func(g *gen, n int) string { return "v1.2" + g.runes(lower, max(n-4, 1)) }},
}

var stringFormats = []strSpec{
	{format: "date-time",
		fixed:   []string{"2026-01-02T15:04:05Z", "2026-01-02T15:04:05.123456789+02:00", "1999-12-31T23:59:59-08:00", "2024-02-29T00:00:00Z", "2026-06-30T12:00:00.5Z"},
		invalid: []string{"2026-13-01T00:00:00Z", "2026-01-02", "2026-01-02 15:04:05Z", "2023-02-29T00:00:00Z", "not a date", "2026-01-02T15:04:05", "2026-01-02T25:00:00Z", ""}},
	{format: "timer",
		fixed:   []string{"2026-01-02T15:04:05Z", "2030-01-01T00:00:00+00:00"},
		invalid: []string{"1h30m", "2026-01-32T00:00:00Z", "tomorrow"}},
	{format: "email",
		fixed:   []string{"a@b.co", "first.last+tag@example.com", "ünï@exämple.org", "x_y@sub.domain.io"},
		invalid: []string{"plainaddress", "a@b", "a b@c.de", "@x.com", "a@@b.com", "a@b.", ""}},
	{format: "url",
		fixed:   []string{"https://example.com", "http://localhost:8080/x?y=1#z", "git+ssh://git@github.com/a/b.git", "s3://bucket/key"},
		invalid: []string{"example.com", "https://", "https:// example.com", "/relative/path", "1http://x.com", "https://exa mple.com", ""}},
	{format: "ipv4",
		fixed:   []string{"192.168.0.1", "0.0.0.0", "255.255.255.255", "10.0.0.254"},
		invalid: []string{"256.1.1.1", "1.2.3", "::ffff:1.2.3.4", "01.2.3.4", "1.2.3.4 ", "::1", "a.b.c.d", ""}},
	{format: "ipv6",
		fixed:   []string{"::1", "2001:db8::8a2e:370:7334", "::ffff:1.2.3.4", "fe80::1%eth0", "::"},
		invalid: []string{"1.2.3.4", "2001:db8::g", ":::", "2001:db8:::1", "[::1]", ""}},
}

// Formats that constrain nothing.
var freeFormats = []string{"user", "team", "markdown", "yaml", "entity"}

func (g *gen) stringConstraints(p *catalog.Property) {
	switch k := g.intn(10); {
	case k < 3: // free string
		if g.chance(0.3) {
			p.Format = pick(g, freeFormats...)
		}
		if g.chance(0.4) {
			p.MinLength = ip(g.between(0, 4))
		}
		if g.chance(0.4) {
			p.MaxLength = ip(g.between(max(deref(p.MinLength), 1), 12))
		}
	case k < 6: // pattern
		spec := pick(g, stringPatterns...)
		p.Pattern = spec.pattern
		if g.chance(0.4) {
			p.MinLength = ip(g.between(0, spec.minLen+2))
		}
		if g.chance(0.4) {
			p.MaxLength = ip(max(deref(p.MinLength), spec.minLen) + g.between(0, 8))
		}
	default: // format
		spec := pick(g, stringFormats...)
		p.Format = spec.format
		if g.chance(0.2) {
			p.MinLength = ip(g.between(0, 2))
		}
		if g.chance(0.2) {
			p.MaxLength = ip(g.between(50, 80))
		}
	}
	if g.chance(0.25) {
		// enum members are values meeting the other constraints, plus
		// members of other types that a string never equals.
		n := g.between(1, 4)
		for range n * 3 {
			if len(p.Enum) == n {
				break
			}
			s := g.goodStringNoEnum(p)
			if !slices.Contains(p.Enum, any(s)) {
				p.Enum = append(p.Enum, s)
			}
		}
		if g.chance(0.2) {
			p.Enum = append(p.Enum, pick[any](g, nil, json.Number("1"), true))
		}
	}
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func specOf(p *catalog.Property) *strSpec {
	for i := range stringPatterns {
		if stringPatterns[i].pattern == p.Pattern && p.Pattern != "" {
			return &stringPatterns[i]
		}
	}
	for i := range stringFormats {
		if stringFormats[i].format == p.Format {
			return &stringFormats[i]
		}
	}
	return nil
}

// lengthRange is the rune counts a value may have given the constraints
// and the family's shortest value.
func lengthRange(p *catalog.Property, minLen int) (int, int) {
	lo := max(deref(p.MinLength), minLen)
	hi := lo + 8
	if p.MaxLength != nil {
		hi = *p.MaxLength
	}
	return lo, hi
}

func (g *gen) goodString(p *catalog.Property) string {
	if len(p.Enum) > 0 {
		var ss []string
		for _, e := range p.Enum {
			if s, ok := e.(string); ok {
				ss = append(ss, s)
			}
		}
		return pick(g, ss...)
	}
	spec := specOf(p)
	switch {
	case spec != nil && spec.format != "":
		return pick(g, spec.fixed...)
	case spec != nil:
		lo, hi := lengthRange(p, spec.minLen)
		return spec.good(g, g.between(lo, hi))
	}
	lo, hi := lengthRange(p, 0)
	return g.runes(anyRunes, g.between(lo, hi))
}

// ---- numbers ----

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("bad rational " + s)
	}
	return r
}

// decimalPlaces returns the number of decimals r needs, r being a
// terminating decimal.
func decimalPlaces(r *big.Rat) int {
	x := new(big.Rat).Set(r)
	ten := big.NewRat(10, 1)
	for k := 0; k < 2000; k++ {
		if x.IsInt() {
			return k
		}
		x.Mul(x, ten)
	}
	panic("not a terminating decimal: " + r.RatString())
}

// render writes r as a JSON number in one of several notations with the
// same value: 12.5, 12.50, 1.25e1, 125E-1, and for integers 12, 12.0,
// 12e0; zero also as -0 and -0.0.
func (g *gen) render(r *big.Rat) json.Number {
	k := decimalPlaces(r)
	plain := r.FloatString(k)
	if r.Sign() == 0 {
		return json.Number(pick(g, "0", "0", "-0", "0.0", "-0.0", "0e5", "0E-3"))
	}
	neg := strings.HasPrefix(plain, "-")
	abs := strings.TrimPrefix(plain, "-")
	sign := ""
	if neg {
		sign = "-"
	}
	intPart, frac, _ := strings.Cut(abs, ".")
	digitsAll := strings.TrimLeft(intPart+frac, "0")
	exp := len(intPart) - (len(intPart+frac) - len(digitsAll)) // position of the point after the first significant digit... in 0.d form
	// value = 0.digitsAll × 10^exp
	switch g.intn(6) {
	case 0, 1:
		return json.Number(plain)
	case 2:
		if k == 0 {
			return json.Number(plain + ".0")
		}
		return json.Number(plain + "00")
	case 3: // d.ddd e(exp-1)
		m := digitsAll[:1]
		if len(digitsAll) > 1 {
			m += "." + digitsAll[1:]
		}
		e := pick(g, "e", "E")
		if exp-1 >= 0 && g.chance(0.5) {
			e += "+"
		}
		return json.Number(fmt.Sprintf("%s%s%s%d", sign, m, e, exp-1))
	case 4: // integer mantissa
		return json.Number(fmt.Sprintf("%s%s%s%d", sign, digitsAll, pick(g, "e", "E"), exp-len(digitsAll)))
	}
	if k == 0 {
		return json.Number(plain + "e0")
	}
	return json.Number(plain)
}

// A decimal in [-1000, 1000] with up to three decimals.
func (g *gen) smallDecimal() *big.Rat {
	scale := pick(g, int64(1), 10, 1000)
	return big.NewRat(int64(g.between(-1000, 1000))*int64(g.between(1, 3)), scale)
}

// tiny is a step smaller than float64 can tell apart around most bounds.
func (g *gen) tiny() *big.Rat {
	return pick(g, rat("1/1000"), rat("1/1000000000"), rat("1/100000000000000000"), rat("1/10000000000000000000000000"))
}

type numSpec struct {
	lo, hi       *big.Rat
	loEx, hiEx   bool
	hasLo, hasHi bool
}

func numSpecOf(p *catalog.Property) numSpec {
	var s numSpec
	if p.Minimum != nil {
		s.lo, s.hasLo = rat(p.Minimum.String()), true
	}
	if p.ExclusiveMinimum != nil {
		s.lo, s.hasLo, s.loEx = rat(p.ExclusiveMinimum.String()), true, true
	}
	if p.Maximum != nil {
		s.hi, s.hasHi = rat(p.Maximum.String()), true
	}
	if p.ExclusiveMaximum != nil {
		s.hi, s.hasHi, s.hiEx = rat(p.ExclusiveMaximum.String()), true, true
	}
	return s
}

func (s numSpec) ok(r *big.Rat) bool {
	if s.hasLo {
		c := r.Cmp(s.lo)
		if c < 0 || c == 0 && s.loEx {
			return false
		}
	}
	if s.hasHi {
		c := r.Cmp(s.hi)
		if c > 0 || c == 0 && s.hiEx {
			return false
		}
	}
	return true
}

func (g *gen) numberConstraints(p *catalog.Property) {
	if g.chance(0.25) {
		n := g.between(1, 4)
		var members []*big.Rat
	next:
		for len(members) < n {
			r := g.smallDecimal()
			for _, m := range members {
				if m.Cmp(r) == 0 {
					continue next
				}
			}
			members = append(members, r)
			p.Enum = append(p.Enum, g.render(r))
		}
		if g.chance(0.2) {
			p.Enum = append(p.Enum, pick[any](g, nil, "1", false))
		}
		return
	}
	lo := g.smallDecimal()
	hi := new(big.Rat).Add(lo, new(big.Rat).Mul(big.NewRat(int64(g.between(1, 2000)), 1), pick(g, rat("1"), rat("1/10"), rat("1/1000"))))
	switch g.intn(3) {
	case 0:
		v := g.render(lo)
		p.Minimum = &v
	case 1:
		v := g.render(lo)
		p.ExclusiveMinimum = &v
	}
	switch g.intn(3) {
	case 0:
		v := g.render(hi)
		p.Maximum = &v
	case 1:
		v := g.render(hi)
		p.ExclusiveMaximum = &v
	}
}

func (g *gen) goodNumber(p *catalog.Property) json.Number {
	if len(p.Enum) > 0 {
		var ns []json.Number
		for _, e := range p.Enum {
			if n, ok := e.(json.Number); ok {
				ns = append(ns, n)
			}
		}
		// Any notation of a member's value is the member.
		return g.render(rat(pick(g, ns...).String()))
	}
	s := numSpecOf(p)
	var cands []*big.Rat
	add := func(r *big.Rat) {
		if s.ok(r) {
			cands = append(cands, r)
		}
	}
	switch {
	case s.hasLo && s.hasHi:
		add(new(big.Rat).Quo(new(big.Rat).Add(s.lo, s.hi), big.NewRat(2, 1)))
		add(s.lo)
		add(s.hi)
		add(new(big.Rat).Add(s.lo, g.tiny()))
		add(new(big.Rat).Sub(s.hi, g.tiny()))
	case s.hasLo:
		add(s.lo)
		add(new(big.Rat).Add(s.lo, g.tiny()))
		add(new(big.Rat).Add(s.lo, big.NewRat(int64(g.between(1, 1e6)), 1)))
	case s.hasHi:
		add(s.hi)
		add(new(big.Rat).Sub(s.hi, g.tiny()))
		add(new(big.Rat).Sub(s.hi, big.NewRat(int64(g.between(1, 1e6)), 1000)))
	default:
		add(g.smallDecimal())
		add(big.NewRat(0, 1))
		add(rat("123456789012345678901234567890"))
		add(rat("-1/1000000000000000000000"))
	}
	return g.render(pick(g, cands...))
}

// ---- arrays and other values ----

func (g *gen) arrayConstraints(p *catalog.Property, depth int) {
	switch k := g.intn(10); {
	case k < 2: // no items schema
	case k < 3: // items with no type: only the enum constrains them
		it := catalog.Property{}
		if g.chance(0.7) {
			it.Enum = []any{"a", json.Number("1"), true, nil, json.Number("2.5")}[:g.between(2, 5)]
		}
		p.Items = &it
	default:
		it := g.property(depth + 1)
		it.Title = ""
		p.Items = &it
	}
	if g.chance(0.4) {
		p.MinItems = ip(g.between(0, 3))
	}
	if g.chance(0.4) {
		p.MaxItems = ip(deref(p.MinItems) + g.between(0, 4))
	}
	if g.chance(0.4) {
		p.UniqueItems = true
		// a small domain bounds how many distinct items there can be
		if d := domainSize(p.Items); d >= 0 {
			if p.MinItems != nil && *p.MinItems > d {
				p.MinItems = ip(d)
			}
			if p.MaxItems == nil || *p.MaxItems > d {
				p.MaxItems = ip(d)
			}
		}
	}
}

// domainSize is how many distinct values items can take, or -1 when
// unbounded.
func domainSize(it *catalog.Property) int {
	switch {
	case it == nil:
		return -1
	case len(it.Enum) > 0 && it.Type == "number":
		// number members are all numbers; other members never match
		n := 0
		for _, e := range it.Enum {
			if _, ok := e.(json.Number); ok {
				n++
			}
		}
		return n
	case len(it.Enum) > 0 && it.Type == "string":
		n := 0
		for _, e := range it.Enum {
			if _, ok := e.(string); ok {
				n++
			}
		}
		return n
	case len(it.Enum) > 0:
		return len(it.Enum)
	case it.Type == "boolean":
		return 2
	case it.Type == "string" && specOf(it) != nil && specOf(it).format != "":
		return len(specOf(it).fixed)
	case it.Type == "string" && it.MaxLength != nil && *it.MaxLength == 0:
		return 1
	case it.Type == "array" && it.MaxItems != nil:
		// arrays of length min..max over a domain of d items
		d := domainSize(it.Items)
		if d < 0 {
			if *it.MaxItems == 0 {
				return 1
			}
			return -1
		}
		n, pow := 0, 1
		for k := 0; k <= *it.MaxItems && n < 1000; k++ {
			if k >= deref(it.MinItems) {
				n += pow
			}
			pow *= d
		}
		return n
	}
	return -1
}

func (g *gen) object(depth int) map[string]any {
	m := map[string]any{}
	for range g.intn(4) {
		k := pick(g, "a", "b", "nested", "x-y", "")
		switch g.intn(5) {
		case 0:
			m[k] = g.render(g.smallDecimal())
		case 1:
			m[k] = g.runes(anyRunes, g.intn(5))
		case 2:
			m[k] = g.chance(0.5)
		case 3:
			m[k] = nil
		default:
			if depth < 2 {
				m[k] = g.object(depth + 1)
			} else {
				m[k] = []any{json.Number("1"), "x"}
			}
		}
	}
	return m
}

// good returns a value that meets p.
func (g *gen) good(p *catalog.Property) any {
	switch p.Type {
	case "string":
		return g.goodString(p)
	case "number":
		return g.goodNumber(p)
	case "boolean":
		if len(p.Enum) > 0 {
			return p.Enum[0]
		}
		return g.chance(0.5)
	case "object":
		return g.object(0)
	case "array":
		return g.goodArray(p)
	}
	// no type: anything, or an enum member
	if len(p.Enum) > 0 {
		e := pick(g, p.Enum...)
		if n, ok := e.(json.Number); ok {
			return g.render(rat(n.String()))
		}
		return e
	}
	return pick[any](g, "x", json.Number("3"), nil, true, map[string]any{"k": "v"}, []any{"a"})
}

func (g *gen) goodArray(p *catalog.Property) []any {
	a, ok := g.tryArray(p)
	if !ok {
		panic(fmt.Sprintf("generator: cannot make %d unique items for %+v", deref(p.MinItems), p.Items))
	}
	return a
}

// tryArray makes a valid array for p, or reports that it found too few
// distinct items.
func (g *gen) tryArray(p *catalog.Property) ([]any, bool) {
	lo := deref(p.MinItems)
	hi := lo + 4
	if g.chance(0.05) {
		hi = lo + 2*pairwiseMax // long enough for repeats to hash
	}
	if p.MaxItems != nil {
		hi = *p.MaxItems
	}
	n := g.between(lo, hi)
	out := []any{}
	seen := map[string]bool{}
	for tries := 0; len(out) < n && tries < 200; tries++ {
		var v any
		if p.Items != nil {
			v = g.good(p.Items)
		} else {
			v = pick[any](g, "x", json.Number("3"), nil, true, map[string]any{"k": json.Number("1")}, []any{"a"}, g.runes(lower, 3))
		}
		if p.UniqueItems {
			k := cueEqualityKey(v)
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		out = append(out, v)
	}
	if len(out) < lo {
		return nil, false
	}
	if p.UniqueItems && len(out) > 0 && len(out) < hi && g.chance(0.3) {
		// 1 and 1.0 are distinct items (CUE's int and float)
		if twin, ok := flipClass(out[g.intn(len(out))]); ok && !seen[cueEqualityKey(twin)] {
			out = slices.Insert(out, g.intn(len(out)+1), twin)
		}
	}
	return out, true
}

// noValue is what a mutation returns when it cannot be made.
type noValue struct{}

func isFloatLiteral(n json.Number) bool { return strings.ContainsAny(string(n), ".eE") }

// renotate writes every number in v differently but in the same class
// (integer or not), so that the copy equals v under uniqueItems.
func (g *gen) renotate(v any) any {
	switch v := v.(type) {
	case json.Number:
		for range 20 {
			if n := g.render(rat(string(v))); isFloatLiteral(n) == isFloatLiteral(v) && n != v {
				return n
			}
		}
		if v == "0" {
			return json.Number("-0")
		}
		return v
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = g.renotate(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = g.renotate(e)
		}
		return out
	}
	return v
}

// flipClass returns a copy of v, a number or an object, with its first
// integral number written in the other class (12 as 12.0, 1.2e1 as 12),
// if it has one.
func flipClass(v any) (any, bool) {
	switch v := v.(type) {
	case json.Number:
		r := rat(string(v))
		if !r.IsInt() {
			return nil, false
		}
		if isFloatLiteral(v) {
			return json.Number(r.Num().String()), true
		}
		return json.Number(r.Num().String() + ".0"), true
	case map[string]any: // (not arrays: they may have constraints of their own)
		for _, k := range sortedNames(v) {
			if f, ok := flipClass(v[k]); ok {
				out := make(map[string]any, len(v))
				for k2, e := range v {
					out[k2] = e
				}
				out[k] = f
				return out, true
			}
		}
	}
	return nil, false
}

// cueEqualityKey is the test's own model of the equality uniqueItems uses:
// values of different kinds differ; an integer literal never equals a
// decimal one (CUE's int and float); otherwise numbers compare by value.
func cueEqualityKey(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprint(v)
	case string:
		return fmt.Sprintf("%q", v)
	case json.Number:
		class := "i"
		if strings.ContainsAny(string(v), ".eE") {
			class = "f"
		}
		return class + rat(string(v)).RatString()
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = cueEqualityKey(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%q:%s", k, cueEqualityKey(v[k]))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	panic(fmt.Sprintf("unexpected %T", v))
}

// ---- invalid values ----

// bad returns a value that p rejects, and what is wrong with it; ok is
// false if the generator has no such value for p.
func (g *gen) bad(p *catalog.Property) (v any, what string, ok bool) {
	type option struct {
		what string
		make func() any
	}
	var opts []option
	add := func(what string, f func() any) { opts = append(opts, option{what, f}) }
	wrongType := map[string][]any{
		"string":  {json.Number("1"), true, []any{"a"}, map[string]any{}},
		"number":  {"5", true, []any{json.Number("1")}, map[string]any{"n": json.Number("1")}},
		"boolean": {"true", json.Number("1"), json.Number("0"), []any{}},
		"object":  {[]any{}, "x", json.Number("1"), false},
		"array":   {map[string]any{}, "a", json.Number("1"), true},
	}[p.Type]
	if len(wrongType) > 0 {
		add("wrong type", func() any { return pick(g, wrongType...) })
	}
	switch p.Type {
	case "string":
		spec := specOf(p)
		minLen := 0
		if spec != nil && spec.format == "" {
			minLen = spec.minLen
		}
		if p.MinLength != nil && *p.MinLength > 0 {
			add("too short", func() any {
				n := *p.MinLength - 1
				if spec != nil && spec.good != nil && n >= spec.minLen {
					return spec.good(g, n)
				}
				return g.runes(pick(g, lower, cjk), n)
			})
		}
		if p.MaxLength != nil {
			add("too long", func() any {
				n := *p.MaxLength + 1
				if spec != nil && spec.good != nil {
					return spec.good(g, max(n, spec.minLen))
				}
				return g.runes(pick(g, lower, cjk, []rune("🚀é")), n)
			})
		}
		if spec != nil && spec.bad != nil {
			add("pattern miss", func() any {
				lo, hi := lengthRange(p, max(minLen, 1))
				return spec.bad(g, g.between(lo, max(lo, hi)))
			})
		}
		if spec != nil && spec.format != "" {
			add("bad format", func() any { return pick(g, spec.invalid...) })
		}
		if len(p.Enum) > 0 {
			add("enum miss", func() any {
				for {
					s := g.goodStringNoEnum(p) + pick(g, "", " ", "x")
					if !slices.Contains(p.Enum, any(s)) {
						return s
					}
				}
			})
		}
	case "number":
		s := numSpecOf(p)
		if s.hasLo {
			add("below the lower bound", func() any {
				if s.loEx && g.chance(0.5) {
					return g.render(s.lo)
				}
				return g.render(new(big.Rat).Sub(s.lo, g.tiny()))
			})
		}
		if s.hasHi {
			add("above the upper bound", func() any {
				if s.hiEx && g.chance(0.5) {
					return g.render(s.hi)
				}
				return g.render(new(big.Rat).Add(s.hi, g.tiny()))
			})
		}
		if len(p.Enum) > 0 {
			add("enum miss", func() any {
				for {
					var r *big.Rat
					if n, ok := pick(g, p.Enum...).(json.Number); ok && g.chance(0.7) {
						r = new(big.Rat).Add(rat(n.String()), g.tiny())
					} else {
						r = g.smallDecimal()
					}
					in := false
					for _, e := range p.Enum {
						if n, ok := e.(json.Number); ok && rat(n.String()).Cmp(r) == 0 {
							in = true
						}
					}
					if !in {
						return g.render(r)
					}
				}
			})
		}
	case "boolean":
		if len(p.Enum) == 1 {
			add("enum miss", func() any { return !p.Enum[0].(bool) })
		}
	case "array":
		if p.MinItems != nil && *p.MinItems > 0 {
			add("too few items", func() any {
				a := g.goodArray(p)
				return a[:*p.MinItems-1]
			})
		}
		if p.MaxItems != nil && (!p.UniqueItems || domainSize(p.Items) < 0 || domainSize(p.Items) > *p.MaxItems) {
			add("too many items", func() any {
				q := *p
				q.MinItems, q.MaxItems = ip(*p.MaxItems+1), ip(*p.MaxItems+1)
				if a, ok := g.tryArray(&q); ok {
					return a
				}
				return noValue{}
			})
		}
		if p.UniqueItems && (p.MaxItems == nil || *p.MaxItems >= 2) {
			add("duplicate item", func() any {
				q := *p
				q.MinItems = ip(max(deref(p.MinItems), 1))
				a := g.goodArray(&q)
				j := g.intn(len(a))
				dup := deepCopy(a[j])
				if g.chance(0.5) {
					dup = g.renotate(dup) // 1.0 repeats 1e0, -0 repeats 0
				}
				if p.MaxItems != nil && len(a) == *p.MaxItems {
					a[(j+1)%len(a)] = dup
					return a
				}
				i := g.intn(len(a) + 1)
				return slices.Insert(a, i, dup)
			})
		}
		if p.Items != nil && (p.MaxItems == nil || *p.MaxItems >= 1) {
			if _, _, ok := g.bad(p.Items); ok {
				add("bad item", func() any {
					q := *p
					q.MinItems = ip(max(deref(p.MinItems), 1))
					a := g.goodArray(&q)
					bv, _, _ := g.bad(p.Items)
					a[g.intn(len(a))] = bv
					return a
				})
			}
		}
	case "":
		if len(p.Enum) > 0 {
			add("enum miss", func() any { return pick[any](g, "zz", json.Number("7"), false, map[string]any{}, []any{}) })
		}
	}
	if len(opts) == 0 {
		return nil, "", false
	}
	for {
		o := opts[0]
		if len(opts) > 1 && (opts[0].what != "wrong type" || g.chance(0.85)) {
			o = pick(g, opts[1:]...) // mostly the constraint-specific ones
		}
		if v := o.make(); v != (noValue{}) {
			return v, o.what, true
		}
	}
}

func (g *gen) goodStringNoEnum(p *catalog.Property) string {
	q := *p
	q.Enum = nil
	return g.goodString(&q)
}

// ---- entities ----

var identifiers = []string{"svc-1", "a@b.c", "x:y/z=1", "A_B+C", "payments", "0", "a.b-c_d"}

// tcase is one generated entity with the expected verdict.
type tcase struct {
	desc     string // what was done to the valid entity
	entity   map[string]any
	valid    bool
	mutation string // for single-mutation invalid cases
	key      string // the path key the mutation breaks
}

func (g *gen) validEntity(info *bpInfo) map[string]any {
	e := map[string]any{}
	if g.chance(0.8) {
		e["identifier"] = pick(g, identifiers...)
	}
	if g.chance(0.5) {
		e["title"] = g.runes(anyRunes, g.intn(8))
	}
	if g.chance(0.2) {
		e["icon"] = "Github"
	}
	switch g.intn(4) {
	case 0:
		e["team"] = "platform"
	case 1:
		e["team"] = []any{"platform", "payments"}[:g.intn(3)]
	}
	props := map[string]any{}
	for _, name := range sortedNames(info.settable) {
		p := info.settable[name]
		switch {
		case info.required[name] || g.chance(0.6):
			props[name] = g.good(p)
		case g.chance(0.3):
			props[name] = nil // null unsets an optional property
		}
	}
	if len(props) > 0 || g.chance(0.8) {
		e["properties"] = props
	}
	rels := map[string]any{}
	for _, name := range sortedNames(info.bp.Relations) {
		r := info.bp.Relations[name]
		if !r.Required && g.chance(0.4) {
			if g.chance(0.5) {
				rels[name] = nil
			} else if r.Many && g.chance(0.5) {
				rels[name] = []any{}
			}
			continue
		}
		if r.Many {
			ids := []any{"a"}
			for range g.intn(3) {
				ids = append(ids, pick[any](g, "b", "c-1", "ünï"))
			}
			rels[name] = ids
		} else {
			rels[name] = pick(g, "a", "b-2")
		}
	}
	if len(rels) > 0 || g.chance(0.7) {
		e["relations"] = rels
	}
	return e
}

func sortedNames[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// mutate makes one change to a valid entity that the blueprint rejects.
func (g *gen) mutate(info *bpInfo, valid map[string]any) (tcase, bool) {
	e := deepCopy(valid).(map[string]any)
	props, _ := e["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	rels, _ := e["relations"].(map[string]any)
	if rels == nil {
		rels = map[string]any{}
	}
	setProps := func() { e["properties"] = props }
	setRels := func() { e["relations"] = rels }
	type option struct {
		what string
		do   func() string // returns the path key
	}
	var opts []option
	add := func(what string, do func() string) { opts = append(opts, option{what, do}) }

	add("unknown top-level field", func() string {
		k := pick(g, "colour", "blueprint", "Properties", "description", "$schema")
		e[k] = "x"
		return k
	})
	add("bad identifier", func() string {
		e["identifier"] = pick[any](g, "has space", "", "ünï", "a#b", "a\nb", json.Number("42"), nil, []any{"a"})
		return "identifier"
	})
	add("bad team", func() string {
		e["team"] = pick[any](g, json.Number("7"), []any{"a", json.Number("1")}, nil, map[string]any{}, true)
		return "team"
	})
	add("bad title", func() string {
		k := pick(g, "title", "icon")
		e[k] = pick[any](g, json.Number("5"), nil, true, []any{})
		return k
	})
	add("properties not an object", func() string {
		e["properties"] = pick[any](g, []any{}, "x", nil, json.Number("1"))
		return "properties"
	})
	add("relations not an object", func() string {
		e["relations"] = pick[any](g, []any{"a"}, "x", nil, false)
		return "relations"
	})
	add("unknown property", func() string {
		k := pick(g, "colour", "Language", "undeclared", "language ", "")
		for info.bp.Schema.Properties[k].Type != "" || slices.Contains(info.computed, k) {
			k += "_"
		}
		props[k] = pick[any](g, "x", json.Number("1"), nil)
		setProps()
		return "properties/" + k
	})
	if len(info.runtime) > 0 {
		add("runtime property set", func() string {
			k := pick(g, info.runtime...)
			p := info.bp.Schema.Properties[k]
			props[k] = pick[any](g, g.good(&p), nil)
			setProps()
			return "properties/" + k
		})
	}
	if len(info.computed) > 0 {
		add("computed property set", func() string {
			k := pick(g, info.computed...)
			props[k] = pick[any](g, "x", json.Number("3"), nil)
			setProps()
			return "properties/" + k
		})
	}
	for _, k := range sortedNames(info.required) {
		add("required property missing", func() string {
			delete(props, k)
			setProps()
			return "properties/" + k
		})
		add("required property null", func() string {
			props[k] = nil
			setProps()
			return "properties/" + k
		})
	}
	for _, k := range sortedNames(info.settable) {
		p := info.settable[k]
		if _, _, ok := g.bad(p); ok {
			add("bad property value", func() string {
				v, what, _ := g.bad(p)
				props[k] = v
				setProps()
				return "properties/" + k + "\x00" + what
			})
		}
	}
	add("unknown relation", func() string {
		k := pick(g, "nope", "Team", "team ", "")
		for _, ok := info.bp.Relations[k]; ok; _, ok = info.bp.Relations[k] {
			k += "_"
		}
		rels[k] = "a"
		setRels()
		return "relations/" + k
	})
	for _, k := range sortedNames(info.bp.Relations) {
		r := info.bp.Relations[k]
		if r.Required {
			add("required relation missing", func() string {
				delete(rels, k)
				setRels()
				return "relations/" + k
			})
			add("required relation null", func() string {
				rels[k] = nil
				setRels()
				return "relations/" + k
			})
		}
		if r.Required && r.Many {
			add("required many relation empty", func() string {
				rels[k] = []any{}
				setRels()
				return "relations/" + k
			})
		}
		add("relation of the wrong shape", func() string {
			if r.Many {
				rels[k] = pick[any](g, "a", []any{"a", json.Number("1")}, []any{nil}, json.Number("1"), map[string]any{})
			} else {
				rels[k] = pick[any](g, []any{"a"}, json.Number("1"), true, map[string]any{"id": "a"}, []any{})
			}
			setRels()
			return "relations/" + k
		})
	}
	o := pick(g, opts...)
	var values []option
	for _, o := range opts {
		if o.what == "bad property value" {
			values = append(values, o)
		}
	}
	if len(values) > 0 && g.chance(0.4) {
		o = pick(g, values...)
	}
	key := o.do()
	what := o.what
	if k, detail, ok := strings.Cut(key, "\x00"); ok {
		key, what = k, what+": "+detail
	}
	return tcase{desc: what, entity: e, mutation: what, key: key}, true
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}
