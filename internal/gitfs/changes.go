package gitfs

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Op is what a revision did to a file.
type Op string

const (
	Added    Op = "added"
	Modified Op = "modified"
	Deleted  Op = "deleted"
)

// Change is one file that differs between two revisions.
type Change struct {
	Path string // slash-separated, relative to the compared sub-directory
	Op   Op
}

// ChangedFiles lists the files under subdir ("" or "." for all) that
// differ between two revisions, in fs.WalkDir order.
//
// It compares trees, not contents: a directory whose tree hash is the same
// on both sides is skipped whole, so a one-file change in a large catalog
// reads only the trees on the path to that file. A file is modified when
// its blob hash or mode changed. A path that turns from a file into a
// directory, or back, is reported as the deletion of the old files and
// the addition of the new ones.
//
// Changes are reported where git records them. Symbolic links are
// compared as links: when a linked-to file changes, only the target's
// path is listed, not the link's, and submodules are ignored. The
// sub-directory may be missing on one side (it was created or removed);
// missing on both is an fs.ErrNotExist error.
func (r *Repo) ChangedFiles(fromRev, toRev, subdir string) ([]Change, error) {
	sub, err := cleanSubdir(subdir)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	from, err := r.subtree(fromRev, sub)
	if err != nil {
		return nil, err
	}
	to, err := r.subtree(toRev, sub)
	if err != nil {
		return nil, err
	}
	if from.IsZero() && to.IsZero() {
		return nil, fmt.Errorf("compare %s..%s: %w", fromRev, toRev, &fs.PathError{Op: "open", Path: sub, Err: fs.ErrNotExist})
	}
	var changes []Change
	if err := r.diffTrees(&changes, "", from, to); err != nil {
		return nil, fmt.Errorf("compare %s..%s: %w", fromRev, toRev, err)
	}
	return changes, nil
}

// subtree returns the hash of the tree at sub in the commit rev names, or
// the zero hash when there is no directory there. Links are not followed:
// git records changes under the real path. The caller holds r.mu.
func (r *Repo) subtree(rev, sub string) (plumbing.Hash, error) {
	h, err := r.resolve(rev)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	c, err := r.commit(h)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("revision %q: %w", rev, err)
	}
	t := c.TreeHash
	if sub == "." {
		return t, nil
	}
	for _, name := range strings.Split(sub, "/") {
		es, err := r.entries(t)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("revision %q: %w", rev, err)
		}
		e, ok := findEntry(es, name)
		if !ok || e.Mode != filemode.Dir {
			return plumbing.ZeroHash, nil
		}
		t = e.Hash
	}
	return t, nil
}

// diffTrees appends the changes between trees from and to, found at
// prefix, to out. A zero hash is an empty tree. Both entry lists are
// sorted by name and merged, recursing only into directories whose hashes
// differ. The caller holds r.mu.
func (r *Repo) diffTrees(out *[]Change, prefix string, from, to plumbing.Hash) error {
	if from == to {
		return nil
	}
	fes, err := r.treeEntries(from)
	if err != nil {
		return err
	}
	tes, err := r.treeEntries(to)
	if err != nil {
		return err
	}
	for len(fes) > 0 || len(tes) > 0 {
		var f, t *object.TreeEntry
		switch {
		case len(tes) == 0 || len(fes) > 0 && fes[0].Name < tes[0].Name:
			f, fes = &fes[0], fes[1:]
		case len(fes) == 0 || tes[0].Name < fes[0].Name:
			t, tes = &tes[0], tes[1:]
		default:
			f, t, fes, tes = &fes[0], &tes[0], fes[1:], tes[1:]
		}
		if err := r.diffEntry(out, prefix, f, t); err != nil {
			return err
		}
	}
	return nil
}

// diffEntry compares one name in the two trees; f or t is nil where the
// name is absent.
func (r *Repo) diffEntry(out *[]Change, prefix string, f, t *object.TreeEntry) error {
	var name string
	if f != nil {
		name = f.Name
	} else {
		name = t.Name
	}
	p := path.Join(prefix, name)
	fk, tk := kindOf(f), kindOf(t)
	switch {
	case f != nil && t != nil && f.Hash == t.Hash && f.Mode == t.Mode:
		return nil
	case fk == kindDir && tk == kindDir:
		return r.diffTrees(out, p, f.Hash, t.Hash)
	case fk == kindFile && tk == kindFile:
		*out = append(*out, Change{Path: p, Op: Modified})
		return nil
	}
	// The name appeared, disappeared, or changed between file and
	// directory: everything on the old side goes, everything on the new
	// side comes.
	switch fk {
	case kindFile:
		*out = append(*out, Change{Path: p, Op: Deleted})
	case kindDir:
		if err := r.diffTrees(out, p, f.Hash, plumbing.ZeroHash); err != nil {
			return err
		}
	}
	switch tk {
	case kindFile:
		*out = append(*out, Change{Path: p, Op: Added})
	case kindDir:
		if err := r.diffTrees(out, p, plumbing.ZeroHash, t.Hash); err != nil {
			return err
		}
	}
	return nil
}

// treeEntries is entries with the zero hash meaning the empty tree.
func (r *Repo) treeEntries(h plumbing.Hash) ([]object.TreeEntry, error) {
	if h.IsZero() {
		return nil, nil
	}
	return r.entries(h)
}

type entryKind int

const (
	kindNone entryKind = iota // absent, or a submodule
	kindFile                  // regular, executable or symbolic link
	kindDir
)

func kindOf(e *object.TreeEntry) entryKind {
	switch {
	case e == nil:
		return kindNone
	case e.Mode == filemode.Dir:
		return kindDir
	case e.Mode.IsFile():
		return kindFile
	}
	return kindNone
}
