// Package jqtmpl renders Port's `{{ jq }}` templates: the strings of an
// action's workflow inputs, webhook body and headers, and of declared
// approval systems, with jq expressions between double braces evaluated
// over the run (`.inputs`, `.entity`, `.trigger`, `.run`, `.secrets`).
//
// Port's rule is kept: a string that is one template and nothing else
// renders as the expression's JSON value (a number stays a number, an
// object an object); a template inside other text renders as text, a
// string as itself and anything else as its JSON. The loader compiles
// every action's templates, so that a broken expression is found by
// reconcile and not by the first person to run the action; a dispatch
// compiles its action's again (microseconds, once per run).
package jqtmpl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/itchyny/gojq"
)

// DefaultTimeout bounds one expression's evaluation: a template is
// rendered on a request path, and `[range(1e9)]` must not hold it.
const DefaultTimeout = time.Second

// Template is a compiled JSON value whose strings may hold templates.
type Template struct {
	root node
}

// node is a compiled JSON value.
type node interface {
	render(ctx context.Context, data any) (any, error)
}

type (
	literal struct{ v any }
	whole   struct{ expr *expr }   // "{{ e }}": the value of e
	text    struct{ parts []part } // "a {{ e }} b": a string
	object  struct {
		keys []string
		vals []node
	}
	array struct{ items []node }
)

// part is a piece of a text template: literal text, or an expression
// when expr is not nil.
type part struct {
	lit  string
	expr *expr
}

type expr struct {
	src  string
	code *gojq.Code
}

// Compile compiles v, a JSON value as encoding/json decodes it (numbers
// may be json.Number), whose strings may hold templates. Object keys are
// not templates.
func Compile(v any) (*Template, error) {
	n, err := compile(v, "")
	if err != nil {
		return nil, err
	}
	return &Template{root: n}, nil
}

// Has reports whether s holds a template, so that callers can leave
// plain strings alone.
func Has(s string) bool { return strings.Contains(s, "{{") }

func compile(v any, path string) (node, error) {
	switch x := v.(type) {
	case string:
		return compileString(x, path)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		o := object{keys: keys, vals: make([]node, len(keys))}
		for i, k := range keys {
			n, err := compile(x[k], path+"."+k)
			if err != nil {
				return nil, err
			}
			o.vals[i] = n
		}
		return o, nil
	case []any:
		a := array{items: make([]node, len(x))}
		for i, el := range x {
			n, err := compile(el, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			a.items[i] = n
		}
		return a, nil
	}
	return literal{v}, nil
}

// maxCloses bounds how many "}}" compileString tries as the end of one
// expression. Trying every one made compiling quadratic: a 50 KB string
// of "}}" after an unclosed "(" took seconds, a megabyte a quarter of an
// hour, on the loader's path. No real expression holds this many "}}".
const maxCloses = 32

// compileString splits s into text and expressions. A template ends at
// the first "}}" after which the expression parses, so that jq's own
// braces (`{{ {a: {b: 1}} }}`) need no escaping. The search stops early
// when the expression cannot parse whatever follows (see viable), and
// after maxCloses tries.
func compileString(s, path string) (node, error) {
	if !Has(s) {
		return literal{s}, nil
	}
	var parts []part
	rest := s
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				parts = append(parts, part{lit: rest})
			}
			break
		}
		if i > 0 {
			parts = append(parts, part{lit: rest[:i]})
		}
		body := rest[i+2:]
		var (
			e       *expr
			lastErr error
			end     = -1
		)
		for off, tries := 0, 0; tries < maxCloses; tries++ {
			j := strings.Index(body[off:], "}}")
			if j < 0 {
				break
			}
			src := strings.TrimSpace(body[:off+j])
			ex, err := compileExpr(src)
			if err == nil {
				e, end = ex, off+j
				break
			}
			lastErr = err
			if !viable(err) {
				break
			}
			off += j + 1
		}
		if e == nil {
			where := ""
			if path != "" {
				where = " at " + strings.TrimPrefix(path, ".")
			}
			if lastErr == nil {
				return nil, fmt.Errorf("template%s: %q has {{ without a closing }}", where, short(s))
			}
			return nil, fmt.Errorf("template%s: %w", where, lastErr)
		}
		parts = append(parts, part{expr: e})
		rest = body[end+2:]
	}
	if len(parts) == 1 && parts[0].expr != nil {
		return whole{parts[0].expr}, nil
	}
	return text{parts}, nil
}

// viable reports whether an expression that failed to compile may still
// parse once the text up to a later "}}" is added to it: when it ended
// too early (EOF, a string not closed yet), or parsed but did not
// compile. jq's parser is LR: a token it refuses makes every longer text
// refuse it too, and the text added starts with "}", which extends no
// token before it.
func viable(err error) bool {
	var pe *gojq.ParseError
	if !errors.As(err, &pe) {
		return true
	}
	switch pe.Error() {
	case "unexpected EOF", "unterminated string literal":
		return true
	}
	return false
}

// exprError is a jq error as the author reads it: the expression (cut
// short if long) and what is wrong with it.
type exprError struct {
	src string
	err error
}

func (e *exprError) Error() string { return fmt.Sprintf("jq %q: %v", short(e.src), e.err) }

func (e *exprError) Unwrap() error { return e.err }

// short cuts an expression quoted in a message to a readable length.
func short(src string) string {
	const max = 80
	if len(src) <= max {
		return src
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(src[cut]) {
		cut--
	}
	return src[:cut] + "..."
}

func compileExpr(src string) (*expr, error) {
	if src == "" {
		return nil, fmt.Errorf("empty expression {{ }}")
	}
	q, err := gojq.Parse(src)
	if err != nil {
		return nil, &exprError{src, err}
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return nil, &exprError{src, err}
	}
	return &expr{src: src, code: code}, nil
}

// Render evaluates the template over data (a JSON value: maps, slices,
// strings, bools, nil, numbers as float64, int or json.Number). Numbers
// in the result are json.Number.
func (t *Template) Render(ctx context.Context, data any) (any, error) {
	if t == nil || t.root == nil {
		return nil, nil
	}
	return t.root.render(ctx, data)
}

// String renders a single string template as text, whatever the value of
// a lone expression: what headers, URLs and workflow inputs need.
func String(ctx context.Context, src string, data any) (string, error) {
	n, err := compileString(src, "")
	if err != nil {
		return "", err
	}
	v, err := n.render(ctx, data)
	if err != nil {
		return "", err
	}
	return Text(v), nil
}

// Text is how a rendered value reads inside a string: a string as
// itself, null as nothing, anything else as its JSON.
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func (l literal) render(context.Context, any) (any, error) { return l.v, nil }

func (w whole) render(ctx context.Context, data any) (any, error) { return w.expr.eval(ctx, data) }

func (t text) render(ctx context.Context, data any) (any, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := p.expr.eval(ctx, data)
		if err != nil {
			return nil, err
		}
		b.WriteString(Text(v))
	}
	return b.String(), nil
}

func (o object) render(ctx context.Context, data any) (any, error) {
	out := make(map[string]any, len(o.keys))
	for i, k := range o.keys {
		v, err := o.vals[i].render(ctx, data)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func (a array) render(ctx context.Context, data any) (any, error) {
	out := make([]any, len(a.items))
	for i, n := range a.items {
		v, err := n.render(ctx, data)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// eval runs the expression and returns its first output; no output is
// null, as in Port.
func (e *expr) eval(ctx context.Context, data any) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	it := e.code.RunWithContext(ctx, data)
	v, ok := it.Next()
	if !ok {
		return nil, nil
	}
	if err, isErr := v.(error); isErr {
		if ctx.Err() != nil {
			return nil, &exprError{e.src, fmt.Errorf("stopped: %w", ctx.Err())}
		}
		return nil, &exprError{e.src, err}
	}
	out, err := Normalize(v)
	if err != nil {
		return nil, &exprError{e.src, err}
	}
	return out, nil
}

// Normalize converts gojq's results to JSON values with json.Number
// numbers, which encode exactly as computed.
func Normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, json.Number:
		return x, nil
	case int:
		return json.Number(strconv.Itoa(x)), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("result %v is not a JSON number", x)
		}
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), nil
	case *big.Int:
		return json.Number(x.String()), nil
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			n, err := Normalize(el)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, el := range x {
			n, err := Normalize(el)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("result of Go type %T is not JSON", v)
}
