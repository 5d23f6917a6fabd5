package loader

import (
	"bytes"
	stderrors "errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
	cuejson "cuelang.org/go/encoding/json"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/node"
	"github.com/pierhq/pier/internal/yamlcue"
)

// syntax is the syntax of a catalog file, chosen by its extension.
type syntax int

const (
	syntaxNone syntax = iota
	syntaxCUE
	syntaxJSON
	syntaxYAML
)

func syntaxOf(name string) syntax {
	switch strings.ToLower(path.Ext(name)) {
	case ".cue":
		return syntaxCUE
	case ".json":
		return syntaxJSON
	case ".yaml", ".yml":
		return syntaxYAML
	}
	return syntaxNone
}

// parsed is a file after parsing: either its value is already known (the
// file is plain data and needed no evaluation) or it must be evaluated.
type parsed struct {
	file  *ast.File
	value *node.Node // set when the file is plain data
}

// parse parses one file. JSON and YAML go through CUE's own decoders so
// that every syntax yields the same AST with positions, and the single
// plain-data walk below serves all three.
func parse(name string, src []byte) (*parsed, catalog.Diagnostics) {
	var f *ast.File
	switch syntaxOf(name) {
	case syntaxCUE:
		var err error
		f, err = parser.ParseFile(name, src)
		if err != nil {
			return nil, inFile(src, cueDiagnostics(catalog.KindParse, err, nil))
		}
	case syntaxJSON:
		expr, err := cuejson.Extract(name, src)
		if err != nil {
			return nil, inFile(src, cueDiagnostics(catalog.KindParse, err, &catalog.Pos{File: name}))
		}
		f = &ast.File{Filename: name, Decls: []ast.Decl{&ast.EmbedDecl{Expr: expr}}}
	case syntaxYAML:
		var err error
		f, err = yamlcue.Extract(name, src)
		if err != nil {
			return nil, inFile(yamlcue.NormalizeCR(src), cueDiagnostics(catalog.KindParse, err, &catalog.Pos{File: name}))
		}
	default:
		return nil, catalog.Diagnostics{{Pos: catalog.Pos{File: name}, Kind: catalog.KindParse, Message: "not a catalog file (want .cue, .json, .yaml or .yml)"}}
	}
	p := &parsed{file: f}
	v, ok, diags := plainFile(name, f)
	if len(diags) > 0 {
		return nil, diags
	}
	if ok {
		p.value = v
	}
	return p, nil
}

// inFile brings positions past the end of their line back to its end.
// The CUE scanner reports the end of a file that ends with a newline one
// column past that newline ("! \n" failed at 1:4 of a 2-byte line); the
// end of the line is where the author looks for what is missing.
func inFile(src []byte, diags catalog.Diagnostics) catalog.Diagnostics {
	lines := bytes.Split(src, []byte("\n"))
	fix := func(p *catalog.Pos) {
		if p.Line >= 1 && p.Line <= len(lines) && p.Col > len(lines[p.Line-1])+1 {
			p.Col = len(lines[p.Line-1]) + 1
		}
	}
	for i := range diags {
		fix(&diags[i].Pos)
		for j := range diags[i].Related {
			fix(&diags[i].Related[j])
		}
	}
	return diags
}

// plainFile converts a file that is pure data — literals, structs and
// lists, no references, imports, definitions, constraints or expressions —
// straight into a node tree. Such a file means the same to CUE as to this
// walk: unifying concrete data only merges structs and rejects differing
// scalars, which the walk does too. Anything else reports ok == false and
// is evaluated by CUE.
func plainFile(name string, f *ast.File) (n *node.Node, ok bool, diags catalog.Diagnostics) {
	w := plainWalker{file: name, jsonLabels: syntaxOf(name) == syntaxJSON}
	root := &node.Node{Kind: node.Struct, Pos: catalog.Pos{File: name, Line: 1, Col: 1}}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.Package, *ast.CommentGroup, *ast.Attribute:
		case *ast.EmbedDecl:
			// A JSON or YAML document is one embedded struct.
			v, ok := w.expr(d.Expr)
			if !ok {
				return nil, false, nil
			}
			if v.Kind != node.Struct {
				return nil, true, catalog.Diagnostics{{Pos: v.Pos, Kind: catalog.KindShape, Message: fmt.Sprintf("a catalog file must be an object with top-level keys; got %s", v.Describe())}}
			}
			for _, f := range v.Fields {
				w.merge(root, f)
			}
		case *ast.Field:
			f, ok := w.field(d)
			if !ok {
				return nil, false, nil
			}
			w.merge(root, f)
		default:
			return nil, false, nil
		}
	}
	return root, true, w.diags
}

type plainWalker struct {
	file string
	// jsonLabels is set for JSON files, whose quoted keys CUE's decoder
	// turns into identifiers positioned one column past the quote.
	jsonLabels bool
	diags      catalog.Diagnostics
}

func (w *plainWalker) pos(p token.Pos) catalog.Pos {
	if !p.IsValid() {
		return catalog.Pos{File: w.file}
	}
	return catalog.Pos{File: w.file, Line: p.Line(), Col: p.Column()}
}

func (w *plainWalker) field(f *ast.Field) (node.Field, bool) {
	if f.Constraint != token.ILLEGAL {
		return node.Field{}, false // optional or required marker: a constraint, not data
	}
	var name string
	switch l := f.Label.(type) {
	case *ast.Ident:
		if strings.HasPrefix(l.Name, "#") || strings.HasPrefix(l.Name, "_") {
			return node.Field{}, false
		}
		name = l.Name
	case *ast.BasicLit:
		if l.Kind != token.STRING {
			return node.Field{}, false
		}
		s, err := literal.Unquote(l.Value)
		if err != nil {
			return node.Field{}, false
		}
		name = s
	default:
		return node.Field{}, false
	}
	v, ok := w.expr(f.Value)
	if !ok {
		return node.Field{}, false
	}
	pos := w.pos(f.Label.Pos())
	if _, ident := f.Label.(*ast.Ident); ident && w.jsonLabels && pos.Col > 1 {
		pos.Col--
	}
	return node.Field{Name: name, Pos: pos, Value: v}, true
}

// jsonNumber is the JSON number grammar. CUE accepts more (1_000, 0x1F,
// 1Ki, .5); those literals go to the evaluator rather than being
// reinterpreted here.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

func (w *plainWalker) expr(e ast.Expr) (*node.Node, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		p := w.pos(e.Pos())
		switch e.Kind {
		case token.NULL:
			return &node.Node{Kind: node.Null, Pos: p}, true
		case token.TRUE, token.FALSE:
			return &node.Node{Kind: node.Bool, Pos: p, Text: e.Value}, true
		case token.INT, token.FLOAT:
			if !jsonNumber.MatchString(e.Value) {
				return nil, false
			}
			return &node.Node{Kind: node.Number, Pos: p, Text: e.Value}, true
		case token.STRING:
			if strings.HasPrefix(e.Value, "'") || strings.HasPrefix(e.Value, "#") {
				return nil, false // bytes, or raw strings that may interpolate
			}
			s, err := literal.Unquote(e.Value)
			if err != nil {
				return nil, false
			}
			return &node.Node{Kind: node.String, Pos: p, Text: s}, true
		}
		return nil, false
	case *ast.UnaryExpr:
		lit, ok := e.X.(*ast.BasicLit)
		if e.Op != token.SUB || !ok || (lit.Kind != token.INT && lit.Kind != token.FLOAT) || !jsonNumber.MatchString(lit.Value) {
			return nil, false
		}
		return &node.Node{Kind: node.Number, Pos: w.pos(e.Pos()), Text: "-" + lit.Value}, true
	case *ast.ListLit:
		n := &node.Node{Kind: node.List, Pos: w.pos(e.Pos()), Elems: make([]*node.Node, 0, len(e.Elts))}
		for _, el := range e.Elts {
			v, ok := w.expr(el)
			if !ok {
				return nil, false
			}
			n.Elems = append(n.Elems, v)
		}
		return n, true
	case *ast.StructLit:
		n := &node.Node{Kind: node.Struct, Pos: w.pos(e.Pos()), Fields: make([]node.Field, 0, len(e.Elts))}
		for _, d := range e.Elts {
			switch d := d.(type) {
			case *ast.Field:
				f, ok := w.field(d)
				if !ok {
					return nil, false
				}
				w.merge(n, f)
			case *ast.CommentGroup, *ast.Attribute:
			default:
				return nil, false
			}
		}
		return n, true
	}
	return nil, false
}

// merge adds f to the struct s the way CUE unifies concrete data: a field
// declared twice merges when both are structs, is accepted when both are
// the same scalar, and is a conflict otherwise.
func (w *plainWalker) merge(s *node.Node, f node.Field) {
	for i := range s.Fields {
		if s.Fields[i].Name != f.Name {
			continue
		}
		old := s.Fields[i].Value
		if old.Kind == node.Struct && f.Value.Kind == node.Struct {
			for _, g := range f.Value.Fields {
				w.merge(old, g)
			}
			return
		}
		if !equal(old, f.Value) {
			w.diags = append(w.diags, catalog.Diagnostic{
				Pos:     f.Value.Pos,
				Kind:    catalog.KindEval,
				Message: fmt.Sprintf("conflicting values %s and %s for field %q", old.Describe(), f.Value.Describe(), f.Name),
				Related: []catalog.Pos{old.Pos},
			})
		}
		return
	}
	s.Fields = append(s.Fields, f)
}

func equal(a, b *node.Node) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case node.List:
		if len(a.Elems) != len(b.Elems) {
			return false
		}
		for i := range a.Elems {
			if !equal(a.Elems[i], b.Elems[i]) {
				return false
			}
		}
		return true
	case node.Struct:
		return string(a.JSON()) == string(b.JSON())
	}
	return a.Text == b.Text
}

// cueDiagnostics turns CUE errors into diagnostics, one per error and
// position. fallback is used when CUE gives no position.
func cueDiagnostics(kind string, err error, fallback *catalog.Pos) catalog.Diagnostics {
	var out catalog.Diagnostics
	for _, e := range errors.Errors(err) {
		format, args := e.Msg()
		d := catalog.Diagnostic{Kind: kind, Message: fmt.Sprintf(format, catalog.ExcerptArgs(args)...)}
		if p := e.Path(); len(p) > 0 {
			d.Path = catalog.Path(p...)
		}
		var line int
		d.Message, line = decoderMessage(e, d.Message, fallback)
		positions := errors.Positions(e)
		for i, p := range positions {
			cp := catalog.Pos{File: p.Filename(), Line: p.Line(), Col: p.Column()}
			if i == 0 {
				d.Pos = cp
			} else {
				d.Related = append(d.Related, cp)
			}
		}
		if !d.Pos.IsValid() && fallback != nil {
			d.Pos = *fallback
			d.Pos.Line = line
		}
		out = append(out, d)
	}
	return out
}

// decoderMessage completes what CUE's JSON and YAML decoders say, which
// Msg leaves out: a YAML syntax error's text ("f.yaml:2: mapping values
// are not allowed in this context") is only in its Error, Msg being
// empty, so the diagnostic said nothing and had no line; "invalid JSON"
// wraps encoding/json's reason without saying it. It returns the line a
// YAML error names, or 0.
func decoderMessage(e errors.Error, msg string, fallback *catalog.Pos) (string, int) {
	if strings.TrimSpace(msg) == "" {
		text := e.Error()
		if fallback != nil {
			if rest, ok := strings.CutPrefix(text, fallback.File+":"); ok {
				text = strings.TrimSpace(rest)
				if n, rest, ok := strings.Cut(text, ": "); ok {
					if line, err := strconv.Atoi(n); err == nil && line > 0 {
						return rest, line
					}
				}
			}
		}
		return text, 0
	}
	if cause := stderrors.Unwrap(e); cause != nil {
		if _, isCUE := cause.(errors.Error); !isCUE && !strings.Contains(msg, cause.Error()) {
			msg += ": " + cause.Error()
		}
	}
	return msg, 0
}
