package gitfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// maxSymlinks bounds how many links one lookup follows, as Linux does, so
// that a link cycle fails instead of looping.
const maxSymlinks = 40

var (
	errNotDir       = errors.New("not a directory")
	errIsDir        = errors.New("is a directory")
	errSubmodule    = errors.New("is a submodule")
	errTooManyLinks = errors.New("too many levels of symbolic links")
)

// TreeFS is a read-only file system over one git tree. It implements
// fs.FS, fs.ReadDirFS, fs.ReadFileFS, fs.StatFS and fs.ReadLinkFS, and is
// safe for concurrent use.
//
// It mirrors what a checkout of the tree would show through os.DirFS, so
// loading a revision and loading a work tree give the same catalog:
//
//   - Symbolic links are followed by Open, ReadFile, ReadDir, Stat and
//     Hash, and reported as links by ReadDir entries, Lstat and ReadLink.
//     A link is resolved lexically inside the tree; one that is absolute
//     or climbs out of the root does not exist here.
//   - Submodules appear as empty directories, as in a checkout that has
//     not initialised them.
//   - Files are mode 0444 (0555 if executable) and directories 0555; every
//     entry's modification time is the commit's committer time, the only
//     time git records.
//
// Directories are decoded once and cached; file contents are read from the
// object store only when a file is read.
type TreeFS struct {
	r       *Repo
	commit  plumbing.Hash
	root    plumbing.Hash
	modTime time.Time
	// dirs caches decoded trees by hash, guarded by r.mu. Identical
	// sub-trees share one entry.
	dirs map[plumbing.Hash][]object.TreeEntry
}

var (
	_ fs.FS         = (*TreeFS)(nil)
	_ fs.ReadDirFS  = (*TreeFS)(nil)
	_ fs.ReadFileFS = (*TreeFS)(nil)
	_ fs.StatFS     = (*TreeFS)(nil)
	_ fs.ReadLinkFS = (*TreeFS)(nil)
)

func newTreeFS(r *Repo, commit, root plumbing.Hash, modTime time.Time) *TreeFS {
	return &TreeFS{r: r, commit: commit, root: root, modTime: modTime, dirs: map[plumbing.Hash][]object.TreeEntry{}}
}

// Revision returns the hash of the commit the file system shows.
func (f *TreeFS) Revision() string { return f.commit.String() }

// Hash returns the git blob hash of the named file, following symbolic
// links. Equal hashes mean equal contents, so callers can key a content
// cache on it without reading the blob.
func (f *TreeFS) Hash(name string) (string, error) {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	e, err := f.lookup("hash", name, true)
	if err != nil {
		return "", err
	}
	if isDir(e.Mode) {
		return "", &fs.PathError{Op: "hash", Path: name, Err: errIsDir}
	}
	return e.Hash.String(), nil
}

// Open opens the named file or directory.
func (f *TreeFS) Open(name string) (fs.File, error) {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	e, err := f.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	if isDir(e.Mode) {
		des, err := f.dirEntries("open", name, e)
		if err != nil {
			return nil, err
		}
		return &dir{info: f.info(name, e, 0), entries: des}, nil
	}
	return &file{fsys: f, name: name, entry: e}, nil
}

// ReadFile reads the named file.
func (f *TreeFS) ReadFile(name string) ([]byte, error) {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	e, err := f.lookup("readfile", name, true)
	if err != nil {
		return nil, err
	}
	if isDir(e.Mode) {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errIsDir}
	}
	b, err := f.r.blob(e.Hash)
	if err != nil {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: err}
	}
	return b, nil
}

// ReadDir reads the named directory, sorted by file name.
func (f *TreeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	e, err := f.lookup("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !isDir(e.Mode) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	return f.dirEntries("readdir", name, e)
}

// Stat describes the named file, following symbolic links.
func (f *TreeFS) Stat(name string) (fs.FileInfo, error) {
	return f.stat("stat", name, true)
}

// Lstat describes the named file without following a final symbolic link.
func (f *TreeFS) Lstat(name string) (fs.FileInfo, error) {
	return f.stat("lstat", name, false)
}

func (f *TreeFS) stat(op, name string, follow bool) (fs.FileInfo, error) {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	e, err := f.lookup(op, name, follow)
	if err != nil {
		return nil, err
	}
	size, err := f.size(e)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return f.info(name, e, size), nil
}

// ReadLink returns the target of the named symbolic link as stored.
func (f *TreeFS) ReadLink(name string) (string, error) {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	e, err := f.lookup("readlink", name, false)
	if err != nil {
		return "", err
	}
	if e.Mode != filemode.Symlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	b, err := f.r.blob(e.Hash)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return string(b), nil
}

// lookup finds the entry name refers to. Symbolic links in directory
// position are always followed; a final one only when follow is set.
// The caller holds f.r.mu. Errors are *fs.PathError.
func (f *TreeFS) lookup(op, name string, follow bool) (object.TreeEntry, error) {
	if !fs.ValidPath(name) {
		return object.TreeEntry{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	root := object.TreeEntry{Name: ".", Mode: filemode.Dir, Hash: f.root}
	if name == "." {
		return root, nil
	}
	elems := strings.Split(name, "/")
	cur := root
	var parent []string // path of cur, in elements
	links := 0
	for i := 0; i < len(elems); i++ {
		if cur.Mode != filemode.Dir {
			// A file, or a submodule, whose contents are not here.
			return object.TreeEntry{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		es, err := f.tree(cur.Hash)
		if err != nil {
			return object.TreeEntry{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		e, ok := findEntry(es, elems[i])
		if !ok {
			return object.TreeEntry{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		last := i == len(elems)-1
		if e.Mode != filemode.Symlink || last && !follow {
			cur = e
			parent = append(parent, e.Name)
			continue
		}
		if links++; links > maxSymlinks {
			return object.TreeEntry{}, &fs.PathError{Op: op, Path: name, Err: errTooManyLinks}
		}
		target, err := f.r.blob(e.Hash)
		if err != nil {
			return object.TreeEntry{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		// Resolve the link against its directory and restart from
		// the root with what remains of the path.
		t := string(target)
		rest := path.Join(append([]string{path.Join(parent...), t}, elems[i+1:]...)...)
		if t == "" || path.IsAbs(t) || rest == ".." || strings.HasPrefix(rest, "../") {
			return object.TreeEntry{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if rest == "." {
			return root, nil
		}
		elems, i, cur, parent = strings.Split(rest, "/"), -1, root, parent[:0]
	}
	return cur, nil
}

// tree returns a directory's entries sorted by name, decoding it on first
// use. The caller holds f.r.mu.
func (f *TreeFS) tree(h plumbing.Hash) ([]object.TreeEntry, error) {
	if es, ok := f.dirs[h]; ok {
		return es, nil
	}
	es, err := f.r.entries(h)
	if err != nil {
		return nil, err
	}
	f.dirs[h] = es
	return es, nil
}

// dirEntries lists the directory e. The caller holds f.r.mu.
func (f *TreeFS) dirEntries(op, name string, e object.TreeEntry) ([]fs.DirEntry, error) {
	if e.Mode == filemode.Submodule {
		return []fs.DirEntry{}, nil
	}
	es, err := f.tree(e.Hash)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	out := make([]fs.DirEntry, len(es))
	for i, e := range es {
		out[i] = &dirEntry{fsys: f, entry: e}
	}
	return out, nil
}

// size is the size of a file, or 0 for a directory. The caller holds
// f.r.mu.
func (f *TreeFS) size(e object.TreeEntry) (int64, error) {
	if isDir(e.Mode) {
		return 0, nil
	}
	return f.r.blobSize(e.Hash)
}

// info describes e under the name it was reached by.
func (f *TreeFS) info(name string, e object.TreeEntry, size int64) *fileInfo {
	return &fileInfo{name: path.Base(name), size: size, mode: fileMode(e.Mode), modTime: f.modTime}
}

func isDir(m filemode.FileMode) bool { return m == filemode.Dir || m == filemode.Submodule }

// fileMode maps a git mode to a read-only fs.FileMode.
func fileMode(m filemode.FileMode) fs.FileMode {
	switch m {
	case filemode.Dir, filemode.Submodule:
		return fs.ModeDir | 0o555
	case filemode.Symlink:
		return fs.ModeSymlink | 0o777
	case filemode.Executable:
		return 0o555
	}
	return 0o444
}

// sortEntries orders tree entries by name, the order io/fs promises.
func sortEntries(es []object.TreeEntry) {
	slices.SortFunc(es, func(a, b object.TreeEntry) int { return strings.Compare(a.Name, b.Name) })
}

// findEntry looks name up in entries sorted by sortEntries.
func findEntry(es []object.TreeEntry, name string) (object.TreeEntry, bool) {
	i, ok := slices.BinarySearchFunc(es, name, func(e object.TreeEntry, name string) int { return strings.Compare(e.Name, name) })
	if !ok {
		return object.TreeEntry{}, false
	}
	return es[i], true
}

type fileInfo struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime time.Time
}

func (i *fileInfo) Name() string       { return i.name }
func (i *fileInfo) Size() int64        { return i.size }
func (i *fileInfo) Mode() fs.FileMode  { return i.mode }
func (i *fileInfo) ModTime() time.Time { return i.modTime }
func (i *fileInfo) IsDir() bool        { return i.mode.IsDir() }
func (i *fileInfo) Sys() any           { return nil }

// dirEntry is one entry of a directory listing. Like os.ReadDir, it
// reports a symbolic link as a link.
type dirEntry struct {
	fsys  *TreeFS
	entry object.TreeEntry
}

func (d *dirEntry) Name() string      { return d.entry.Name }
func (d *dirEntry) IsDir() bool       { return isDir(d.entry.Mode) }
func (d *dirEntry) Type() fs.FileMode { return fileMode(d.entry.Mode).Type() }
func (d *dirEntry) String() string    { return fs.FormatDirEntry(d) }

// Info describes the entry itself (not a link's target); the size of a
// file is looked up only now, so listing a directory reads no blobs.
func (d *dirEntry) Info() (fs.FileInfo, error) {
	d.fsys.r.mu.Lock()
	defer d.fsys.r.mu.Unlock()
	size, err := d.fsys.size(d.entry)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: d.entry.Name, Err: err}
	}
	return d.fsys.info(d.entry.Name, d.entry, size), nil
}

// file is an open regular file. Its contents are read from the object
// store on the first read and kept until Close.
type file struct {
	fsys   *TreeFS
	name   string
	entry  object.TreeEntry
	r      *bytes.Reader
	closed bool
}

var (
	_ io.ReaderAt = (*file)(nil)
	_ io.Seeker   = (*file)(nil)
)

func (f *file) Stat() (fs.FileInfo, error) {
	if f.closed {
		return nil, &fs.PathError{Op: "stat", Path: f.name, Err: fs.ErrClosed}
	}
	f.fsys.r.mu.Lock()
	defer f.fsys.r.mu.Unlock()
	size, err := f.fsys.size(f.entry)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: f.name, Err: err}
	}
	return f.fsys.info(f.name, f.entry, size), nil
}

// load reads the contents on first use.
func (f *file) load(op string) error {
	if f.closed {
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrClosed}
	}
	if f.r != nil {
		return nil
	}
	f.fsys.r.mu.Lock()
	b, err := f.fsys.r.blob(f.entry.Hash)
	f.fsys.r.mu.Unlock()
	if err != nil {
		return &fs.PathError{Op: op, Path: f.name, Err: err}
	}
	f.r = bytes.NewReader(b)
	return nil
}

func (f *file) Read(p []byte) (int, error) {
	if err := f.load("read"); err != nil {
		return 0, err
	}
	return f.r.Read(p)
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if err := f.load("read"); err != nil {
		return 0, err
	}
	return f.r.ReadAt(p, off)
}

func (f *file) Seek(offset int64, whence int) (int64, error) {
	if err := f.load("seek"); err != nil {
		return 0, err
	}
	return f.r.Seek(offset, whence)
}

func (f *file) Close() error {
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	f.closed, f.r = true, nil
	return nil
}

// dir is an open directory.
type dir struct {
	info    *fileInfo
	entries []fs.DirEntry
	off     int
	closed  bool
}

func (d *dir) Stat() (fs.FileInfo, error) {
	if d.closed {
		return nil, &fs.PathError{Op: "stat", Path: d.info.name, Err: fs.ErrClosed}
	}
	return d.info, nil
}

func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errIsDir}
}

// ReadDir follows fs.ReadDirFile: with n > 0 it returns at most n entries
// and io.EOF at the end, otherwise all remaining entries.
func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	if d.closed {
		return nil, &fs.PathError{Op: "readdir", Path: d.info.name, Err: fs.ErrClosed}
	}
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return slices.Clone(rest), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return slices.Clone(rest[:n]), nil
}

func (d *dir) Close() error {
	if d.closed {
		return &fs.PathError{Op: "close", Path: d.info.name, Err: fs.ErrClosed}
	}
	d.closed = true
	return nil
}
