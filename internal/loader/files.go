package loader

import (
	"bufio"
	"bytes"
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

// listFiles walks fsys and returns the catalog files in lexical order,
// honouring .pierignore files at any depth. Bad ignore lines are
// reported, not fatal.
func listFiles(fsys fs.FS) ([]string, catalog.Diagnostics, error) {
	var (
		files    []string
		diags    catalog.Diagnostics
		patterns []gitignore.Pattern
	)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && skipDir(d.Name()) || p == RunsDir {
				return fs.SkipDir
			}
			if p != "." && gitignore.NewMatcher(patterns).Match(strings.Split(p, "/"), true) {
				return fs.SkipDir
			}
			ps, ds := readIgnore(fsys, p)
			patterns = append(patterns, ps...)
			diags = append(diags, ds...)
			return nil
		}
		if syntaxOf(p) == syntaxNone {
			return nil
		}
		if gitignore.NewMatcher(patterns).Match(strings.Split(p, "/"), false) {
			return nil
		}
		files = append(files, p)
		return nil
	})
	sort.Strings(files)
	return files, diags, err
}

// readIgnore parses dir/.pierignore, if any, with dir as the patterns'
// domain, as git does for nested .gitignore files.
func readIgnore(fsys fs.FS, dir string) ([]gitignore.Pattern, catalog.Diagnostics) {
	name := path.Join(dir, IgnoreFile)
	b, err := fs.ReadFile(fsys, name)
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
