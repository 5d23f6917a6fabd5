package gitfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// sig is fixed so commit hashes are the same on every run.
var sig = object.Signature{Name: "pier test", Email: "test@pier.invalid", When: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}

// testRepo is a real repository in a temporary directory, built through
// go-git's work tree as a user's commits would be.
type testRepo struct {
	t    testing.TB
	dir  string
	repo *git.Repository
	wt   *git.Worktree
}

func newTestRepo(t testing.TB) *testRepo {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	return &testRepo{t: t, dir: dir, repo: repo, wt: wt}
}

// write sets files (path -> content); an empty content with a "->"
// prefix makes a symbolic link instead.
func (r *testRepo) write(files map[string]string) {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "-> "); ok {
			if err := os.Symlink(target, p); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *testRepo) remove(names ...string) {
	r.t.Helper()
	for _, name := range names {
		if err := os.RemoveAll(filepath.Join(r.dir, filepath.FromSlash(name))); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *testRepo) commit(msg string) plumbing.Hash {
	r.t.Helper()
	if err := r.wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		r.t.Fatal(err)
	}
	h, err := r.wt.Commit(msg, &git.CommitOptions{Author: &sig, Committer: &sig, All: true})
	if err != nil {
		r.t.Fatal(err)
	}
	return h
}

func (r *testRepo) open() *Repo {
	r.t.Helper()
	repo, err := Open(r.dir)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { repo.Close() })
	return repo
}

// fixture is a two-commit history:
//
//	c1: README.md, catalog/services/api.cue (v1), catalog/teams/platform.cue,
//	    catalog/blueprints/service.cue
//	c2: api.cue changed to v2, services/user.cue added, teams/platform.cue
//	    deleted, blueprints unchanged
type fixture struct {
	*testRepo
	c1, c2 plumbing.Hash
}

func newFixture(t *testing.T) *fixture {
	r := newTestRepo(t)
	r.write(map[string]string{
		"README.md":                      "# catalog\n",
		"catalog/services/api.cue":       "api: v1\n",
		"catalog/teams/platform.cue":     "team: platform\n",
		"catalog/blueprints/service.cue": "blueprint: service\n",
	})
	c1 := r.commit("first")
	r.write(map[string]string{
		"catalog/services/api.cue":  "api: v2\n",
		"catalog/services/user.cue": "user: v1\n",
	})
	r.remove("catalog/teams")
	c2 := r.commit("second")
	return &fixture{testRepo: r, c1: c1, c2: c2}
}

func mustFS(t *testing.T, r *Repo, rev, sub string) *TreeFS {
	t.Helper()
	fsys, err := r.FS(rev, sub)
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

func TestReadFileAtRevisions(t *testing.T) {
	f := newFixture(t)
	r := f.open()
	tests := []struct {
		rev, name, want string
	}{
		{f.c1.String(), "catalog/services/api.cue", "api: v1\n"},
		{f.c2.String(), "catalog/services/api.cue", "api: v2\n"},
		{f.c1.String(), "catalog/teams/platform.cue", "team: platform\n"},
		{f.c2.String(), "catalog/services/user.cue", "user: v1\n"},
		{"HEAD", "README.md", "# catalog\n"},
	}
	for _, tt := range tests {
		fsys := mustFS(t, r, tt.rev, "")
		got, err := fsys.ReadFile(tt.name)
		if err != nil || string(got) != tt.want {
			t.Errorf("ReadFile(%s) at %.7s = %q, %v; want %q", tt.name, tt.rev, got, err, tt.want)
		}
		// The same through Open and Read.
		fl, err := fsys.Open(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		got, err = io.ReadAll(fl)
		fl.Close()
		if err != nil || string(got) != tt.want {
			t.Errorf("Open+Read(%s) at %.7s = %q, %v; want %q", tt.name, tt.rev, got, err, tt.want)
		}
	}
}

func TestNotExist(t *testing.T) {
	f := newFixture(t)
	fsys := mustFS(t, f.open(), f.c2.String(), "")
	for _, name := range []string{
		"missing.cue",
		"catalog/teams/platform.cue", // deleted in c2
		"catalog/teams",
		"README.md/x", // below a file
		"catalog/services/missing/x",
	} {
		checks := map[string]error{}
		_, checks["Open"] = fsys.Open(name)
		_, checks["ReadFile"] = fsys.ReadFile(name)
		_, checks["ReadDir"] = fsys.ReadDir(name)
		_, checks["Stat"] = fsys.Stat(name)
		_, checks["Hash"] = fsys.Hash(name)
		for op, err := range checks {
			var pe *fs.PathError
			if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Path != name {
				t.Errorf("%s(%q) error = %#v, want *fs.PathError for %q wrapping fs.ErrNotExist", op, name, err, name)
			}
		}
	}
	for _, name := range []string{"/README.md", "./README.md", "catalog/../README.md", "catalog/", ""} {
		if _, err := fsys.Open(name); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open(%q) error = %v, want fs.ErrInvalid", name, err)
		}
	}
}

func TestReadDirSorted(t *testing.T) {
	r := newTestRepo(t)
	// Git orders a directory as if named "a/", after "a-c" and "a.b";
	// io/fs wants plain name order.
	r.write(map[string]string{
		"x/a.b":   "1",
		"x/a/z":   "2",
		"x/a-c":   "3",
		"x/B":     "4",
		"x/0.cue": "5",
	})
	c := r.commit("c")
	fsys := mustFS(t, r.open(), c.String(), "")
	des, err := fsys.ReadDir("x")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	want := []string{"0.cue", "B", "a", "a-c", "a.b"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("ReadDir(x) = %v, want %v", names, want)
	}
	if !des[2].IsDir() || des[2].Type() != fs.ModeDir || des[0].IsDir() || des[0].Type() != 0 {
		t.Errorf("entry types wrong: %v", des)
	}
	info, err := des[0].Info()
	if err != nil || info.Size() != 1 || info.Mode() != 0o444 || !info.ModTime().Equal(sig.When) {
		t.Errorf("Info(0.cue) = %v, %v", info, err)
	}
	if _, err := fsys.ReadDir("x/a.b"); err == nil {
		t.Errorf("ReadDir of a file succeeded")
	}
	if _, err := fsys.ReadFile("x/a"); err == nil {
		t.Errorf("ReadFile of a directory succeeded")
	}
}

func TestWalkDir(t *testing.T) {
	f := newFixture(t)
	r := f.open()
	walk := func(fsys fs.FS) []string {
		var got []string
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				p += "/"
			}
			got = append(got, p)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := []string{
		"./", "README.md", "catalog/", "catalog/blueprints/", "catalog/blueprints/service.cue",
		"catalog/services/", "catalog/services/api.cue", "catalog/services/user.cue",
	}
	if got := walk(mustFS(t, r, f.c2.String(), "")); !reflect.DeepEqual(got, want) {
		t.Errorf("WalkDir at c2 = %v\nwant %v", got, want)
	}
	want = []string{"./", "blueprints/", "blueprints/service.cue", "services/", "services/api.cue", "teams/", "teams/platform.cue"}
	if got := walk(mustFS(t, r, f.c1.String(), "catalog")); !reflect.DeepEqual(got, want) {
		t.Errorf("WalkDir of catalog at c1 = %v\nwant %v", got, want)
	}
}

func TestSubdir(t *testing.T) {
	f := newFixture(t)
	r := f.open()
	for _, sub := range []string{"catalog", "catalog/", "./catalog", "/catalog"} {
		fsys := mustFS(t, r, f.c2.String(), sub)
		got, err := fsys.ReadFile("services/api.cue")
		if err != nil || string(got) != "api: v2\n" {
			t.Errorf("sub %q: ReadFile(services/api.cue) = %q, %v", sub, got, err)
		}
		if _, err := fsys.ReadFile("catalog/services/api.cue"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("sub %q: path outside the root readable: %v", sub, err)
		}
		if _, err := fsys.ReadFile("README.md"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("sub %q: file above the root readable: %v", sub, err)
		}
	}
	fsys := mustFS(t, r, f.c2.String(), "catalog/services")
	if got, err := fsys.ReadFile("user.cue"); err != nil || string(got) != "user: v1\n" {
		t.Errorf("nested sub: ReadFile(user.cue) = %q, %v", got, err)
	}
	if _, err := r.FS(f.c2.String(), "catalog/teams"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("FS of a deleted directory: error = %v, want fs.ErrNotExist", err)
	}
	if _, err := r.FS(f.c2.String(), "README.md"); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("FS rooted at a file: error = %v", err)
	}
	if _, err := r.FS(f.c2.String(), "../x"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("FS rooted outside the tree: error = %v", err)
	}
}

func TestHashAndRevision(t *testing.T) {
	f := newFixture(t)
	r := f.open()
	fsys := mustFS(t, r, "HEAD", "catalog")
	if fsys.Revision() != f.c2.String() {
		t.Errorf("Revision() = %s, want %s", fsys.Revision(), f.c2)
	}
	commit, err := f.repo.CommitObject(f.c2)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"services/api.cue", "services/user.cue", "blueprints/service.cue"} {
		got, err := fsys.Hash(name)
		if err != nil {
			t.Fatal(err)
		}
		gf, err := commit.File("catalog/" + name)
		if err != nil {
			t.Fatal(err)
		}
		content, err := fsys.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		computed := plumbing.ComputeHash(plumbing.BlobObject, content)
		if got != gf.Hash.String() || got != computed.String() {
			t.Errorf("Hash(%s) = %s; go-git reports %s, content hashes to %s", name, got, gf.Hash, computed)
		}
	}
	old := mustFS(t, r, f.c1.String(), "catalog")
	h1, _ := old.Hash("services/api.cue")
	h2, _ := fsys.Hash("services/api.cue")
	b1, _ := old.Hash("blueprints/service.cue")
	b2, _ := fsys.Hash("blueprints/service.cue")
	if h1 == h2 || b1 != b2 {
		t.Errorf("hashes across revisions: changed file %s/%s, unchanged file %s/%s", h1, h2, b1, b2)
	}
	if _, err := fsys.Hash("services"); err == nil {
		t.Errorf("Hash of a directory succeeded")
	}
}

func TestChangedFiles(t *testing.T) {
	f := newFixture(t)
	// c3 turns a file into a directory and back, adds a directory and
	// flips an executable bit.
	// Staged as git rm first: go-git's Add cannot take a file that
	// became a directory in one step.
	if _, err := f.wt.Remove("catalog/blueprints/service.cue"); err != nil {
		t.Fatal(err)
	}
	f.write(map[string]string{
		"catalog/blueprints/service.cue/x.cue": "now a dir\n",
		"catalog/new/deep/a.cue":               "a\n",
		"catalog/new/deep/b.cue":               "b\n",
	})
	c3 := f.commit("third")
	r := f.open()

	tests := []struct {
		name         string
		from, to     string
		sub          string
		want         []Change
		wantNotExist bool
	}{
		{
			name: "c1..c2", from: f.c1.String(), to: f.c2.String(),
			want: []Change{
				{"catalog/services/api.cue", Modified},
				{"catalog/services/user.cue", Added},
				{"catalog/teams/platform.cue", Deleted},
			},
		},
		{
			name: "c2..c1 is the inverse", from: f.c2.String(), to: f.c1.String(),
			want: []Change{
				{"catalog/services/api.cue", Modified},
				{"catalog/services/user.cue", Deleted},
				{"catalog/teams/platform.cue", Added},
			},
		},
		{
			name: "relative to subdir", from: f.c1.String(), to: f.c2.String(), sub: "catalog",
			want: []Change{
				{"services/api.cue", Modified},
				{"services/user.cue", Added},
				{"teams/platform.cue", Deleted},
			},
		},
		{
			name: "subdir without changes", from: f.c1.String(), to: f.c2.String(), sub: "catalog/blueprints",
		},
		{
			name: "subdir created", from: f.c2.String(), to: c3.String(), sub: "catalog/new",
			want: []Change{{"deep/a.cue", Added}, {"deep/b.cue", Added}},
		},
		{
			name: "subdir missing on both sides", from: f.c1.String(), to: f.c2.String(), sub: "nope",
			wantNotExist: true,
		},
		{
			name: "file becomes directory", from: f.c2.String(), to: c3.String(),
			want: []Change{
				{"catalog/blueprints/service.cue", Deleted},
				{"catalog/blueprints/service.cue/x.cue", Added},
				{"catalog/new/deep/a.cue", Added},
				{"catalog/new/deep/b.cue", Added},
			},
		},
		{
			name: "directory becomes file", from: c3.String(), to: f.c2.String(), sub: "catalog/blueprints",
			want: []Change{
				{"service.cue/x.cue", Deleted},
				{"service.cue", Added},
			},
		},
		{
			name: "same revision", from: "HEAD", to: c3.String(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.ChangedFiles(tt.from, tt.to, tt.sub)
			if tt.wantNotExist {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("error = %v, want fs.ErrNotExist", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ChangedFiles = %v\nwant %v", got, tt.want)
			}
		})
	}
	if _, err := r.ChangedFiles("nope", "HEAD", ""); !errors.Is(err, ErrUnknownRevision) {
		t.Errorf("unknown from revision: error = %v", err)
	}
}

func TestChangedFilesModeOnly(t *testing.T) {
	r := newTestRepo(t)
	r.write(map[string]string{"run.sh": "echo\n", "same.txt": "x"})
	c1 := r.commit("one")
	if err := os.Chmod(filepath.Join(r.dir, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	c2 := r.commit("two")
	got, err := r.open().ChangedFiles(c1.String(), c2.String(), "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Change{{"run.sh", Modified}}; !reflect.DeepEqual(got, want) {
		t.Errorf("ChangedFiles = %v, want %v", got, want)
	}
	info, err := mustFS(t, r.open(), c2.String(), "").Stat("run.sh")
	if err != nil || info.Mode() != 0o555 {
		t.Errorf("Stat(run.sh) = %v, %v; want mode 0555", info, err)
	}
}

func TestResolve(t *testing.T) {
	f := newFixture(t)
	head, err := f.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	branch := head.Name().Short()
	set := func(name plumbing.ReferenceName, h plumbing.Hash) {
		if err := f.repo.Storer.SetReference(plumbing.NewHashReference(name, h)); err != nil {
			t.Fatal(err)
		}
	}
	set(plumbing.NewBranchReferenceName("feature"), f.c1)
	set(plumbing.NewRemoteReferenceName("origin", "main"), f.c1)
	if _, err := f.repo.CreateTag("v1.0.0", f.c1, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.repo.CreateTag("v2.0.0", f.c2, &git.CreateTagOptions{Tagger: &sig, Message: "annotated"}); err != nil {
		t.Fatal(err)
	}
	r := f.open()
	tests := []struct {
		rev  string
		want plumbing.Hash
	}{
		{f.c2.String(), f.c2},
		{f.c1.String()[:7], f.c1},
		{f.c2.String()[:12], f.c2},
		{"HEAD", f.c2},
		{"HEAD~1", f.c1},
		{"HEAD^", f.c1},
		{branch, f.c2},
		{"feature", f.c1},
		{"refs/heads/feature", f.c1},
		{"origin/main", f.c1},
		{"v1.0.0", f.c1},
		{"v2.0.0", f.c2}, // annotated: the tagged commit, not the tag object
		{"v2.0.0^{}", f.c2},
		{"HEAD^{commit}", f.c2},
		{"HEAD^{/first}", f.c1},
	}
	for _, tt := range tests {
		got, err := r.Resolve(tt.rev)
		if err != nil || got != tt.want {
			t.Errorf("Resolve(%q) = %s, %v; want %s", tt.rev, got, err, tt.want)
		}
	}
	for _, rev := range []string{"no-such-branch", "HEAD~2", "0000000", "", "origin/nope"} {
		_, err := r.Resolve(rev)
		if !errors.Is(err, ErrUnknownRevision) || !strings.Contains(err.Error(), fmt.Sprintf("%q", rev)) && rev != "" {
			t.Errorf("Resolve(%q) error = %v, want ErrUnknownRevision naming the revision", rev, err)
		}
	}
	// Forms go-git would silently read as plain HEAD.
	for _, rev := range []string{"HEAD@{1}", "HEAD:README.md", "HEAD^{tree}", "main..dev"} {
		if h, err := r.Resolve(rev); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", rev)) {
			t.Errorf("Resolve(%q) = %s, %v; want an error naming the revision", rev, h, err)
		}
	}
	if _, err := r.FS("no-such-branch", ""); !errors.Is(err, ErrUnknownRevision) {
		t.Errorf("FS of an unknown revision: error = %v", err)
	}
}

func TestOpen(t *testing.T) {
	f := newFixture(t)
	// From a directory inside the work tree.
	r, err := Open(filepath.Join(f.dir, "catalog", "services"))
	if err != nil {
		t.Fatal(err)
	}
	if h, err := r.Resolve("HEAD"); err != nil || h != f.c2 {
		t.Errorf("Resolve(HEAD) from a sub-directory = %s, %v", h, err)
	}
	r.Close()

	// A bare clone.
	bare := t.TempDir()
	if _, err := git.PlainClone(bare, true, &git.CloneOptions{URL: f.dir}); err != nil {
		t.Fatal(err)
	}
	r, err = Open(bare)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := mustFS(t, r, "HEAD~1", "catalog").ReadFile("services/api.cue")
	if err != nil || string(got) != "api: v1\n" {
		t.Errorf("bare repository: ReadFile = %q, %v", got, err)
	}

	if _, err := Open(t.TempDir()); err == nil {
		t.Errorf("Open of a directory without a repository succeeded")
	}
}

func TestFSTest(t *testing.T) {
	f := newFixture(t)
	f.write(map[string]string{
		"catalog/links/api.cue":   "-> ../services/api.cue",
		"catalog/links/services":  "-> ../services",
		"catalog/links/self":      "-> .",
		"catalog/tool.sh":         "#!/bin/sh\n",
		"catalog/empty.cue":       "",
		"catalog/services/x/y/z":  "deep",
		"catalog/a.b":             "dot",
		"catalog/a/inner.cue":     "inner",
		"catalog/unicode/é.cue":   "é",
		"catalog/spaces/a b.json": "{}",
	})
	if err := os.Chmod(filepath.Join(f.dir, "catalog", "tool.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := f.commit("links")
	r := f.open()
	if err := fstest.TestFS(mustFS(t, r, c.String(), ""),
		"README.md", "catalog/services/api.cue", "catalog/links/api.cue", "catalog/links/services",
		"catalog/services/x/y/z", "catalog/a.b", "catalog/a/inner.cue", "catalog/unicode/é.cue",
		"catalog/spaces/a b.json", "catalog/empty.cue", "catalog/tool.sh"); err != nil {
		t.Error(err)
	}
	if err := fstest.TestFS(mustFS(t, r, c.String(), "catalog/services"), "api.cue", "user.cue", "x/y/z"); err != nil {
		t.Error(err)
	}
	if err := fstest.TestFS(mustFS(t, r, f.c1.String(), ""), "catalog/teams/platform.cue"); err != nil {
		t.Error(err)
	}
}

func TestSymlinks(t *testing.T) {
	r := newTestRepo(t)
	r.write(map[string]string{
		"catalog/services/api.cue": "api\n",
		"catalog/link.cue":         "-> services/api.cue",
		"catalog/dirlink":          "-> services",
		"catalog/chain.cue":        "-> dirlink/../link.cue",
		"catalog/escape.cue":       "-> ../../etc/passwd",
		"catalog/abs.cue":          "-> /etc/passwd",
		"catalog/dangling.cue":     "-> nope.cue",
		"catalog/loop1":            "-> loop2",
		"catalog/loop2":            "-> loop1",
	})
	c := r.commit("links")
	fsys := mustFS(t, r.open(), c.String(), "catalog")

	for _, name := range []string{"link.cue", "dirlink/api.cue", "chain.cue"} {
		if got, err := fsys.ReadFile(name); err != nil || string(got) != "api\n" {
			t.Errorf("ReadFile(%s) = %q, %v", name, got, err)
		}
	}
	want, _ := fsys.Hash("services/api.cue")
	if got, err := fsys.Hash("link.cue"); err != nil || got != want {
		t.Errorf("Hash(link.cue) = %s, %v; want the target's %s", got, err, want)
	}
	if des, err := fsys.ReadDir("dirlink"); err != nil || len(des) != 1 || des[0].Name() != "api.cue" {
		t.Errorf("ReadDir(dirlink) = %v, %v", des, err)
	}
	if info, err := fsys.Stat("dirlink"); err != nil || !info.IsDir() || info.Name() != "dirlink" {
		t.Errorf("Stat(dirlink) = %v, %v", info, err)
	}
	if info, err := fsys.Lstat("dirlink"); err != nil || info.Mode().Type() != fs.ModeSymlink {
		t.Errorf("Lstat(dirlink) = %v, %v", info, err)
	}
	if target, err := fsys.ReadLink("link.cue"); err != nil || target != "services/api.cue" {
		t.Errorf("ReadLink(link.cue) = %q, %v", target, err)
	}
	if _, err := fsys.ReadLink("services/api.cue"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("ReadLink of a file: error = %v", err)
	}
	for _, name := range []string{"escape.cue", "abs.cue", "dangling.cue"} {
		if _, err := fsys.ReadFile(name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile(%s) error = %v, want fs.ErrNotExist", name, err)
		}
	}
	if _, err := fsys.ReadFile("loop1"); err == nil || !strings.Contains(err.Error(), "too many levels") {
		t.Errorf("ReadFile(loop1) error = %v, want a link loop error", err)
	}
	des, err := fsys.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if de.Name() == "link.cue" && de.Type() != fs.ModeSymlink {
			t.Errorf("ReadDir entry for link.cue has type %v, want a symlink", de.Type())
		}
	}
}

// TestConcurrentReads exercises the store lock; run with -race.
func TestConcurrentReads(t *testing.T) {
	f := newFixture(t)
	r := f.open()
	fsys := mustFS(t, r, "HEAD", "")
	other := mustFS(t, r, "HEAD~1", "")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Go(func() {
			for range 20 {
				if _, err := fsys.ReadFile("catalog/services/api.cue"); err != nil {
					errs <- err
				}
				if _, err := other.Stat("catalog/teams/platform.cue"); err != nil {
					errs <- err
				}
				if err := fs.WalkDir(fsys, ".", func(string, fs.DirEntry, error) error { return nil }); err != nil {
					errs <- err
				}
				if i%4 == 0 {
					if _, err := r.ChangedFiles("HEAD~1", "HEAD", ""); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestOpenFile(t *testing.T) {
	f := newFixture(t)
	fsys := mustFS(t, f.open(), "HEAD", "")
	fl, err := fsys.Open("catalog/services/api.cue")
	if err != nil {
		t.Fatal(err)
	}
	info, err := fl.Stat()
	if err != nil || info.Name() != "api.cue" || info.Size() != int64(len("api: v2\n")) || info.IsDir() {
		t.Errorf("Stat = %v, %v", info, err)
	}
	if err := fl.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if _, err := fl.Read(make([]byte, 1)); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Read after Close: error = %v, want fs.ErrClosed", err)
	}
	d, err := fsys.Open("catalog")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Read(make([]byte, 1)); err == nil {
		t.Errorf("Read of a directory succeeded")
	}
	rdf, ok := d.(fs.ReadDirFile)
	if !ok {
		t.Fatalf("directory does not implement fs.ReadDirFile")
	}
	var names []string
	for {
		des, err := rdf.ReadDir(1)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, des[0].Name())
	}
	if !slices.Equal(names, []string{"blueprints", "services"}) {
		t.Errorf("ReadDir(1) loop = %v", names)
	}
}

// TestSeesNewPacks checks that a long-lived Repo finds commits that a
// fetch wrote to a new pack file after it was opened.
func TestSeesNewPacks(t *testing.T) {
	src := newTestRepo(t)
	src.write(map[string]string{"a.cue": "1"})
	c1 := src.commit("one")

	dst := t.TempDir()
	if _, err := git.PlainClone(dst, true, &git.CloneOptions{URL: src.dir}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := mustFS(t, r, c1.String(), "").ReadFile("a.cue"); err != nil || string(got) != "1" {
		t.Fatalf("ReadFile at c1 = %q, %v", got, err)
	}

	src.write(map[string]string{"a.cue": "2"})
	c2 := src.commit("two")
	other, err := git.PlainOpen(dst)
	if err != nil {
		t.Fatal(err)
	}
	err = other.Fetch(&git.FetchOptions{RemoteName: "origin", RefSpecs: []config.RefSpec{"+refs/heads/*:refs/heads/*"}})
	if err != nil {
		t.Fatal(err)
	}
	packs, _ := filepath.Glob(filepath.Join(dst, "objects", "pack", "*.pack"))
	if len(packs) < 2 {
		t.Fatalf("fetch wrote no new pack file: %v", packs)
	}

	for _, rev := range []string{c2.String(), "HEAD"} {
		fsys, err := r.FS(rev, "")
		if err != nil {
			t.Fatalf("FS(%s) after fetch: %v", rev, err)
		}
		if got, err := fsys.ReadFile("a.cue"); err != nil || string(got) != "2" {
			t.Errorf("ReadFile at %s after fetch = %q, %v", rev, got, err)
		}
	}
	if cs, err := r.ChangedFiles(c1.String(), c2.String(), ""); err != nil || len(cs) != 1 {
		t.Errorf("ChangedFiles after fetch = %v, %v", cs, err)
	}
}
