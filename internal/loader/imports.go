package loader

import (
	stderrors "errors"
	"io/fs"
	"path"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/pierhq/pier/schema"
)

// importer resolves the imports of one catalog file against the catalog's
// own files. It replaces cue/load for two reasons: it reads any fs.FS (a
// git tree as well as a directory) including the legacy cue.mod/pkg
// layout, and it records exactly which files a result depends on, which
// is what the cache needs to stay correct when a shared file changes.
type importer struct {
	fsys   fs.FS
	module string // the catalog's module path, from cue.mod/module.cue
	max    int64  // the size limit of one file
	bctx   *build.Context
	deps   []string
	// srcs holds the content of deps, for an evaluation elsewhere.
	srcs map[string][]byte
}

func newImporter(fsys fs.FS, module string, max int64) *importer {
	im := &importer{fsys: fsys, module: module, max: max, srcs: map[string][]byte{}}
	im.bctx = build.NewContext(build.Loader(im.load))
	return im
}

// load is the build.LoadFunc: it maps an import path to a directory of the
// catalog and parses that package's files. Standard-library imports
// ("strings", "list") return nil and are resolved by CUE itself.
func (im *importer) load(pos token.Pos, importPath string) *build.Instance {
	p, pkgName := splitQualifier(importPath)
	first, _, _ := strings.Cut(p, "/")
	if !strings.Contains(first, ".") {
		return nil // standard library
	}
	if p == schema.ImportPath || strings.HasPrefix(p, schema.ImportPath+"@") {
		return schema.Instance(im.bctx)
	}
	dir := ""
	switch {
	case im.module != "" && (p == im.module || strings.HasPrefix(p, im.module+"/")):
		dir = strings.TrimPrefix(strings.TrimPrefix(p, im.module), "/")
		if dir == "" {
			dir = "."
		}
	default:
		for _, root := range []string{"cue.mod/pkg/", "cue.mod/gen/", "cue.mod/usr/"} {
			if fi, err := fs.Stat(im.fsys, root+p); err == nil && fi.IsDir() {
				dir = root + p
				break
			}
		}
	}
	inst := im.bctx.NewInstance(dir, nil)
	inst.ImportPath = importPath
	if dir == "" {
		inst.Err = errors.Newf(pos, "cannot find package %q: not in module %q, nor in cue.mod/pkg", importPath, im.module)
		return inst
	}
	if pkgName == "" {
		pkgName = path.Base(p)
	}
	entries, err := fs.ReadDir(im.fsys, dir)
	if err != nil {
		inst.Err = errors.Newf(pos, "cannot read package %q: %v", importPath, err)
		return inst
	}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".cue" {
			continue
		}
		name := path.Join(dir, e.Name())
		src, err := readSource(im.fsys, name, e.Type(), im.max, nil)
		if err != nil {
			inst.Err = errors.Append(inst.Err, errors.Newf(pos, "%v", err))
			continue
		}
		f, err := parser.ParseFile(name, src)
		if err != nil {
			inst.Err = errors.Append(inst.Err, errors.Promote(err, "parse"))
			continue
		}
		if f.PackageName() != pkgName && !(f.PackageName() == "" && pkgName == "_") {
			continue
		}
		im.deps = append(im.deps, name)
		im.srcs[name] = src
		if err := inst.AddSyntax(f); err != nil {
			inst.Err = errors.Append(inst.Err, err)
		}
	}
	if len(inst.Files) == 0 && inst.Err == nil {
		inst.Err = errors.Newf(pos, "package %q: no CUE files of package %s in %s", importPath, pkgName, dir)
	}
	return inst
}

// splitQualifier splits "example.com/x/y:pkg" into path and package.
func splitQualifier(p string) (string, string) {
	if i := strings.LastIndex(p, ":"); i > strings.LastIndex(p, "/") {
		return p[:i], p[i+1:]
	}
	return p, ""
}

// moduleOf reads the module path from cue.mod/module.cue, without the
// major version suffix; "" when there is no module file.
func moduleOf(fsys fs.FS, max int64) (string, error) {
	src, err := readSource(fsys, "cue.mod/module.cue", typeUnknown, max, nil)
	if err != nil {
		if errorsIsNotExist(err) {
			return "", nil
		}
		return "", err
	}
	f, err := parser.ParseFile("cue.mod/module.cue", src)
	if err != nil {
		return "", err
	}
	for _, d := range f.Decls {
		fld, ok := d.(*ast.Field)
		if !ok {
			continue
		}
		if id, ok := fld.Label.(*ast.Ident); ok && id.Name == "module" {
			if lit, ok := fld.Value.(*ast.BasicLit); ok {
				m := strings.Trim(lit.Value, `"`)
				m, _, _ = strings.Cut(m, "@")
				return m, nil
			}
		}
	}
	return "", nil
}

func errorsIsNotExist(err error) bool { return stderrors.Is(err, fs.ErrNotExist) }
