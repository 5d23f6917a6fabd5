package validate

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/errors"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/node"
	"github.com/pierhq/pier/schema"
)

// pair is one blueprint compiled both ways: the Go validator under test and
// the CUE definition it must agree with.
type pair struct {
	bp  *catalog.Blueprint
	src string    // schema.EntityDefinition(bp), for failure messages
	def cue.Value // #Entity
	v   *Validator
}

func compilePair(tb testing.TB, bp *catalog.Blueprint) *pair {
	tb.Helper()
	src := schema.EntityDefinition(bp)
	file := cuecontext.New().CompileString(src)
	if err := file.Err(); err != nil {
		tb.Fatalf("blueprint %s: the CUE definition does not compile: %v\n%s", bp.Identifier, err, src)
	}
	def := file.LookupPath(cue.ParsePath("#Entity"))
	if err := def.Err(); err != nil {
		tb.Fatalf("blueprint %s: the CUE definition does not compile: %v\n%s", bp.Identifier, err, src)
	}
	v, err := Compile(bp)
	if err != nil {
		tb.Fatalf("blueprint %s: Compile: %v\n%s", bp.Identifier, err, src)
	}
	return &pair{bp: bp, src: src, def: def, v: v}
}

// verdict is what one side said about one entity.
type verdict struct {
	valid bool
	keys  map[string]bool // top-level paths that failed, see pathKey
	text  string          // the errors, for failure messages
}

// goVerdict runs the Go validator.
func (p *pair) goVerdict(n *node.Node) verdict {
	ds := p.v.Validate(n, "")
	vd := verdict{valid: len(ds) == 0, keys: map[string]bool{}}
	var b strings.Builder
	for _, d := range ds {
		vd.keys[goKey(d)] = true
		fmt.Fprintf(&b, "\n    %s: %s", d.Path, d.Message)
	}
	vd.text = b.String()
	return vd
}

// cueVerdict validates the canonical JSON of an entity against #Entity in a
// fresh context. The canonical rendering of the same tree the Go validator
// sees is used, so that both sides judge the same value: duplicate keys,
// invalid UTF-8 and \/ escapes are settled by the JSON decoder before
// either side looks.
func (p *pair) cueVerdict(canonical []byte) verdict {
	v := cuecontext.New().CompileBytes(canonical)
	if err := v.Err(); err != nil {
		return verdict{keys: map[string]bool{"<compile>": true}, text: "\n    compile: " + err.Error()}
	}
	err := p.def.Unify(v).Validate(cue.Concrete(true))
	vd := verdict{valid: err == nil, keys: map[string]bool{}}
	var b strings.Builder
	for _, e := range errors.Errors(err) {
		vd.keys[cueKey(e.Path())] = true
		fmt.Fprintf(&b, "\n    %s", e)
	}
	vd.text = b.String()
	return vd
}

// A path key names what failed at the granularity both sides share: a
// property or relation by name, or a top-level entity field.
func cueKey(path []string) string {
	if len(path) > 0 && path[0] == "#Entity" {
		path = path[1:]
	}
	el := make([]string, len(path))
	for i, s := range path {
		if u, err := strconv.Unquote(s); err == nil && strings.HasPrefix(s, `"`) {
			s = u
		}
		el[i] = s
	}
	switch {
	case len(el) == 0:
		return "<entity>"
	case len(el) >= 2 && (el[0] == "properties" || el[0] == "relations"):
		return el[0] + "/" + el[1]
	}
	return el[0]
}

func goKey(d catalog.Diagnostic) string {
	var name string
	switch {
	case d.Path == "properties" && strings.HasPrefix(d.Message, "missing required property "):
		if _, err := fmt.Sscanf(d.Message, "missing required property %q", &name); err == nil {
			return "properties/" + name
		}
	case d.Path == "relations" && strings.HasPrefix(d.Message, "missing required relation "):
		if _, err := fmt.Sscanf(d.Message, "missing required relation %q", &name); err == nil {
			return "relations/" + name
		}
	}
	if strings.HasPrefix(d.Path, `"`) {
		if q, err := strconv.QuotedPrefix(d.Path); err == nil {
			name, _ = strconv.Unquote(q)
			return name
		}
	}
	head, rest, _ := strings.Cut(d.Path, ".")
	if i := strings.IndexByte(head, '['); i >= 0 {
		head = head[:i]
	}
	if (head == "properties" || head == "relations") && rest != "" {
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err == nil {
				name, _ = strconv.Unquote(q)
				return head + "/" + name
			}
		}
		if i := strings.IndexAny(rest, ".["); i >= 0 {
			rest = rest[:i]
		}
		return head + "/" + rest
	}
	if head == "" {
		return "<entity>"
	}
	return head
}

func keyList(m map[string]bool) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// subset reports whether every key of a is in b.
func subset(a, b map[string]bool) bool {
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// cueExact reports whether every number in the tree is one CUE represents
// exactly. CUE parses number literals with apd and ignores the parse
// error, so a literal whose exponent exceeds apd's range (|exponent| above
// 100000) silently becomes a wrong value (1e1000000000 evaluates to 1.0,
// 1e99999999999999999999 to NaN). Such entities are outside the domain in
// which CUE can serve as the reference; the Go validator compares them
// exactly.
func cueExact(n *node.Node) bool {
	switch n.Kind {
	case node.Number:
		return numberInAPDRange(n.Text)
	case node.List:
		for _, e := range n.Elems {
			if !cueExact(e) {
				return false
			}
		}
	case node.Struct:
		for _, f := range n.Fields {
			if !cueExact(f.Value) {
				return false
			}
		}
	}
	return true
}

func numberInAPDRange(s string) bool {
	const limit = 100000 - 1000 // leave room for the digits' own length
	if len(s) > 1000 {
		return false
	}
	mant, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	e := int64(0)
	if hasExp {
		var err error
		if e, err = strconv.ParseInt(exp, 10, 64); err != nil || e > limit || e < -limit {
			return false
		}
	}
	_ = mant
	return true
}
