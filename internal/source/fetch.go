package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/utils/ioutil"
)

// This file moves objects into the cache, in place of go-git's
// Remote.Fetch; doc.go says why.

// ErrBranchNotFound is returned, wrapped, when the repository has no
// branch of the configured name.
var ErrBranchNotFound = errors.New("branch not found")

// upstream is one conversation with the repository a Git follows: first
// where the branch is, then, only if needed, its objects.
type upstream interface {
	// head returns the commit the branch points at.
	head() plumbing.Hash
	// fetch adds to the cache what it lacks of the history of want.
	// haves are commits the cache has, complete with their history.
	fetch(ctx context.Context, want plumbing.Hash, haves []plumbing.Hash) error
	close() error
}

// dialProtocol starts a git protocol session (HTTP, SSH, git://) and
// reads the ref advertisement, which is what git ls-remote does: one
// round trip, no objects.
func (g *Git) dialProtocol(ctx context.Context, ref plumbing.ReferenceName) (upstream, error) {
	sess, err := g.client.NewUploadPackSession(g.remote.endpoint, g.auth)
	if err != nil {
		return nil, err
	}
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		err = ErrBranchNotFound // an empty repository has no branches at all
	}
	if err != nil {
		_ = sess.Close()
		return nil, err
	}
	h, ok := adv.References[ref.String()]
	if !ok {
		_ = sess.Close()
		return nil, ErrBranchNotFound
	}
	return &protocolUpstream{sess: sess, adv: adv, at: h, dst: g.repo.Storer}, nil
}

type protocolUpstream struct {
	sess transport.UploadPackSession
	adv  *packp.AdvRefs
	at   plumbing.Hash
	dst  storer.Storer
}

func (u *protocolUpstream) head() plumbing.Hash { return u.at }

func (u *protocolUpstream) close() error { return u.sess.Close() }

// fetch asks for want, offering haves as common history, and stores the
// pack the server sends. Nothing is shallow: the cache has full history,
// so a later fetch can always negotiate from what it has (go-git's
// fetches into shallow clones fail with "object not found").
func (u *protocolUpstream) fetch(ctx context.Context, want plumbing.Hash, haves []plumbing.Hash) error {
	req := packp.NewUploadPackRequestFromCapabilities(u.adv.Capabilities)
	if u.adv.Capabilities.Supports(capability.NoProgress) {
		if err := req.Capabilities.Set(capability.NoProgress); err != nil {
			return err
		}
	}
	req.Wants = []plumbing.Hash{want}
	req.Haves = haves
	resp, err := u.sess.UploadPack(ctx, req)
	if errors.Is(err, transport.ErrEmptyUploadPackRequest) {
		return nil
	}
	if err != nil {
		return err
	}
	body := ioutil.NewContextReadCloser(ctx, resp)
	defer body.Close()
	var pack io.Reader = body
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		pack = sideband.NewDemuxer(sideband.Sideband64k, body)
	case req.Capabilities.Supports(capability.Sideband):
		pack = sideband.NewDemuxer(sideband.Sideband, body)
	}
	if err := packfile.UpdateObjectStorage(u.dst, pack); err != nil {
		return fmt.Errorf("write pack: %w", err)
	}
	return nil
}

// dialLocal opens a repository on this machine (a bare one or a work
// tree) and reads where the branch is.
//
// Local repositories are not served through the git protocol: go-git's
// file transport runs the git binary, and its in-process server walks
// every object of the commits the client has on each fetch and
// delta-compresses every object it sends, which made a one-commit fetch
// from a 20,000-file repository take 100 ms and a first clone seconds.
// Copying the missing objects straight from one object store to the
// other needs neither.
func (g *Git) dialLocal(_ context.Context, want plumbing.ReferenceName) (upstream, error) {
	path := g.remote.endpoint.Path
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %w", transport.ErrRepositoryNotFound, err)
	}
	r, err := git.PlainOpenWithOptions(path, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("%w: %s is not a git repository", transport.ErrRepositoryNotFound, path)
	}
	if err != nil {
		return nil, err
	}
	src := r.Storer
	if st, ok := src.(*filesystem.Storage); ok {
		// Keep pack files open while copying; go-git otherwise
		// opens and closes one for every object it reads.
		src = filesystem.NewStorageWithOptions(st.Filesystem(), cache.NewObjectLRUDefault(), filesystem.Options{MaxOpenDescriptors: 16})
	}
	u := &localUpstream{src: src, dst: g.repo.Storer}
	ref, err := storer.ResolveReference(src, want)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		err = ErrBranchNotFound
	}
	if err != nil {
		u.close()
		return nil, err
	}
	u.at = ref.Hash()
	return u, nil
}

type localUpstream struct {
	src    storer.Storer
	dst    storer.Storer
	at     plumbing.Hash
	copied int // objects the last fetch copied
}

func (u *localUpstream) head() plumbing.Hash { return u.at }

func (u *localUpstream) close() error {
	if c, ok := u.src.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// fetch copies the objects of want's history that the cache lacks into
// one new pack. The walk stops at every commit and tree the cache has:
// the cache only ever gains whole histories (a pack is written whole or
// not at all), so what it has, it has completely. Trees are compared with
// the tree of the first have, as a tree diff would, so entries that did
// not change are skipped without even asking the cache, and a one-file
// commit costs only the trees on that file's path.
func (u *localUpstream) fetch(ctx context.Context, want plumbing.Hash, haves []plumbing.Hash) error {
	w := &missingWalker{src: u.src, dst: u.dst, seen: map[plumbing.Hash]bool{}}
	if len(haves) > 0 {
		if c, err := object.GetCommit(u.dst, haves[0]); err == nil {
			w.base = c.TreeHash
		}
	}
	if err := w.commits(ctx, want); err != nil {
		return err
	}
	u.copied = len(w.missing)
	if len(w.missing) == 0 {
		return nil
	}
	pw, ok := u.dst.(storer.PackfileWriter)
	if !ok {
		return errors.New("cache storage cannot write packs")
	}
	out, err := pw.PackfileWriter()
	if err != nil {
		return err
	}
	// No delta search: catalog files are small, and it was most of the
	// cost of a clone.
	if _, err := packfile.NewEncoder(out, u.src, false).Encode(w.missing, 0); err != nil {
		_ = out.Close()
		return fmt.Errorf("write pack: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("write pack: %w", err)
	}
	return nil
}

// missingWalker lists the objects reachable from a commit that the cache
// does not have.
type missingWalker struct {
	src, dst storer.EncodedObjectStorer
	base     plumbing.Hash // a root tree the cache has, or zero
	seen     map[plumbing.Hash]bool
	missing  []plumbing.Hash
}

// need reports whether h is yet to be visited and missing from the cache,
// and marks it visited.
func (w *missingWalker) need(h plumbing.Hash) bool {
	if w.seen[h] {
		return false
	}
	w.seen[h] = true
	return w.dst.HasEncodedObject(h) != nil
}

func (w *missingWalker) commits(ctx context.Context, want plumbing.Hash) error {
	queue := []plumbing.Hash{want}
	for len(queue) > 0 {
		h := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if !w.need(h) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := object.GetCommit(w.src, h)
		if err != nil {
			return fmt.Errorf("read commit %s: %w", h, err)
		}
		w.missing = append(w.missing, h)
		if err := w.tree(c.TreeHash, w.base); err != nil {
			return err
		}
		queue = append(queue, c.ParentHashes...)
	}
	return nil
}

// tree visits tree h, where the cache has tree old (or zero).
func (w *missingWalker) tree(h, old plumbing.Hash) error {
	if h == old || !w.need(h) {
		return nil
	}
	t, err := object.GetTree(w.src, h)
	if err != nil {
		return fmt.Errorf("read tree %s: %w", h, err)
	}
	w.missing = append(w.missing, h)
	had := map[string]plumbing.Hash{}
	if !old.IsZero() {
		if ot, err := object.GetTree(w.dst, old); err == nil {
			for _, e := range ot.Entries {
				had[e.Name] = e.Hash
			}
		}
	}
	for _, e := range t.Entries {
		switch {
		case had[e.Name] == e.Hash:
			// Unchanged: the cache has it, and all below it.
		case e.Mode == filemode.Dir:
			if err := w.tree(e.Hash, had[e.Name]); err != nil {
				return err
			}
		case e.Mode == filemode.Submodule:
			// A commit of another repository.
		case w.need(e.Hash):
			w.missing = append(w.missing, e.Hash)
		}
	}
	return nil
}
