package loader

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/node"
)

// evaluated is the outcome of evaluating one CUE file.
type evaluated struct {
	value *node.Node
	// deps lists the files of imported packages the value depends on;
	// the cached result stays valid only while none of them changes.
	deps []string
}

// evaluator evaluates the files that are not plain data, for the workers
// of one load.
type evaluator interface {
	// prepare says that files will need evaluating, so that the
	// evaluator can get ready while the others are read.
	prepare()
	// evaluate returns the value of the file p (whose content is src)
	// or its diagnostics. An error means the evaluation was not done:
	// ctx is done, or the evaluator could not run.
	evaluate(ctx context.Context, fsys fs.FS, module string, p *parsed, src []byte) (*evaluated, catalog.Diagnostics, error)
	close()
}

func (l *Loader) evaluator() evaluator {
	if l.sandbox == nil {
		return inProcess{max: l.maxFile}
	}
	return l.sandbox.pool(l.workers, l.maxFile)
}

// inProcess evaluates in this process. The CUE evaluator cannot be
// interrupted: ctx is not honoured, and nothing bounds the time or the
// memory an evaluation takes.
type inProcess struct{ max int64 }

func (e inProcess) evaluate(_ context.Context, fsys fs.FS, module string, p *parsed, _ []byte) (*evaluated, catalog.Diagnostics, error) {
	v, diags := evaluate(fsys, module, p, e.max)
	return v, diags, nil
}

func (inProcess) prepare() {}
func (inProcess) close()   {}

// evaluate runs CUE on a file that is not plain data. Every file is
// evaluated on its own, in a fresh context: a long-lived context never
// frees what it evaluated, and a file's meaning must not depend on its
// neighbours (see doc.go). Imports are resolved from the catalog's own
// module, with pier's schema package always available.
func evaluate(fsys fs.FS, module string, p *parsed, max int64) (*evaluated, catalog.Diagnostics) {
	ctx := cuecontext.New()
	var v cue.Value
	var deps []string
	if !hasImports(p.file) {
		v = ctx.BuildFile(p.file)
	} else {
		inst, im, diags := instanceOf(fsys, module, p, max)
		if len(diags) > 0 {
			return nil, diags
		}
		deps = im.deps
		v = ctx.BuildInstance(inst)
	}
	if err := v.Validate(cue.Concrete(true)); err != nil {
		return nil, cueDiagnostics(catalog.KindEval, err, &catalog.Pos{File: p.file.Filename})
	}
	c := converter{file: p.file.Filename}
	n := c.value(v)
	if len(c.diags) > 0 {
		return nil, c.diags
	}
	return &evaluated{value: n, deps: deps}, nil
}

// instanceOf resolves the imports of a file that has some, reading and
// parsing the files of the packages it imports (no evaluation): the
// instance CUE evaluates, and the importer that knows those files.
func instanceOf(fsys fs.FS, module string, p *parsed, max int64) (*build.Instance, *importer, catalog.Diagnostics) {
	im := newImporter(fsys, module, max)
	inst := im.bctx.NewInstance(path.Dir(p.file.Filename), nil)
	if err := inst.AddSyntax(p.file); err != nil {
		return nil, nil, cueDiagnostics(catalog.KindEval, err, &catalog.Pos{File: p.file.Filename})
	}
	if err := completeAll(inst, map[*build.Instance]bool{}); err != nil {
		return nil, nil, cueDiagnostics(catalog.KindEval, err, &catalog.Pos{File: p.file.Filename})
	}
	return inst, im, nil
}

// completeAll resolves the imports of inst and, transitively, of the
// packages it imports. CUE's Complete loads only an instance's own
// imports and leaves theirs to evaluation, but the loader must know
// every file a result depends on before evaluating: the cache is keyed
// on them, and a sandbox's child is sent them.
func completeAll(inst *build.Instance, seen map[*build.Instance]bool) error {
	if seen[inst] {
		return nil
	}
	seen[inst] = true
	if err := inst.Complete(); err != nil {
		return err
	}
	for _, imp := range inst.Imports {
		if err := completeAll(imp, seen); err != nil {
			return err
		}
	}
	return nil
}

func hasImports(f *ast.File) bool {
	for range f.ImportSpecs() {
		return true
	}
	return false
}

// converter turns an evaluated CUE value into a node tree.
type converter struct {
	file  string
	diags catalog.Diagnostics
}

func (c *converter) pos(v cue.Value) catalog.Pos {
	p := v.Pos()
	if !p.IsValid() {
		return catalog.Pos{File: c.file}
	}
	return catalog.Pos{File: strings.TrimPrefix(p.Filename(), "/"), Line: p.Line(), Col: p.Column()}
}

func (c *converter) value(v cue.Value) *node.Node {
	if d, ok := v.Default(); ok {
		v = d
	}
	pos := c.pos(v)
	switch v.Kind() {
	case cue.NullKind:
		return &node.Node{Kind: node.Null, Pos: pos}
	case cue.BoolKind:
		b, _ := v.Bool()
		return &node.Node{Kind: node.Bool, Pos: pos, Text: fmt.Sprint(b)}
	case cue.IntKind, cue.FloatKind, cue.NumberKind:
		text, err := v.MarshalJSON()
		if err != nil {
			c.fail(v, pos, err.Error())
			return nil
		}
		return &node.Node{Kind: node.Number, Pos: pos, Text: string(text)}
	case cue.StringKind:
		s, _ := v.String()
		return &node.Node{Kind: node.String, Pos: pos, Text: s}
	case cue.ListKind:
		n := &node.Node{Kind: node.List, Pos: pos}
		it, err := v.List()
		if err != nil {
			c.fail(v, pos, err.Error())
			return nil
		}
		for it.Next() {
			n.Elems = append(n.Elems, c.value(it.Value()))
		}
		return n
	case cue.StructKind:
		n := &node.Node{Kind: node.Struct, Pos: pos}
		it, err := v.Fields()
		if err != nil {
			c.fail(v, pos, err.Error())
			return nil
		}
		for it.Next() {
			fv := it.Value()
			n.Fields = append(n.Fields, node.Field{Name: it.Selector().Unquoted(), Pos: c.pos(fv), Value: c.value(fv)})
		}
		return n
	case cue.BytesKind:
		c.fail(v, pos, "bytes are not allowed in a catalog; use a string")
		return nil
	}
	c.fail(v, pos, fmt.Sprintf("incomplete value %v: give it a concrete value", v.IncompleteKind()))
	return nil
}

func (c *converter) fail(v cue.Value, pos catalog.Pos, msg string) {
	var path []string
	for _, s := range v.Path().Selectors() {
		path = append(path, s.Unquoted())
	}
	c.diags = append(c.diags, catalog.Diagnostic{Pos: pos, Path: catalog.Path(path...), Kind: catalog.KindEval, Message: msg})
}
