package source

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeFiles writes files (slash paths) under dir; an empty content
// deletes. Each write sets a modification time later than any before, so
// tests do not depend on the file system's timestamp resolution.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if content == "" {
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		now := tick()
		if err := os.Chtimes(p, now, now); err != nil {
			t.Fatal(err)
		}
	}
}

var clock = struct {
	sync.Mutex
	now time.Time
}{now: time.Now()}

// tick returns a time a second later than it returned before.
func tick() time.Time {
	clock.Lock()
	defer clock.Unlock()
	clock.now = clock.now.Add(time.Second)
	return clock.now
}

func snapshot(t testing.TB, d *Dir) Revision {
	t.Helper()
	rev, err := d.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

func TestDirSnapshot(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"README.md":                    "hi\n",
		"catalog/a.cue":                "a: 1\n",
		"catalog/svc/b.cue":            "b: 1\n",
		"catalog/cue.mod/module.cue":   "module: \"x\"\n",
		"catalog/.pierignore":          "tmp/\n",
		"catalog/.git/HEAD":            "ref: refs/heads/main\n",
		"catalog/node_modules/x/a.cue": "x: 1\n",
	})
	d, err := NewDir(root, "catalog/")
	if err != nil {
		t.Fatal(err)
	}
	first := snapshot(t, d)
	if !strings.HasPrefix(first.ID, "dir:") || first.Changed != nil || first.Time.IsZero() {
		t.Fatalf("first snapshot: %s %q %v", first.ID, first.Changed, first.Time)
	}
	if got := readFile(t, first.FS, "svc/b.cue"); got != "b: 1\n" {
		t.Errorf("svc/b.cue = %q", got)
	}

	same := snapshot(t, d)
	if same.ID != first.ID || same.Changed == nil || len(same.Changed) != 0 {
		t.Errorf("nothing changed: %s %#v, want %s []", same.ID, same.Changed, first.ID)
	}

	// Files that are not the catalog's do not make a new revision.
	writeFiles(t, root, map[string]string{
		"README.md":                    "hello\n",
		"catalog/.git/HEAD":            "ref: refs/heads/other\n",
		"catalog/node_modules/x/a.cue": "x: 2\n",
		"catalog/svc/.b.cue.swp":       "swap",
		"catalog/svc/b.cue~":           "backup",
		"catalog/data/pier.db":         "the daemon's own database, written inside the watched tree",
		"catalog/data/pier.db-wal":     "wal",
	})
	if rev := snapshot(t, d); rev.ID != first.ID {
		t.Errorf("ignored files changed the id: %q", rev.Changed)
	}

	for _, tc := range []struct {
		files map[string]string
		want  []string
	}{
		{map[string]string{"catalog/svc/b.cue": "b: 2\n"}, []string{"svc/b.cue"}},
		{map[string]string{"catalog/.pierignore": "tmp/\nold/\n"}, []string{".pierignore"}},
		{map[string]string{"catalog/cue.mod/module.cue": "module: \"y\"\n"}, []string{"cue.mod/module.cue"}},
		{map[string]string{"catalog/a.cue": "", "catalog/new/c.cue": "c: 1\n"}, []string{"a.cue", "new/c.cue"}},
	} {
		prev := snapshot(t, d)
		writeFiles(t, root, tc.files)
		rev := snapshot(t, d)
		if rev.ID == prev.ID || !reflect.DeepEqual(rev.Changed, tc.want) {
			t.Errorf("after writing %v: id %s (was %s), Changed %q, want %q", tc.files, rev.ID, prev.ID, rev.Changed, tc.want)
		}
	}

	// A touch without a content change is a change too: the id cannot
	// tell without reading files.
	prev := snapshot(t, d)
	now := tick()
	if err := os.Chtimes(filepath.Join(root, "catalog", "svc", "b.cue"), now, now); err != nil {
		t.Fatal(err)
	}
	if rev := snapshot(t, d); rev.ID == prev.ID || rev.Time.Before(now) {
		t.Errorf("touch: id %s time %v", rev.ID, rev.Time)
	}
}

func TestNewDirErrors(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"file": "x"})
	for _, tc := range []struct{ root, sub, want string }{
		{filepath.Join(root, "missing"), "", "no such file or directory"},
		{root, "file", "not a directory"},
		{root, "../up", `invalid path "../up"`},
	} {
		if _, err := NewDir(tc.root, tc.sub); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewDir(%q, %q) = %v, want %q", tc.root, tc.sub, err, tc.want)
		}
	}
}

func TestSnapshotCancelled(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"a.cue": "a: 1\n"})
	d, err := NewDir(root, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Snapshot(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled snapshot: %v", err)
	}
}

// A snapshot's files are the directory's: a symbolic link that leaves it
// is not followed, even by a reader that does not check links first (the
// loader names such a link, but it may be changed after it checked).
func TestSnapshotStaysInTheDirectory(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"secret.json": `{"password": "hunter2"}`, "catalog/real.json": "{}"})
	for name, target := range map[string]string{
		"catalog/abs.json": filepath.Join(root, "secret.json"),
		"catalog/rel.json": "../secret.json",
		"catalog/in.json":  "real.json",
	} {
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(name))); err != nil {
			t.Skip("no symbolic links here:", err)
		}
	}
	d, err := NewDir(root, "catalog")
	if err != nil {
		t.Fatal(err)
	}
	rev := snapshot(t, d)
	for _, name := range []string{"abs.json", "rel.json"} {
		if b, err := fs.ReadFile(rev.FS, name); err == nil {
			t.Errorf("%s, a link out of the directory, reads %q", name, b)
		}
	}
	if got := readFile(t, rev.FS, "in.json"); got != "{}" {
		t.Errorf("in.json, a link inside, = %q", got)
	}
}
