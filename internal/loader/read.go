package loader

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/pierhq/pier/internal/catalog"
)

// Every file the loader reads goes through readSource, which refuses
// what is not a catalog file's content before reading any of it:
//
//   - a symbolic link that leaves the catalog's root (absolute, or
//     climbing above the root), that leads to no file, or that loops. A
//     link inside the root is followed. Sources hand the loader file
//     systems that refuse to leave their root anyway (os.Root, a git
//     tree), so a link changed between this check and the read fails
//     instead of being followed; the check is what names the link.
//   - anything but a regular file: reading a named pipe would block, a
//     device would never end.
//   - a file larger than the size limit, and the file that takes the
//     revision past its limit: the size comes from the file's metadata
//     (the git object header, fstat), and the read itself stops at the
//     limit in case the file grew meanwhile.
//
// A refusal is the file's diagnostic, not a failed load: the revision
// is invalid and says why, and the last good state keeps serving.

// typeUnknown, as a file's type, has readSource look the type up.
const typeUnknown = fs.ModeType

// maxLinks bounds the symbolic links one path may go through, as Linux
// does, so that a cycle fails instead of looping.
const maxLinks = 40

// refusal is a file the loader will not read, and why.
type refusal struct {
	path string
	kind string
	msg  string
}

func (r *refusal) Error() string { return r.path + ": " + r.msg }

func (r *refusal) diagnostic() catalog.Diagnostic {
	return catalog.Diagnostic{Pos: catalog.Pos{File: r.path}, Kind: r.kind, Message: r.msg}
}

// errRevisionTooLarge stops a load whose files add up to more than the
// revision's limit.
var errRevisionTooLarge = errors.New("revision too large")

// budget is what is left of a revision's size limit while its files are
// read, shared by the workers.
type budget struct{ left atomic.Int64 }

// take reserves n bytes, reporting whether they were left.
func (b *budget) take(n int64) bool { return b == nil || b.left.Add(-n) >= 0 }

// readSource reads the file p, of type typ as listed (typeUnknown to
// look it up), refusing it as described above. b, when not nil, is the
// revision's budget the file's size is taken from.
func readSource(fsys fs.FS, p string, typ fs.FileMode, max int64, b *budget) ([]byte, error) {
	if typ == typeUnknown {
		fi, err := fs.Lstat(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		typ = fi.Mode().Type()
	}
	if typ&fs.ModeSymlink != 0 {
		fi, err := resolveLink(fsys, p)
		if err != nil {
			return nil, err
		}
		typ = fi.Mode().Type()
	}
	if !typ.IsRegular() {
		return nil, notRegular(p, typ)
	}
	f, err := fsys.Open(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(p, fi.Mode().Type())
	}
	size := fi.Size()
	if size > max {
		return nil, tooLargeFile(p, size, max)
	}
	if !b.take(size) {
		return nil, errRevisionTooLarge
	}
	src, err := readAtMost(f, size, min(max, math.MaxInt64-1)+1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if n := int64(len(src)); n > max {
		return nil, tooLargeFile(p, n, max)
	} else if n > size && !b.take(n-size) {
		return nil, errRevisionTooLarge
	}
	return src, nil
}

// readAtMost reads r to its end, or to limit bytes, into a buffer sized
// for the size r is expected to have (plus the byte that tells a file
// that grew meanwhile), as os.ReadFile does.
func readAtMost(r io.Reader, size, limit int64) ([]byte, error) {
	r = io.LimitReader(r, limit)
	buf := make([]byte, 0, min(size, limit)+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// resolveLink follows the symbolic link p, and every link its target
// goes through, inside fsys, and describes the file it leads to. It
// resolves one element at a time from the root, as the kernel does, so
// that "a/../b" means what it means once a is followed, and refuses a
// link that leaves the root without looking outside.
func resolveLink(fsys fs.FS, p string) (fs.FileInfo, error) {
	target, err := fs.ReadLink(fsys, p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	refuse := func(why string) error {
		return &refusal{path: p, kind: catalog.KindFile, msg: fmt.Sprintf("symbolic link to %q %s", catalog.Excerpt(target), why)}
	}
	outside := refuse("leads outside the catalog: pier reads only files inside the catalog's root; copy the file in, or link to a file inside with a relative path")
	var (
		done []string
		todo = strings.Split(p, "/")
		hops = 0
	)
	for len(todo) > 0 {
		el := todo[0]
		todo = todo[1:]
		switch el {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 {
				return nil, outside
			}
			done = done[:len(done)-1]
			continue
		}
		cur := path.Join(path.Join(done...), el)
		fi, err := fs.Lstat(fsys, cur)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, refuse("leads to no file")
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, el)
			continue
		}
		if hops++; hops > maxLinks {
			return nil, refuse(fmt.Sprintf("goes through more than %d links (a cycle?)", maxLinks))
		}
		t, err := fs.ReadLink(fsys, cur)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		if t == "" || path.IsAbs(t) || filepath.IsAbs(t) {
			return nil, outside
		}
		todo = append(strings.Split(t, "/"), todo...)
	}
	fi, err := fs.Lstat(fsys, path.Join(append([]string{"."}, done...)...))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return fi, nil
}

func notRegular(p string, typ fs.FileMode) error {
	what := "not a regular file"
	switch {
	case typ.IsDir():
		what = "a directory"
	case typ&fs.ModeNamedPipe != 0:
		what = "a named pipe"
	case typ&fs.ModeSocket != 0:
		what = "a socket"
	case typ&fs.ModeDevice != 0:
		what = "a device"
	}
	return &refusal{path: p, kind: catalog.KindFile, msg: what + ", not a file: pier reads only regular files; remove it or rename it so that it does not end in .cue, .json, .yaml or .yml"}
}

func tooLargeFile(p string, size, max int64) error {
	return &refusal{path: p, kind: catalog.KindLimit, msg: fmt.Sprintf(
		"file is %s, more than the %s a catalog file may hold (option max-file-size): split it into smaller files",
		formatSize(size), formatSize(max))}
}

// tooLarge is the result of a revision whose files add up to more than
// its limit: one diagnostic, at the largest file, naming the largest
// ones. Sizes come from the files' metadata; none is read.
func (l *Loader) tooLarge(fsys fs.FS, work []workItem, gone []fileChange) *Result {
	sizes := map[string]int64{}
	for p, e := range l.files {
		sizes[p] = e.size
	}
	for _, c := range gone {
		delete(sizes, c.path)
	}
	for _, w := range work {
		sizes[w.path] = 0
		if fi, err := fs.Stat(fsys, w.path); err == nil && fi.Mode().IsRegular() && fi.Size() <= l.maxFile {
			sizes[w.path] = fi.Size()
		}
	}
	var total int64
	names := make([]string, 0, len(sizes))
	for p, n := range sizes {
		total += n
		names = append(names, p)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(sizes[b], sizes[a]), strings.Compare(a, b))
	})
	var largest []string
	for _, p := range names[:min(3, len(names))] {
		largest = append(largest, fmt.Sprintf("%s (%s)", p, formatSize(sizes[p])))
	}
	d := catalog.Diagnostic{Kind: catalog.KindLimit, Message: fmt.Sprintf(
		"the catalog's %d files add up to %s, more than the %s a revision may hold (option max-revision-size); none was loaded. The largest: %s",
		len(sizes), formatSize(total), formatSize(l.maxRev), strings.Join(largest, ", "))}
	if len(names) > 0 {
		d.Pos = catalog.Pos{File: names[0]}
	}
	return &Result{
		Catalog:     catalog.New(),
		Objects:     map[catalog.Key]catalog.Object{},
		Diagnostics: append(slices.Clone(l.listDiags), d),
		Files:       len(sizes),
	}
}

// formatSize renders a byte count as the options are written: 10 MB is
// 10 × 2^20 bytes.
func formatSize(n int64) string {
	const kb, mb = 1 << 10, 1 << 20
	switch {
	case n >= mb:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/mb)) + " MB"
	case n >= kb:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/kb)) + " KB"
	}
	return fmt.Sprintf("%d bytes", n)
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }
