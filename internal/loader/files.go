package loader

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"

	"github.com/pierhq/pier/internal/catalog"
)

// IgnoreFile is the name of the per-directory ignore file, in gitignore
// syntax.
const IgnoreFile = ".pierignore"

// skipDir reports directories that never hold catalog files: the CUE
// module directory (imported packages are read on demand), version
// control, CI configuration and other hidden directories.
func skipDir(name string) bool {
	return name == "cue.mod" || name == "node_modules" || strings.HasPrefix(name, ".") && name != "."
}

// RunsDir, at the catalog's root, holds run requests (files asking for
// an action run, by pull request), which are not catalog data.
const RunsDir = "runs"

// ignorer decides which paths of a tree are not catalog files. A full
// listing (Load) and a list of changed paths (Reload) both ask it, so
// that they cannot disagree about a file.
type ignorer struct {
	// patterns are the .pierignore patterns read by the last listing.
	// Reload can trust them: a change to an ignore file means a full Load.
	patterns []gitignore.Pattern
}

// skipPath reports whether p, a slash-separated path relative to the
// catalog's root, is never read as catalog data: it is, or lies under,
// the root's RunsDir, a directory skipDir rejects or a path matched by
// a .pierignore pattern, or it is itself hidden. isDir tells whether p
// is a directory (for patterns such as `drafts/`). It does not look at
// the file's extension.
func (ig *ignorer) skipPath(p string, isDir bool) bool {
	if p == "." || p == "" {
		return false
	}
	if p == RunsDir || strings.HasPrefix(p, RunsDir+"/") {
		return true
	}
	els := strings.Split(p, "/")
	for _, el := range els {
		if skipDir(el) {
			return true
		}
	}
	if len(ig.patterns) == 0 {
		return false
	}
	// As git does, a path under an ignored directory is ignored whatever
	// the patterns say about the path itself.
	m := gitignore.NewMatcher(ig.patterns)
	for i := 1; i < len(els); i++ {
		if m.Match(els[:i], true) {
			return true
		}
	}
	return m.Match(els, isDir)
}

// listFiles walks fsys and returns the catalog files in lexical order,
// the type of those that are not regular files (symbolic links, for
// readSource to check), honouring .pierignore files at any depth, and
// the ignorer that decided (for Reload). Bad ignore lines are reported,
// not fatal.
func listFiles(fsys fs.FS, max int64) ([]string, map[string]fs.FileMode, *ignorer, catalog.Diagnostics, error) {
	var (
		files []string
		types = map[string]fs.FileMode{}
		diags catalog.Diagnostics
		ig    = &ignorer{}
	)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if ig.skipPath(p, true) {
				return fs.SkipDir
			}
			ps, ds := readIgnore(fsys, p, max)
			ig.patterns = append(ig.patterns, ps...)
			diags = append(diags, ds...)
			return nil
		}
		if syntaxOf(p) == syntaxNone || ig.skipPath(p, false) {
			return nil
		}
		files = append(files, p)
		if t := d.Type(); t != 0 {
			types[p] = t
		}
		return nil
	})
	sort.Strings(files)
	return files, types, ig, diags, err
}

// readIgnore parses dir/.pierignore, if any, with dir as the patterns'
// domain, as git does for nested .gitignore files.
func readIgnore(fsys fs.FS, dir string, max int64) ([]gitignore.Pattern, catalog.Diagnostics) {
	name := path.Join(dir, IgnoreFile)
	b, err := readSource(fsys, name, typeUnknown, max, nil)
	if r, ok := errors.AsType[*refusal](err); ok {
		return nil, catalog.Diagnostics{r.diagnostic()}
	}
	if err != nil {
		return nil, nil
	}
	var domain []string
	if dir != "." {
		domain = strings.Split(dir, "/")
	}
	var (
		ps    []gitignore.Pattern
		diags catalog.Diagnostics
	)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimRight(sc.Text(), " \t\r")
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if strings.Contains(t, "**/**") || t == "!" {
			diags = append(diags, catalog.Diagnostic{Pos: catalog.Pos{File: name, Line: line, Col: 1}, Kind: catalog.KindIgnoreFile, Message: "malformed pattern " + t})
			continue
		}
		ps = append(ps, gitignore.ParsePattern(t, domain))
	}
	return ps, diags
}
