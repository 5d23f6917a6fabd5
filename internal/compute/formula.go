package compute

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/pierhq/pier/internal/query"
)

// formula is a parsed expression of the seed's inline formula language:
//
//	expr   = or
//	or     = sum { "||" sum }
//	sum    = term { ("+" | "-") term }
//	term   = unary { ("*" | "/") unary }
//	unary  = [ "-" ] atom
//	atom   = number | identifier | "(" expr ")"
//
// Identifiers name properties of the entity (declared or computed).
// Formulas are evaluated directly rather than translated to jq so that
// their null rules are stated once, here, instead of being encoded into
// generated jq: a missing or null operand makes + - * / yield null, a
// divisor that is zero or null makes / yield null, and a || b is a unless
// a is null, missing or zero, else b.
type formula struct {
	op          byte // 0 for leaves; '+', '-', '*', '/', '|' (for ||), 'n' (negation)
	left, right *formula
	num         float64
	ident       string // leaf: property name; empty for a number
}

// parseFormula parses src. The error gives the byte offset of the fault.
func parseFormula(src string) (*formula, error) {
	p := &formulaParser{src: src}
	p.next()
	f, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok != tokEOF {
		return nil, fmt.Errorf("offset %d: unexpected %q", p.start, p.text)
	}
	return f, nil
}

// idents appends the identifiers f reads to dst.
func (f *formula) idents(dst []string) []string {
	if f == nil {
		return dst
	}
	if f.op == 0 && f.ident != "" {
		return append(dst, f.ident)
	}
	return f.right.idents(f.left.idents(dst))
}

// eval evaluates f; get returns a property's value. A nil result with a
// nil error is null.
func (f *formula) eval(get func(string) any) (*float64, error) {
	switch f.op {
	case 0:
		if f.ident == "" {
			v := f.num
			return &v, nil
		}
		return toFloat(f.ident, get(f.ident))
	case 'n':
		x, err := f.left.eval(get)
		if x == nil || err != nil {
			return nil, err
		}
		v := -*x
		return &v, nil
	case '|':
		x, err := f.left.eval(get)
		if err != nil {
			return nil, err
		}
		if x != nil && *x != 0 {
			return x, nil
		}
		return f.right.eval(get)
	}
	x, err := f.left.eval(get)
	if err != nil {
		return nil, err
	}
	y, err := f.right.eval(get)
	if err != nil || x == nil || y == nil {
		return nil, err
	}
	var v float64
	switch f.op {
	case '+':
		v = *x + *y
	case '-':
		v = *x - *y
	case '*':
		v = *x * *y
	case '/':
		if *y == 0 {
			return nil, nil
		}
		v = *x / *y
	}
	return &v, nil
}

// toFloat reads a property value as a number, as the query language
// reads it (query.Float); null and missing are nil.
func toFloat(name string, v any) (*float64, error) {
	if v == nil {
		return nil, nil
	}
	f, ok := query.Float(v)
	if !ok {
		if n, isNum := v.(json.Number); isNum {
			return nil, fmt.Errorf("property %s: %q is not a number", name, n)
		}
		return nil, fmt.Errorf("property %s is %s, not a number", name, jsonType(v))
	}
	return &f, nil
}

type formulaTok uint8

const (
	tokEOF formulaTok = iota
	tokNum
	tokIdent
	tokOp // + - * / ( ) ||
	tokBad
)

type formulaParser struct {
	src        string
	pos, start int
	tok        formulaTok
	text       string
}

func (p *formulaParser) next() {
	for p.pos < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
	p.start = p.pos
	if p.pos == len(p.src) {
		p.tok, p.text = tokEOF, "end of formula"
		return
	}
	c := p.src[p.pos]
	switch {
	case c == '|' && strings.HasPrefix(p.src[p.pos:], "||"):
		p.pos += 2
		p.tok = tokOp
	case strings.IndexByte("+-*/()", c) >= 0:
		p.pos++
		p.tok = tokOp
	case c >= '0' && c <= '9' || c == '.':
		for p.pos < len(p.src) && (isDigit(p.src[p.pos]) || p.src[p.pos] == '.' ||
			p.src[p.pos] == 'e' || p.src[p.pos] == 'E' ||
			(p.src[p.pos] == '-' || p.src[p.pos] == '+') && (p.src[p.pos-1] == 'e' || p.src[p.pos-1] == 'E')) {
			p.pos++
		}
		p.tok = tokNum
	case isIdentStart(c):
		for p.pos < len(p.src) && (isIdentStart(p.src[p.pos]) || isDigit(p.src[p.pos])) {
			p.pos++
		}
		p.tok = tokIdent
	default:
		p.pos++
		p.tok = tokBad
	}
	p.text = p.src[p.start:p.pos]
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func (p *formulaParser) or() (*formula, error) {
	l, err := p.sum()
	for err == nil && p.tok == tokOp && p.text == "||" {
		p.next()
		var r *formula
		if r, err = p.sum(); err == nil {
			l = &formula{op: '|', left: l, right: r}
		}
	}
	return l, err
}

func (p *formulaParser) sum() (*formula, error) {
	l, err := p.term()
	for err == nil && p.tok == tokOp && (p.text == "+" || p.text == "-") {
		op := p.text[0]
		p.next()
		var r *formula
		if r, err = p.term(); err == nil {
			l = &formula{op: op, left: l, right: r}
		}
	}
	return l, err
}

func (p *formulaParser) term() (*formula, error) {
	l, err := p.unary()
	for err == nil && p.tok == tokOp && (p.text == "*" || p.text == "/") {
		op := p.text[0]
		p.next()
		var r *formula
		if r, err = p.unary(); err == nil {
			l = &formula{op: op, left: l, right: r}
		}
	}
	return l, err
}

func (p *formulaParser) unary() (*formula, error) {
	if p.tok == tokOp && p.text == "-" {
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &formula{op: 'n', left: x}, nil
	}
	return p.atom()
}

func (p *formulaParser) atom() (*formula, error) {
	switch p.tok {
	case tokNum:
		v, err := strconv.ParseFloat(p.text, 64)
		if err != nil {
			return nil, fmt.Errorf("offset %d: bad number %q", p.start, p.text)
		}
		p.next()
		return &formula{num: v}, nil
	case tokIdent:
		f := &formula{ident: p.text}
		p.next()
		return f, nil
	case tokOp:
		if p.text == "(" {
			p.next()
			f, err := p.or()
			if err != nil {
				return nil, err
			}
			if p.tok != tokOp || p.text != ")" {
				return nil, fmt.Errorf("offset %d: expected ) but found %q", p.start, p.text)
			}
			p.next()
			return f, nil
		}
	}
	return nil, fmt.Errorf("offset %d: expected a number, a property or ( but found %q", p.start, p.text)
}
