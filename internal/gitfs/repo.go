// Package gitfs reads a catalog straight from a git revision, without a
// checkout: a commit's tree is served as a read-only io/fs.FS, and two
// commits can be compared by tree hashes to find the files a revision
// changed.
//
// Reading from the object store instead of a work tree lets pier plan any
// revision (a pull request's head, the previous deploy) while the work
// tree stays where it is, and lets an incremental reload skip every
// directory whose tree hash did not change.
package gitfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// ErrUnknownRevision is returned, wrapped, when a revision names no
// commit.
var ErrUnknownRevision = errors.New("unknown revision")

// Repo is an opened git repository. It is safe for concurrent use.
type Repo struct {
	// mu serialises every access to the object store: go-git's storage
	// keeps unsynchronised caches and pack indexes, and the catalog
	// loader reads files from many goroutines. It also guards the
	// caches of the TreeFS values made from this Repo.
	mu   sync.Mutex
	repo *git.Repository
}

// maxOpenPacks bounds the pack files a Repo keeps open. Without it go-git
// opens and closes a pack file for every object it reads, which made
// reading a 20,000-file catalog several times slower.
const maxOpenPacks = 16

// Open opens the git repository at or above dir: a work tree (its root or
// any directory below it) or a bare repository. Close releases it.
func Open(dir string) (*Repo, error) {
	// go-git's parent search looks only for a .git entry, so it would
	// walk past a bare repository (or find a work tree enclosing it);
	// try dir itself first.
	r, err := plainOpen(dir, false)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		r, err = plainOpen(dir, true)
	}
	if err != nil {
		return nil, fmt.Errorf("open git repository %s: %w", dir, err)
	}
	// Reopen the located repository with storage that keeps pack files
	// open. PlainOpen does not take storage options, and pier never
	// touches the work tree, so none is attached.
	if st, ok := r.Storer.(*filesystem.Storage); ok {
		_ = st.Close() // nothing is open yet; the new storage replaces it
		s := filesystem.NewStorageWithOptions(st.Filesystem(), cache.NewObjectLRUDefault(), filesystem.Options{MaxOpenDescriptors: maxOpenPacks})
		if r, err = git.Open(s, nil); err != nil {
			return nil, fmt.Errorf("open git repository %s: %w", dir, err)
		}
	}
	return &Repo{repo: r}, nil
}

func plainOpen(dir string, detect bool) (*git.Repository, error) {
	return git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{
		DetectDotGit: detect,
		// Linked work trees (git worktree add) keep their objects in
		// the main repository's common directory.
		EnableDotGitCommonDir: true,
	})
}

// Close releases files the object store holds open.
func (r *Repo) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.repo.Storer.(io.Closer); ok {
		if err := c.Close(); err != nil {
			return fmt.Errorf("close git repository: %w", err)
		}
	}
	return nil
}

// Resolve returns the commit a revision names. It accepts what
// git rev-parse does for a commit: full and abbreviated hashes, branch,
// tag and remote-tracking names (main, v1.2.0, origin/main), HEAD, and
// ancestry suffixes (HEAD~1, main^2). Annotated tags resolve to the
// commit they tag.
func (r *Repo) Resolve(rev string) (plumbing.Hash, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resolve(rev)
}

func (r *Repo) resolve(rev string) (plumbing.Hash, error) {
	if rev == "" {
		return plumbing.ZeroHash, fmt.Errorf("resolve revision: empty revision: %w", ErrUnknownRevision)
	}
	if err := checkSyntax(rev); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("resolve revision %q: %w", rev, err)
	}
	// A full commit hash, what the reconciler passes around, needs no
	// reference lookup; go-git would still probe half a dozen ref files
	// for it, the bulk of a small ChangedFiles call.
	if plumbing.IsHash(rev) {
		h := plumbing.NewHash(rev)
		if _, err := r.repo.Storer.EncodedObject(plumbing.CommitObject, h); err == nil {
			return h, nil
		}
	}
	h, err := r.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		// A long-lived Repo has not seen pack files written since
		// Open (by git fetch or git gc); read the pack indexes again
		// and retry once before giving up.
		r.reindex()
		h, err = r.repo.ResolveRevision(plumbing.Revision(rev))
	}
	switch {
	case err == nil:
		return *h, nil
	case errors.Is(err, plumbing.ErrReferenceNotFound), errors.Is(err, plumbing.ErrObjectNotFound):
		return plumbing.ZeroHash, fmt.Errorf("resolve revision %q: %w", rev, ErrUnknownRevision)
	case errors.Is(err, io.EOF):
		// go-git reports walking past the root commit (HEAD~5 in a
		// four-commit history) as the end of the parent iterator.
		return plumbing.ZeroHash, fmt.Errorf("resolve revision %q: no such ancestor: %w", rev, ErrUnknownRevision)
	}
	return plumbing.ZeroHash, fmt.Errorf("resolve revision %q: %w", rev, err)
}

// checkSyntax rejects revision forms that go-git parses but then ignores,
// resolving them to the plain reference: HEAD@{1} (reflog), HEAD:file
// (a path) and HEAD^{tree} (another object type) would otherwise all
// silently mean HEAD.
func checkSyntax(rev string) error {
	if strings.Contains(rev, "@{") || strings.Contains(rev, ":") {
		return errors.New("reflog and path revisions are not supported")
	}
	for rest := rev; ; {
		i := strings.Index(rest, "^{")
		if i < 0 {
			return nil
		}
		rest = rest[i+2:]
		// ^{} and ^{commit} peel to a commit; ^{/text} searches
		// history. Both yield a commit.
		if !strings.HasPrefix(rest, "}") && !strings.HasPrefix(rest, "commit}") && !strings.HasPrefix(rest, "/") {
			return errors.New("only commits can be resolved")
		}
	}
}

// reindex makes the object store forget its pack indexes, so objects in
// pack files added after Open become visible.
func (r *Repo) reindex() {
	if s, ok := r.repo.Storer.(interface{ Reindex() }); ok {
		s.Reindex()
	}
}

// object reads one object, retrying once with fresh pack indexes; see
// resolve.
func (r *Repo) object(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	o, err := r.repo.Storer.EncodedObject(t, h)
	if err != nil {
		r.reindex()
		o, err = r.repo.Storer.EncodedObject(t, h)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", t, h, err)
	}
	return o, nil
}

func (r *Repo) commit(h plumbing.Hash) (*object.Commit, error) {
	o, err := r.object(plumbing.CommitObject, h)
	if err != nil {
		return nil, err
	}
	c, err := object.DecodeCommit(r.repo.Storer, o)
	if err != nil {
		return nil, fmt.Errorf("decode commit %s: %w", h, err)
	}
	return c, nil
}

// entries returns a tree's entries sorted by name, the order io/fs
// promises. Git sorts a directory as if its name ended in a slash, so
// "a.b" precedes the directory "a" in a tree object.
func (r *Repo) entries(h plumbing.Hash) ([]object.TreeEntry, error) {
	o, err := r.object(plumbing.TreeObject, h)
	if err != nil {
		return nil, err
	}
	t, err := object.DecodeTree(r.repo.Storer, o)
	if err != nil {
		return nil, fmt.Errorf("decode tree %s: %w", h, err)
	}
	es := t.Entries
	sortEntries(es)
	return es, nil
}

// blob reads a whole blob.
func (r *Repo) blob(h plumbing.Hash) ([]byte, error) {
	o, err := r.object(plumbing.BlobObject, h)
	if err != nil {
		return nil, err
	}
	rd, err := o.Reader()
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	defer rd.Close()
	var b bytes.Buffer
	b.Grow(int(o.Size()) + bytes.MinRead)
	if _, err := b.ReadFrom(rd); err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	return b.Bytes(), nil
}

// blobSize returns a blob's size, from the object header alone when the
// store can do that.
func (r *Repo) blobSize(h plumbing.Hash) (int64, error) {
	if s, ok := r.repo.Storer.(interface {
		EncodedObjectSize(plumbing.Hash) (int64, error)
	}); ok {
		if n, err := s.EncodedObjectSize(h); err == nil {
			return n, nil
		}
	}
	o, err := r.object(plumbing.BlobObject, h)
	if err != nil {
		return 0, err
	}
	return o.Size(), nil
}

// FS returns the tree of the commit rev names as a read-only file system,
// rooted at subdir ("" or "." for the whole tree). Symbolic links inside
// the tree are followed as a checkout would; see TreeFS.
func (r *Repo) FS(rev, subdir string) (*TreeFS, error) {
	sub, err := cleanSubdir(subdir)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	h, err := r.resolve(rev)
	if err != nil {
		return nil, err
	}
	c, err := r.commit(h)
	if err != nil {
		return nil, fmt.Errorf("open revision %q: %w", rev, err)
	}
	fsys := newTreeFS(r, c.Hash, c.TreeHash, c.Committer.When)
	if sub == "." {
		return fsys, nil
	}
	e, err := fsys.lookup("open", sub, true)
	if err != nil {
		return nil, fmt.Errorf("open revision %q: %w", rev, err)
	}
	switch e.Mode {
	case filemode.Dir:
		return newTreeFS(r, c.Hash, e.Hash, c.Committer.When), nil
	case filemode.Submodule:
		// Its tree lives in another repository.
		return nil, fmt.Errorf("open revision %q: %w", rev, &fs.PathError{Op: "open", Path: sub, Err: errSubmodule})
	}
	return nil, fmt.Errorf("open revision %q: %w", rev, &fs.PathError{Op: "open", Path: sub, Err: errNotDir})
}

// cleanSubdir turns a caller's sub-directory ("catalog/", "./catalog",
// "") into an io/fs path.
func cleanSubdir(subdir string) (string, error) {
	s := strings.Trim(subdir, "/")
	if s == "" {
		s = "."
	}
	s = path.Clean(s)
	if !fs.ValidPath(s) {
		return "", fmt.Errorf("sub-directory %q: %w", subdir, fs.ErrInvalid)
	}
	return s, nil
}
