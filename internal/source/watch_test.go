package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watching runs Watch on root with debounce until the test ends, and
// returns the channel its callbacks arrive on.
func watching(t *testing.T, root string, debounce time.Duration) <-chan []string {
	t.Helper()
	d, err := NewDir(root, "")
	if err != nil {
		t.Fatal(err)
	}
	d.Logger = testLogger(t)
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan []string, 100)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		// Watch has no "ready" signal; a callback-free setup is
		// done by the time it reads its first event, so make one.
		done <- d.Watch(ctx, debounce, func(changed []string) {
			if changed != nil && slices.Contains(changed, ".ready.json") {
				select {
				case <-ready:
				default:
					close(ready)
					return
				}
			}
			calls <- changed
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch returned %v, want context.Canceled", err)
		}
	})
	// Poke the directory until the watch reports it.
	for i := 0; ; i++ {
		writeFiles(t, root, map[string]string{".ready.json": fmt.Sprint(i)})
		select {
		case <-ready:
			return calls
		case err := <-done:
			t.Fatalf("Watch: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		if i == 25 {
			t.Fatal("the watch never started")
		}
	}
}

// await collects callbacks until one reports want (nil: a rescan), and
// returns all paths reported on the way.
func await(t *testing.T, calls <-chan []string, want string) []string {
	t.Helper()
	var seen []string
	deadline := time.After(5 * time.Second)
	for {
		select {
		case changed := <-calls:
			if changed == nil {
				if want == "" {
					return seen
				}
				t.Fatalf("rescan requested while waiting for %q", want)
			}
			seen = append(seen, changed...)
			if want != "" && slices.Contains(changed, want) {
				return seen
			}
		case <-deadline:
			t.Fatalf("no change to %q reported; saw %q", want, seen)
		}
	}
}

func TestWatch(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"svc/deep/a.cue": "a: 1\n", "b.cue": "b: 1\n", "gone/x.cue": "x: 1\n"})
	calls := watching(t, root, 30*time.Millisecond)

	t.Run("nested write", func(t *testing.T) {
		writeFiles(t, root, map[string]string{"svc/deep/a.cue": "a: 2\n"})
		await(t, calls, "svc/deep/a.cue")
	})
	t.Run("new directory", func(t *testing.T) {
		if err := os.MkdirAll(filepath.Join(root, "new", "deeper"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFiles(t, root, map[string]string{"new/deeper/c.cue": "c: 1\n"})
		await(t, calls, "new/deeper/c.cue")
		// The new directory is watched from now on.
		writeFiles(t, root, map[string]string{"new/deeper/c.cue": "c: 2\n"})
		await(t, calls, "new/deeper/c.cue")
	})
	t.Run("directory moved in", func(t *testing.T) {
		outside := t.TempDir()
		writeFiles(t, outside, map[string]string{"pkg/sub/d.cue": "d: 1\n"})
		if err := os.Rename(filepath.Join(outside, "pkg"), filepath.Join(root, "pkg")); err != nil {
			t.Fatal(err)
		}
		await(t, calls, "pkg/sub/d.cue")
	})
	t.Run("rename-style save", func(t *testing.T) {
		writeFiles(t, root, map[string]string{".b.cue.tmp1234": "b: 2\n"})
		if err := os.Rename(filepath.Join(root, ".b.cue.tmp1234"), filepath.Join(root, "b.cue")); err != nil {
			t.Fatal(err)
		}
		await(t, calls, "b.cue")
	})
	t.Run("ignored", func(t *testing.T) {
		writeFiles(t, root, map[string]string{
			".git/index":     "x",
			".idea/ws.xml":   "x",
			"svc/.a.cue.swp": "x",
		})
		writeFiles(t, root, map[string]string{"marker.cue": "m: 1\n"})
		for _, p := range await(t, calls, "marker.cue") {
			if p != "marker.cue" {
				t.Errorf("reported %q", p)
			}
		}
	})
	t.Run("reported hidden files", func(t *testing.T) {
		writeFiles(t, root, map[string]string{".pierignore": "tmp/\n"})
		await(t, calls, ".pierignore")
		writeFiles(t, root, map[string]string{"cue.mod/module.cue": "module: \"x\"\n"})
		await(t, calls, "cue.mod/module.cue")
	})
	t.Run("directory removed", func(t *testing.T) {
		if err := os.RemoveAll(filepath.Join(root, "gone")); err != nil {
			t.Fatal(err)
		}
		await(t, calls, "")
	})
}

func TestWatchCoalesces(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	calls := watching(t, root, 150*time.Millisecond)
	for i := range 50 {
		writeFiles(t, root, map[string]string{"a.cue": fmt.Sprintf("a: %d\n", i)})
	}
	writeFiles(t, root, map[string]string{"end.cue": "end: 1\n"})
	await(t, calls, "end.cue")
	n := 1
	for {
		select {
		case changed := <-calls:
			n++
			t.Logf("extra callback %q", changed)
			continue
		case <-time.After(300 * time.Millisecond):
		}
		break
	}
	if n > 2 {
		t.Errorf("50 writes gave %d callbacks, want 1 or 2", n)
	}
}

// TestWatchOverflow checks that lost events turn into a rescan; a real
// overflow needs more events than the kernel queues (16384 by default).
func TestWatchOverflow(t *testing.T) {
	t.Parallel()
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	root := t.TempDir()
	w := &watcher{fw: fw, root: root, log: testLogger(t), dirs: map[string]bool{}, pending: map[string]bool{"a.cue": true}}
	w.failed(fmt.Errorf("read: %w", fsnotify.ErrEventOverflow))
	if changed, all := w.take(); !all || changed != nil {
		t.Errorf("after an overflow: %q %v, want a rescan", changed, all)
	}
	if !w.dirs["."] {
		t.Error("the root is not watched again after an overflow")
	}
	if _, all := w.take(); all {
		t.Error("the rescan was reported twice")
	}
}
