package source

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// testRepo is a bare repository on disk that tests commit to in-process
// with go-git, as a push would leave it: loose objects and a moved branch.
// Spawning the git CLI for every commit made the tests several times
// slower on a busy machine.
type testRepo struct {
	t     testing.TB
	bare  string // the repository's directory
	repo  *git.Repository
	head  plumbing.Hash            // tip of main
	files map[string]plumbing.Hash // main's tree, flattened: path → blob
	trees map[plumbing.Hash]bool   // trees known to be written
}

func newTestRepo(t testing.TB) *testRepo {
	t.Helper()
	return newTestRepoAt(t, filepath.Join(t.TempDir(), "remote.git"), true)
}

// newTestRepoAt makes a repository at dir: bare, or a work tree whose
// objects are in dir/.git (the work tree itself stays empty).
func newTestRepoAt(t testing.TB, dir string, bare bool) *testRepo {
	t.Helper()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		Bare:        bare,
		InitOptions: git.InitOptions{DefaultBranch: plumbing.Main},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &testRepo{t: t, bare: dir, repo: repo, files: map[string]plumbing.Hash{}, trees: map[plumbing.Hash]bool{}}
}

// commit commits files (slash paths; an empty content deletes the file)
// on top of main and moves main to it, as a push would. It returns the
// commit hash.
func (r *testRepo) commit(files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		if content == "" {
			delete(r.files, name)
			continue
		}
		r.files[name] = r.store(plumbing.BlobObject, []byte(content))
	}
	c := &object.Commit{
		Author:    object.Signature{Name: "Test", Email: "test@example.com", When: time.Now()},
		Message:   "change\n",
		TreeHash:  r.writeTree(r.files),
		Committer: object.Signature{Name: "Test", Email: "test@example.com", When: time.Now()},
	}
	if !r.head.IsZero() {
		c.ParentHashes = []plumbing.Hash{r.head}
	}
	obj := r.repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		r.t.Fatal(err)
	}
	h, err := r.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		r.t.Fatal(err)
	}
	r.head = h
	r.setBranch("main", h)
	return h.String()
}

// orphan starts an unrelated history: the next commit has no parent and
// only the files it names.
func (r *testRepo) orphan() {
	r.head = plumbing.ZeroHash
	r.files = map[string]plumbing.Hash{}
}

func (r *testRepo) setBranch(name string, h plumbing.Hash) {
	r.t.Helper()
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(name), h)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *testRepo) store(t plumbing.ObjectType, content []byte) plumbing.Hash {
	r.t.Helper()
	obj := r.repo.Storer.NewEncodedObject()
	obj.SetType(t)
	w, err := obj.Writer()
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := w.Write(content); err != nil {
		r.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		r.t.Fatal(err)
	}
	h, err := r.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		r.t.Fatal(err)
	}
	return h
}

// writeTree writes the trees for a flattened file list and returns the
// root's hash. Trees already written are not written again.
func (r *testRepo) writeTree(files map[string]plumbing.Hash) plumbing.Hash {
	r.t.Helper()
	type dir struct {
		files map[string]plumbing.Hash
		dirs  map[string]map[string]plumbing.Hash
	}
	d := dir{files: map[string]plumbing.Hash{}, dirs: map[string]map[string]plumbing.Hash{}}
	for p, h := range files {
		first, rest, ok := strings.Cut(p, "/")
		if !ok {
			d.files[p] = h
			continue
		}
		if d.dirs[first] == nil {
			d.dirs[first] = map[string]plumbing.Hash{}
		}
		d.dirs[first][rest] = h
	}
	var t object.Tree
	for name, h := range d.files {
		t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h})
	}
	for name, sub := range d.dirs {
		t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: r.writeTree(sub)})
	}
	// Git orders a directory as if its name ended in a slash.
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	slices.SortFunc(t.Entries, func(a, b object.TreeEntry) int { return strings.Compare(key(a), key(b)) })
	obj := r.repo.Storer.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		r.t.Fatal(err)
	}
	if h := obj.Hash(); r.trees[h] {
		return h
	}
	h, err := r.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		r.t.Fatal(err)
	}
	r.trees[h] = true
	return h
}

// importFiles commits n generated files on main with git fast-import, in
// one pack, the way a long-lived remote stores its history. It is much
// faster than writing them one loose object at a time.
func (r *testRepo) importFiles(files map[string]string) string {
	r.t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "commit refs/heads/main\ncommitter Test <test@example.com> %d +0000\ndata 7\nimport\n", time.Now().Unix())
	if !r.head.IsZero() {
		fmt.Fprintf(&b, "from %s\n", r.head)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&b, "M 100644 inline %s\ndata %d\n%s\n", name, len(files[name]), files[name])
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = r.bare
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	cmd.Stdin = &b
	if out, err := cmd.CombinedOutput(); err != nil {
		r.t.Fatalf("git fast-import: %v\n%s", err, out)
	}
	// Reopen: the pack and the ref were written behind go-git's back.
	repo, err := git.PlainOpen(r.bare)
	if err != nil {
		r.t.Fatal(err)
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName("main"), false)
	if err != nil {
		r.t.Fatal(err)
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		r.t.Fatal(err)
	}
	tree, err := c.Tree()
	if err != nil {
		r.t.Fatal(err)
	}
	r.repo, r.head = repo, ref.Hash()
	r.files = map[string]plumbing.Hash{}
	err = tree.Files().ForEach(func(f *object.File) error {
		r.files[f.Name] = f.Hash
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return r.head.String()
}

// git runs the git CLI in dir, isolated from the machine's configuration.
func gitCLI(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
