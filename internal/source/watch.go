package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long Watch waits for a burst of changes to end:
// long enough to gather an editor's save (write a temporary file, rename
// it over the original) or a git checkout into one callback, short
// enough to feel immediate.
const DefaultDebounce = 100 * time.Millisecond

// maxDelayFactor bounds how long a steady stream of changes can hold a
// callback back: at most this many debounce periods after the first
// change.
const maxDelayFactor = 10

// Watch calls onChange after files in the catalog change, until ctx is
// cancelled; it then closes the watcher and returns ctx.Err(). An error
// setting up the watch is returned at once.
//
// Changes are gathered until none has come for debounce (DefaultDebounce
// if zero or less) and reported together: the de-duplicated, sorted paths
// of the files created, written, removed or renamed, relative to the
// catalog root. onChange(nil) means the watcher cannot tell what changed,
// and the whole catalog must be rescanned: after the kernel's event queue
// overflowed, a watch error, or the removal or renaming of a directory
// (whose files were not listed one by one). Snapshot's Changed is exact in
// every case, so a caller may take a snapshot on each callback instead of
// using the paths. Permission and timestamp-only changes are not
// reported.
//
// fsnotify watches single directories, so Watch adds every directory,
// including those created later, whose existing files it then reports,
// since they may have been written before the watch was in place. It
// watches directories rather than files because editors save by renaming
// a new file over the old one. The directories Snapshot leaves out (hidden
// ones, node_modules) are not watched; ignored editor files are not
// reported.
//
// onChange runs on Watch's goroutine, one call at a time; while it runs,
// events wait in the kernel's queue.
func (d *Dir) Watch(ctx context.Context, debounce time.Duration, onChange func(changed []string)) error {
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", d.root, err)
	}
	defer fw.Close()
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &watcher{
		fw:      fw,
		root:    d.root,
		log:     log.With("dir", d.root),
		dirs:    map[string]bool{},
		pending: map[string]bool{},
	}
	if err := w.addTree(".", false); err != nil {
		return fmt.Errorf("watch %s: %w", d.root, err)
	}

	timer := time.NewTimer(0)
	if !timer.Stop() {
		<-timer.C
	}
	var first time.Time // of the changes pending, zero if none
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case ev, ok := <-fw.Events:
			if !ok {
				return errors.New("watcher closed")
			}
			w.event(ev)
		case err, ok := <-fw.Errors:
			if !ok {
				return errors.New("watcher closed")
			}
			w.failed(err)
		case <-timer.C:
			changed, all := w.take()
			first = time.Time{}
			if all {
				onChange(nil)
			} else if len(changed) > 0 {
				onChange(changed)
			}
			continue
		}
		if !w.rescan && len(w.pending) == 0 {
			continue
		}
		// Wait for quiet, but not forever.
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		wait := min(debounce, first.Add(maxDelayFactor*debounce).Sub(now))
		timer.Reset(max(wait, 0))
	}
}

// watcher is the state of one Watch call.
type watcher struct {
	fw   *fsnotify.Watcher
	root string
	log  *slog.Logger
	// dirs are the watched directories, relative to root.
	dirs map[string]bool
	// pending are the changed files not yet reported; rescan means
	// report "everything".
	pending map[string]bool
	rescan  bool
}

// event records one file system event.
func (w *watcher) event(ev fsnotify.Event) {
	rel, ok := w.rel(ev.Name)
	if !ok {
		return
	}
	if rel == "." {
		// The root itself went away or was replaced.
		w.rescan = true
		return
	}
	name := path.Base(rel)
	switch {
	case ev.Has(fsnotify.Create):
		fi, err := os.Lstat(ev.Name)
		if err == nil && fi.IsDir() {
			if !skipDir(name) {
				// Files may have landed in it before the watch did.
				if err := w.addTree(rel, true); err != nil {
					w.failed(err)
				}
			}
			return
		}
		w.touch(rel)
	case ev.Has(fsnotify.Remove), ev.Has(fsnotify.Rename):
		if w.forgetTree(rel) {
			// A directory: its files are gone from here, and
			// which they were is not recorded.
			w.rescan = true
			return
		}
		w.touch(rel)
	case ev.Has(fsnotify.Write):
		w.touch(rel)
	}
}

func (w *watcher) touch(rel string) {
	if !ignoredFile(path.Base(rel)) {
		w.pending[rel] = true
	}
}

// failed handles a watcher error. After an overflow events were lost,
// among them perhaps the creation of directories: watch the whole tree
// again (adding a watch twice is harmless) and have everything rescanned.
func (w *watcher) failed(err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		w.log.Warn("file system events were lost; rescanning the catalog")
		if err := w.addTree(".", false); err != nil {
			w.log.Warn("watch", "err", err)
		}
	} else {
		w.log.Warn("watch", "err", err)
	}
	w.rescan = true
}

// addTree watches the directory rel and those below it, recording the
// files it finds as changed when report is set. A directory is watched
// before it is listed, so a file created meanwhile shows up one way or
// the other.
func (w *watcher) addTree(rel string, report bool) error {
	start := filepath.Join(w.root, filepath.FromSlash(rel))
	return filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p != w.root {
				return nil // gone already; its removal will be seen
			}
			return err
		}
		r, ok := w.rel(p)
		if !ok {
			return nil
		}
		if !e.IsDir() {
			if report {
				w.touch(r)
			}
			return nil
		}
		if r != "." && skipDir(e.Name()) {
			return filepath.SkipDir
		}
		if err := w.fw.Add(p); err != nil {
			if os.IsNotExist(err) {
				return filepath.SkipDir
			}
			return fmt.Errorf("watch %s: %w", p, err)
		}
		w.dirs[r] = true
		return nil
	})
}

// forgetTree drops the watches on rel and the directories below it, and
// reports whether rel was a watched directory. The kernel has already
// dropped them for a removed directory; a renamed one would otherwise
// keep reporting under its old name.
func (w *watcher) forgetTree(rel string) bool {
	if !w.dirs[rel] {
		return false
	}
	for dir := range w.dirs {
		if dir == rel || strings.HasPrefix(dir, rel+"/") {
			_ = w.fw.Remove(filepath.Join(w.root, filepath.FromSlash(dir)))
			delete(w.dirs, dir)
		}
	}
	return true
}

// take returns and clears what is pending.
func (w *watcher) take() (changed []string, all bool) {
	all = w.rescan
	if !all {
		changed = make([]string, 0, len(w.pending))
		for p := range w.pending {
			changed = append(changed, p)
		}
		slices.Sort(changed)
	}
	w.pending, w.rescan = map[string]bool{}, false
	return changed, all
}

// rel turns an absolute path under the root into a slash path relative
// to it.
func (w *watcher) rel(p string) (string, bool) {
	r, err := filepath.Rel(w.root, p)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(r), true
}
