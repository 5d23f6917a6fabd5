package loader

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pierhq/pier/internal/catalog"
)

// issue 11's reproduction: `ln -s /etc/passwd CAT/entities/service/p.yaml`
// showed the file in the status, and a JSON file from outside the
// catalog was served as an entity. A link that leaves the catalog is an
// error naming the link, and what it points to is never read; one that
// stays inside is followed.
func TestLinksAndSpecialFiles(t *testing.T) {
	root := t.TempDir()
	outside := filepath.Join(root, "outside")
	cat := filepath.Join(root, "catalog")
	writeFiles(t, outside, map[string]string{
		"passwd.yaml": "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
		"svc.json":    `{"entities": {"team": {"outsider": {"title": "from outside"}}}}`,
	})
	writeFiles(t, cat, map[string]string{
		"blueprints.cue":      serviceBlueprint,
		".hidden/inside.json": `{"entities": {"team": {"insider": {}}}}`,
	})
	const outsideMsg = "leads outside the catalog"
	tests := []struct {
		name string
		make func(p string) error // makes the file at p
		want string               // a fragment of the diagnostic; "" for none
	}{
		{"absolute link out", func(p string) error { return os.Symlink(filepath.Join(outside, "passwd.yaml"), p) }, outsideMsg},
		{"relative link out", func(p string) error { return os.Symlink("../../outside/svc.json", p) }, outsideMsg},
		{"link to a link out", func(p string) error {
			if err := os.Symlink(filepath.Join(outside, "svc.json"), filepath.Join(filepath.Dir(p), "hop")); err != nil {
				return err
			}
			return os.Symlink("hop", p)
		}, outsideMsg},
		{"through a directory link out", func(p string) error {
			if err := os.Symlink(outside, filepath.Join(filepath.Dir(p), "out")); err != nil {
				return err
			}
			return os.Symlink("out/svc.json", p)
		}, outsideMsg},
		{"out and back in", func(p string) error { return os.Symlink("../../catalog/.hidden/inside.json", p) }, outsideMsg},
		{"inside", func(p string) error { return os.Symlink("../.hidden/inside.json", p) }, ""},
		{"dangling", func(p string) error { return os.Symlink("nothing.json", p) }, `symbolic link to "nothing.json" leads to no file`},
		{"loop", func(p string) error { return os.Symlink(filepath.Base(p), p) }, "goes through more than 40 links"},
		{"directory", func(p string) error { return os.Symlink("../.hidden", p) }, "a directory, not a file"},
		{"named pipe", mkfifo, "a named pipe, not a file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(cat, "entities")
			os.RemoveAll(dir)
			os.MkdirAll(dir, 0o755)
			const name = "entities/p.json"
			if err := tt.make(filepath.Join(cat, name)); err != nil {
				t.Skip("cannot make the file here:", err)
			}
			r, err := os.OpenRoot(cat)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for fsName, fsys := range map[string]fs.FS{"os.DirFS": os.DirFS(cat), "os.Root": r.FS()} {
				for _, reload := range []bool{false, true} {
					l, err := New(2)
					if err != nil {
						t.Fatal(err)
					}
					var res *Result
					if reload {
						// The link appears after a first load.
						if _, err := l.Load(context.Background(), fstest.MapFS{"blueprints.cue": {Data: []byte(serviceBlueprint)}}); err != nil {
							t.Fatal(err)
						}
						res, err = l.Reload(context.Background(), fsys, []string{name})
					} else {
						res, err = l.Load(context.Background(), fsys)
					}
					if err != nil {
						t.Fatalf("%s, reload %v: %v", fsName, reload, err)
					}
					everything := fmt.Sprint(res.Diagnostics, res.Objects)
					if strings.Contains(everything, "root:x") || strings.Contains(everything, "outsider") {
						t.Fatalf("%s, reload %v: the result shows what is outside the catalog:\n%s", fsName, reload, everything)
					}
					if tt.want == "" {
						if !res.OK() || res.Catalog.Entities["team"]["insider"] == nil {
							t.Errorf("%s, reload %v: a link inside the catalog is not followed: %v", fsName, reload, res.Diagnostics)
						}
						continue
					}
					if len(res.Diagnostics) != 1 {
						t.Fatalf("%s, reload %v: %v", fsName, reload, res.Diagnostics)
					}
					if d := res.Diagnostics[0]; d.Pos.File != name || d.Kind != catalog.KindFile || !strings.Contains(d.Message, tt.want) {
						t.Errorf("%s, reload %v: got %s [%s], want %s: ...%s", fsName, reload, d, d.Kind, name, tt.want)
					}
				}
			}
		})
	}
}

// countingFS counts the bytes read from each file.
type countingFS struct {
	fs.FS
	mu   sync.Mutex
	read map[string]int
}

func (c *countingFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(c.FS, name) }

func (c *countingFS) Open(name string) (fs.File, error) {
	f, err := c.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return &countingFile{File: f, fs: c, name: name}, nil
}

type countingFile struct {
	fs.File
	fs   *countingFS
	name string
}

func (f *countingFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.fs.mu.Lock()
	f.fs.read[f.name] += n
	f.fs.mu.Unlock()
	return n, err
}

// issue 11's reproduction: a 53 MB JSON file of 90,000 entities took 35 s
// and 925 MB before it was refused. A file over the limit is refused,
// named, from its size, without being read.
func TestLargeFileIsRefusedUnread(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"entities": {"team": {`)
	for i := 0; b.Len() < 11<<20; i++ {
		fmt.Fprintf(&b, `"team-%d": {"title": "Team %d", "properties": {}}, `, i, i)
	}
	b.WriteString(`"last": {}}}}`)
	fsys := &countingFS{FS: fstest.MapFS{
		"blueprints.cue": {Data: []byte(serviceBlueprint)},
		"big.json":       {Data: []byte(b.String())},
	}, read: map[string]int{}}
	l, err := New(2)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := l.Load(context.Background(), fsys)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("refusing the file took %s", took)
	}
	if len(res.Diagnostics) != 1 || res.Diagnostics[0].String() != "big.json: file is 11 MB, more than the 10 MB a catalog file may hold (option max-file-size): split it into smaller files" {
		t.Fatalf("diagnostics: %v", res.Diagnostics)
	}
	if res.Diagnostics[0].Kind != catalog.KindLimit || fsys.read["big.json"] != 0 {
		t.Errorf("kind %s, %d bytes of big.json read", res.Diagnostics[0].Kind, fsys.read["big.json"])
	}
	if res.Catalog.Blueprints["service"] == nil {
		t.Error("the other files of the revision were not loaded")
	}
}

// A revision whose files add up to more than its limit is refused before
// all of it is read, naming the largest files; the loader keeps the last
// complete load, and the next revision loads as a cold load would.
func TestRevisionSizeLimit(t *testing.T) {
	team := func(id string, pad int) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(fmt.Sprintf(`{"entities": {"team": {%q: {"title": %q}}}}`, id, strings.Repeat("t", pad)))}
	}
	fsys := fstest.MapFS{"a.json": team("a", 100), "b.json": team("b", 100)}
	l, err := NewWith(Options{Workers: 2, MaxFileSize: 1000, MaxRevisionSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := l.Load(context.Background(), fsys); err != nil || len(res.Diagnostics) != 2 { // no team blueprint
		t.Fatalf("first load: %v %v", err, res.Diagnostics)
	}
	fsys["c.json"], fsys["d.json"] = team("c", 900), team("d", 600)
	for _, reload := range []bool{false, true} {
		var res *Result
		if reload {
			res, err = l.Reload(context.Background(), fsys, []string{"c.json", "d.json"})
		} else {
			res, err = l.Load(context.Background(), fsys)
		}
		if err != nil {
			t.Fatal(err)
		}
		want := "c.json: the catalog's 4 files add up to 1.8 KB, more than the 1000 bytes a revision may hold (option max-revision-size); none was loaded. The largest: c.json (944 bytes), d.json (644 bytes), a.json (144 bytes)"
		if len(res.Diagnostics) != 1 || res.Diagnostics[0].String() != want || res.Diagnostics[0].Kind != catalog.KindLimit || res.Files != 4 {
			t.Fatalf("reload %v: %d files, %v\nwant %s", reload, res.Files, res.Diagnostics, want)
		}
	}
	// b.json goes, c.json and d.json shrink: the revision fits, and
	// loads as a cold load of it does.
	delete(fsys, "b.json")
	fsys["c.json"], fsys["d.json"] = team("c", 500), team("d", 10)
	res, err := l.Reload(context.Background(), fsys, []string{"b.json", "c.json", "d.json"})
	if err != nil {
		t.Fatal(err)
	}
	coldLoader, _ := NewWith(Options{MaxRevisionSize: 1000})
	cold, err := coldLoader.Load(context.Background(), fsys)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Diagnostics) != fmt.Sprint(cold.Diagnostics) || len(res.Diagnostics) != 3 {
		t.Fatalf("after the fix:\n%v\ncold:\n%v", res.Diagnostics, cold.Diagnostics)
	}
}

// failingFS fails to open one file while fail is set.
type failingFS struct {
	fs.FS
	name string
	fail bool
}

func (f *failingFS) Open(name string) (fs.File, error) {
	if f.fail && name == f.name {
		return nil, &fs.PathError{Op: "open", Path: name, Err: io.ErrUnexpectedEOF}
	}
	return f.FS.Open(name)
}

// A load that fails part way changes nothing: a file that went away in
// it is still removed by the next load, even one that names only what
// changed since.
func TestFailedLoadChangesNothing(t *testing.T) {
	team := func(id string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(fmt.Sprintf(`{"blueprints": {%q: {"schema": {"properties": {}}}}}`, id))}
	}
	tree := fstest.MapFS{"a.json": team("a"), "b.json": team("b")}
	fsys := &failingFS{FS: tree, name: "c.json"}
	l, err := New(1)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := l.Load(context.Background(), fsys); err != nil || !res.OK() {
		t.Fatal(err, res.Diagnostics)
	}
	delete(tree, "b.json")
	tree["c.json"] = team("c")
	fsys.fail = true
	if _, err := l.Load(context.Background(), fsys); err == nil {
		t.Fatal("the load with an unreadable file did not fail")
	}
	fsys.fail = false
	tree["d.json"] = team("d")
	res, err := l.Reload(context.Background(), fsys, []string{"d.json"})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(res.Catalog.Blueprints)); fmt.Sprint(got) != "[a c d]" {
		t.Fatalf("blueprints after the failed load and a reload: %v, want a, c and d", got)
	}
}

// A file may have grown or shrunk since its size was read: the read
// takes what is there, and never more than the limit.
func TestReadAtMost(t *testing.T) {
	for _, tt := range []struct {
		content     string
		size, limit int64
		want        string
	}{
		{"exact", 5, 100, "exact"},
		{"it grew since", 2, 100, "it grew since"},
		{"shrank", 50, 100, "shrank"},
		{"far too long", 3, 6, "far to"},
		{"", 0, 10, ""},
	} {
		got, err := readAtMost(strings.NewReader(tt.content), tt.size, tt.limit)
		if err != nil || string(got) != tt.want {
			t.Errorf("readAtMost(%q, %d, %d) = %q, %v; want %q", tt.content, tt.size, tt.limit, got, err, tt.want)
		}
	}
}
