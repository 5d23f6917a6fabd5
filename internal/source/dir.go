package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Dir serves a catalog from a directory on disk, for local development:
// pier serve --repo ./catalog-example. The directory may be a git work
// tree or not; Dir looks only at the files.
//
// Unlike a commit, a directory has no name for its state, so a
// snapshot's ID is derived from the stat data (path, size, modification
// time, mode) of the catalog's files: cheap, with no file read, and
// different whenever an editor saves. Two saves within the file system's
// timestamp resolution that keep a file's size are not told apart.
type Dir struct {
	root string // the catalog root: the directory joined with the sub-directory

	// Logger, if set before Watch, receives watcher errors; nil
	// discards them.
	Logger *slog.Logger

	mu   sync.Mutex
	prev map[string]stamp // the files of the last snapshot
}

// stamp is what a snapshot records of one file.
type stamp struct {
	size    int64
	modTime time.Time
	mode    fs.FileMode
}

// NewDir returns a source for the catalog in subdir ("" for the whole
// directory) of the directory root.
func NewDir(root, subdir string) (*Dir, error) {
	sub, err := cleanPath(subdir)
	if err != nil {
		return nil, fmt.Errorf("catalog directory %s: %w", root, err)
	}
	abs, err := filepath.Abs(filepath.Join(root, filepath.FromSlash(sub)))
	if err != nil {
		return nil, fmt.Errorf("catalog directory %s: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("catalog directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("catalog directory %s: not a directory", abs)
	}
	return &Dir{root: abs}, nil
}

// Snapshot describes the directory as it is now. FS reads the live
// directory, so it shows later edits too; ID and Changed describe the
// moment of the snapshot. FS is an os.Root's: a symbolic link that leaves
// the directory is not followed, whatever it became after the loader
// checked it (which is what names such a link in an error). Its
// descriptor is closed when the FS is no longer used (os.Root's cleanup). Changed is nil on the first call
// and afterwards lists the files whose stat data differ from the previous
// snapshot's, which stays exact even when a watcher lost events.
//
// Files in hidden directories (.git, .idea) and node_modules, and editor
// swap and backup files, are left out of ID and Changed: saving them
// changes no catalog. Hidden files such as .pierignore, and cue.mod, count.
func (d *Dir) Snapshot(ctx context.Context) (Revision, error) {
	if err := ctx.Err(); err != nil {
		return Revision{}, err
	}
	files, newest, err := d.scan(ctx)
	if err != nil {
		return Revision{}, err
	}
	root, err := os.OpenRoot(d.root)
	if err != nil {
		return Revision{}, fmt.Errorf("catalog directory: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	rev := Revision{ID: snapshotID(files), FS: root.FS(), Time: newest}
	if d.prev != nil {
		rev.Changed = diffStamps(d.prev, files)
	}
	d.prev = files
	return rev, nil
}

// scan stats every catalog file under the root.
func (d *Dir) scan(ctx context.Context) (map[string]stamp, time.Time, error) {
	files := map[string]stamp{}
	var newest time.Time
	n := 0
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p != d.root {
				return nil // removed while we walked
			}
			return err
		}
		if n++; n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if e.IsDir() {
			if p != d.root && skipDir(e.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if ignoredFile(e.Name()) {
			return nil
		}
		var fi fs.FileInfo
		if e.Type()&fs.ModeSymlink != 0 {
			fi, err = os.Stat(p) // a link's target is what is read
		} else {
			fi, err = e.Info()
		}
		if err != nil {
			return nil // removed meanwhile, or a dangling link
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = stamp{size: fi.Size(), modTime: fi.ModTime(), mode: fi.Mode()}
		if fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("scan catalog directory %s: %w", d.root, err)
	}
	return files, newest, nil
}

// snapshotID hashes the sorted stat data into a short id.
func snapshotID(files map[string]stamp) string {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	h := sha256.New()
	var b []byte
	for _, name := range names {
		s := files[name]
		b = append(b[:0], name...)
		b = append(b, 0)
		b = strconv.AppendInt(b, s.size, 10)
		b = append(b, 0)
		b = strconv.AppendInt(b, s.modTime.UnixNano(), 10)
		b = append(b, 0)
		b = strconv.AppendUint(b, uint64(s.mode), 8)
		b = append(b, '\n')
		h.Write(b)
	}
	return "dir:" + hex.EncodeToString(h.Sum(nil)[:8])
}

// diffStamps lists, sorted, the files added, removed or changed between
// two scans. It is never nil.
func diffStamps(old, cur map[string]stamp) []string {
	out := []string{}
	for name, s := range cur {
		if o, ok := old[name]; !ok || !o.modTime.Equal(s.modTime) || o.size != s.size || o.mode != s.mode {
			out = append(out, name)
		}
	}
	for name := range old {
		if _, ok := cur[name]; !ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// skipDir reports directories that hold no catalog files and are not
// watched: hidden ones (version control, editor and tool state) and
// node_modules, which can hold more directories than inotify allows
// watches. cue.mod is not hidden and is kept: its changes matter.
func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || name == "node_modules"
}

// ignoredFile reports files that cannot change the catalog: anything but
// catalog files (.cue, .json, .yaml, .yml) and .pierignore — so that a
// database or log written inside the watched tree does not trigger
// reconcile after reconcile — and editors' swap, backup and probe files,
// which come and go while someone types.
func ignoredFile(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".cue", ".json", ".yaml", ".yml":
	default:
		if name != ".pierignore" {
			return true
		}
	}
	switch {
	case strings.HasSuffix(name, "~"): // emacs and vim backups
	case strings.HasPrefix(name, ".#"): // emacs locks
	case strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#"): // emacs auto-saves
	case strings.HasPrefix(name, ".") && (strings.HasSuffix(name, ".swp") || strings.HasSuffix(name, ".swx") || strings.HasSuffix(name, ".swo")): // vim swap
	case name == "4913": // vim's probe for a writable directory
	case name == ".DS_Store":
	default:
		return false
	}
	return true
}
