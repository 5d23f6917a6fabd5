package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	gitclient "github.com/go-git/go-git/v5/plumbing/transport/git"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/pierhq/pier/internal/gitfs"
	"github.com/pierhq/pier/internal/redact"
)

// DefaultBranch is the branch a Git source follows when none is set.
const DefaultBranch = "main"

// maxPacks is how many pack files the cache may gather before Fetch
// repacks it into one. Every fetch that brings objects adds a pack, and
// every object lookup consults every pack's index, so a daemon that
// fetches for months would otherwise slow down read by read.
const maxPacks = 50

// GitOptions configures a Git source.
type GitOptions struct {
	// URL is the repository: https://, http://, ssh://, git://, file://,
	// an scp-like address (git@github.com:acme/catalog.git) or a local
	// path to a bare repository or a work tree. User info in an HTTP URL
	// is used as credentials and kept out of errors and logs.
	URL string
	// Branch is followed; DefaultBranch if empty.
	Branch string
	// Path is the catalog's sub-directory in the repository; the whole
	// tree if empty.
	Path string
	// CacheDir holds the clone, a bare repository pier owns (for
	// example data/git/catalog). It is reused across restarts. Give each
	// repository its own directory.
	CacheDir string

	// Token authenticates HTTPS fetches, as GitHub expects an installation
	// or personal access token: user x-access-token, the token as
	// password.
	Token string
	// Tokens, instead of Token, is asked for the token of each fetch: a
	// GitHub App's installation tokens expire within the hour, and a
	// renewed one must be used from the next fetch on.
	Tokens func(context.Context) (string, error)
	// SSHKeyFile is a PEM private key for SSH; without it the ssh-agent
	// at SSH_AUTH_SOCK is used.
	SSHKeyFile       string
	SSHKeyPassphrase string
	// SSHKnownHosts is a known_hosts file the SSH server's key is checked
	// against. If empty, the files ssh itself reads are used
	// ($SSH_KNOWN_HOSTS, ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts);
	// when none exists NewGit fails. Host keys are always verified.
	SSHKnownHosts string

	// Logger receives one line per fetch; nil discards.
	Logger *slog.Logger
	// OnFetch, if set, is called after every Fetch with its duration and
	// its error (nil on success, whether or not the branch moved), for
	// metrics.
	OnFetch func(d time.Duration, err error)
}

// Git follows one branch of a git repository. Its methods are safe for
// concurrent use; fetches are serialised.
type Git struct {
	remote  remote
	branch  string
	ref     plumbing.ReferenceName // refs/heads/<branch> on the remote
	track   plumbing.ReferenceName // refs/remotes/origin/<branch> in the cache
	path    string                 // "." for the whole tree
	dir     string
	auth    transport.AuthMethod
	tokens  func(context.Context) (string, error) // GitOptions.Tokens
	client  transport.Transport                   // for dialProtocol
	dial    func(context.Context, plumbing.ReferenceName) (upstream, error)
	redact  redact.Secrets
	log     *slog.Logger
	onFetch func(time.Duration, error)

	mu       sync.Mutex
	repo     *git.Repository // the cache, written by fetches
	files    *gitfs.Repo     // the cache, read by revisions
	last     *Revision       // the revision Fetch last yielded
	maxPacks int
}

// NewGit checks the options and prepares the credentials. It does not
// touch the network or the cache directory; the first Fetch does.
func NewGit(opts GitOptions) (*Git, error) {
	rem, err := parseRemote(opts.URL)
	if err != nil {
		return nil, err
	}
	branch := opts.Branch
	if branch == "" {
		branch = DefaultBranch
	}
	ref := plumbing.NewBranchReferenceName(branch)
	if err := ref.Validate(); err != nil {
		return nil, fmt.Errorf("git source %s: invalid branch name %q", rem.display, branch)
	}
	sub, err := cleanPath(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("git source %s: %w", rem.display, err)
	}
	if opts.CacheDir == "" {
		return nil, fmt.Errorf("git source %s: no cache directory", rem.display)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Git{
		remote:   rem,
		branch:   branch,
		ref:      ref,
		track:    plumbing.NewRemoteReferenceName(git.DefaultRemoteName, branch),
		path:     sub,
		dir:      opts.CacheDir,
		log:      log.With("url", rem.display, "branch", branch),
		onFetch:  opts.OnFetch,
		maxPacks: maxPacks,
	}
	secrets := []string{opts.Token, rem.password, opts.SSHKeyPassphrase}
	if rem.password == "" {
		// https://TOKEN@github.com/…: the user name is the secret.
		secrets = append(secrets, rem.user)
	}
	g.redact = redact.New(secrets...)
	if err := g.setTransport(opts); err != nil {
		return nil, g.redact.Error(fmt.Errorf("git source %s: %w", rem.display, err))
	}
	return g, nil
}

// setTransport picks the transport and credentials for the URL's scheme.
// Credentials meant for another scheme are an error rather than silently
// unused, so a misconfiguration shows at start-up.
func (g *Git) setTransport(opts GitOptions) error {
	ep := g.remote.endpoint
	hasSSH := opts.SSHKeyFile != "" || opts.SSHKnownHosts != "" || opts.SSHKeyPassphrase != ""
	hasToken := opts.Token != "" || opts.Tokens != nil
	switch {
	case opts.Token != "" && opts.Tokens != nil:
		return errors.New("a token and a token source given: one of them")
	case g.remote.isHTTP():
		if hasSSH {
			return errors.New("SSH options given for an HTTP URL")
		}
		g.client, g.dial = githttp.NewClient(nil), g.dialProtocol
		switch {
		case opts.Tokens != nil:
			g.tokens = opts.Tokens
		case opts.Token != "":
			g.auth = tokenAuth(opts.Token)
		case g.remote.user != "" || g.remote.password != "":
			g.auth = &githttp.BasicAuth{Username: g.remote.user, Password: g.remote.password}
		}
		if (g.auth != nil || g.tokens != nil) && ep.Protocol == "http" {
			g.log.Warn("credentials will be sent unencrypted over http")
		}
		return nil
	case hasToken:
		return fmt.Errorf("a token is for HTTPS URLs, not %s", ep.Protocol)
	case ep.Protocol == "ssh":
		auth, err := sshAuth(ep.User, opts)
		if err != nil {
			return err
		}
		g.client, g.auth, g.dial = gitssh.NewClient(nil), auth, g.dialProtocol
		return nil
	case hasSSH:
		return fmt.Errorf("SSH options given for a %s URL", ep.Protocol)
	case ep.Protocol == "git":
		g.client, g.dial = gitclient.DefaultClient, g.dialProtocol
		return nil
	case ep.Protocol == "file":
		g.dial = g.dialLocal
		return nil
	}
	return fmt.Errorf("unsupported protocol %q", ep.Protocol)
}

// tokenAuth is how GitHub takes a token over HTTPS: any user name (by
// convention x-access-token), the token as password.
func tokenAuth(token string) transport.AuthMethod {
	return &githttp.BasicAuth{Username: "x-access-token", Password: token}
}

// sshAuth builds SSH credentials that always verify the server's host
// key: pier applies what the catalog says, so a man in the middle who
// could serve a catalog could act in pier's name.
func sshAuth(user string, opts GitOptions) (gitssh.AuthMethod, error) {
	if user == "" {
		user = "git"
	}
	var files []string
	if opts.SSHKnownHosts != "" {
		if _, err := os.Stat(opts.SSHKnownHosts); err != nil {
			return nil, fmt.Errorf("ssh known hosts: %w", err)
		}
		files = append(files, opts.SSHKnownHosts)
	}
	hostKeys, err := gitssh.NewKnownHostsCallback(files...)
	if err != nil {
		return nil, fmt.Errorf("ssh known hosts (set SSHKnownHosts): %w", err)
	}
	if opts.SSHKeyFile == "" {
		a, err := gitssh.NewSSHAgentAuth(user)
		if err != nil {
			return nil, fmt.Errorf("ssh: no key file given and no agent: %w", err)
		}
		a.HostKeyCallback = hostKeys
		return a, nil
	}
	k, err := gitssh.NewPublicKeysFromFile(user, opts.SSHKeyFile, opts.SSHKeyPassphrase)
	if err != nil {
		return nil, fmt.Errorf("ssh key %s: %w", opts.SSHKeyFile, err)
	}
	k.HostKeyCallback = hostKeys
	return k, nil
}

// Fetch brings the cache up to date with the branch and returns the
// revision at its head. changed is false when the head is the commit
// Fetch returned last time; the same revision comes back then.
//
// It first lists the remote's refs and stops there when the branch has
// not moved, so a poll that finds nothing new transfers no objects. The
// first Fetch of a process yields the cached head without downloading
// anything if the remote still points at it. Otherwise it downloads what
// the cache lacks, in a full (not shallow) clone, and only then moves
// the remote-tracking ref, so an interrupted fetch leaves the cache as it
// was.
//
// Errors name the URL, without credentials, and the branch.
func (g *Git) Fetch(ctx context.Context) (Revision, bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	start := time.Now()
	rev, changed, err := g.fetch(ctx)
	if err != nil {
		red := g.redact
		if ba, ok := g.auth.(*githttp.BasicAuth); ok && g.tokens != nil {
			red = slices.Clip(red).Add(ba.Password) // this fetch's token
		}
		err = red.Error(fmt.Errorf("fetch %s (branch %s): %w", g.remote.display, g.branch, err))
	}
	took := time.Since(start)
	if g.onFetch != nil {
		g.onFetch(took, err)
	}
	switch {
	case err != nil:
		g.log.Warn("fetch failed", "took", took, "err", err)
	case changed:
		g.log.Info("fetched", "revision", rev.ID, "took", took)
	default:
		g.log.Debug("unchanged", "revision", rev.ID, "took", took)
	}
	return rev, changed, err
}

// fetch runs the steps of Fetch: open the cache, list the remote head,
// download if it moved, record it, and build the revision.
func (g *Git) fetch(ctx context.Context) (Revision, bool, error) {
	if err := ctx.Err(); err != nil {
		return Revision{}, false, err
	}
	if err := g.openCache(); err != nil {
		return Revision{}, false, err
	}
	if g.tokens != nil {
		tok, err := g.tokens(ctx)
		if err != nil {
			return Revision{}, false, fmt.Errorf("token: %w", err)
		}
		g.auth = nil
		if tok != "" {
			g.auth = tokenAuth(tok)
		}
	}
	up, err := g.dial(ctx, g.ref)
	if err != nil {
		return Revision{}, false, err
	}
	defer up.close()
	head := up.head()
	if g.last != nil && g.last.ID == head.String() {
		return *g.last, false, nil
	}
	if !g.tracks(head) {
		if err := g.update(ctx, up, head); err != nil {
			return Revision{}, false, err
		}
	}
	rev, err := g.revision(head)
	if err != nil {
		return Revision{}, false, err
	}
	g.last = &rev
	g.repack()
	return rev, true, nil
}

// openCache opens the bare repository in the cache directory, creating
// it on first use. A directory that holds something other than a
// repository is refused rather than written into.
func (g *Git) openCache() error {
	if g.repo != nil {
		return nil
	}
	repo, err := git.PlainOpen(g.dir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		if es, rerr := os.ReadDir(g.dir); rerr == nil && len(es) > 0 {
			return fmt.Errorf("cache directory %s is not empty and not a git repository", g.dir)
		}
		if err = os.MkdirAll(g.dir, 0o755); err == nil {
			repo, err = git.PlainInit(g.dir, true)
		}
	}
	if err != nil {
		return fmt.Errorf("open cache %s: %w", g.dir, err)
	}
	if err := g.configure(repo); err != nil {
		return fmt.Errorf("configure cache %s: %w", g.dir, err)
	}
	files, err := gitfs.Open(g.dir)
	if err != nil {
		return fmt.Errorf("open cache: %w", err)
	}
	g.repo, g.files = repo, files
	return nil
}

// configure records the remote in the cache's config. pier does not read
// it back; it is there so that git commands run in the cache directory
// (git log origin/main) work when someone debugs it. It also sets the
// pack window go-git's repack uses.
func (g *Git) configure(repo *git.Repository) error {
	cfg, err := repo.Config()
	if err != nil {
		return err
	}
	dirty := false
	// Repack without delta search: catalog files are small, and delta
	// search was most of the cost of a repack (seconds for 20,000
	// files).
	if cfg.Pack.Window != 0 {
		cfg.Pack.Window = 0
		dirty = true
	}
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", g.ref, g.track))
	rc, ok := cfg.Remotes[git.DefaultRemoteName]
	if !ok {
		rc = &config.RemoteConfig{Name: git.DefaultRemoteName}
		cfg.Remotes[rc.Name] = rc
	}
	if !dirty && len(rc.URLs) == 1 && rc.URLs[0] == g.remote.display && slices.Contains(rc.Fetch, spec) {
		return nil
	}
	if len(rc.URLs) > 0 && rc.URLs[0] != g.remote.display {
		// Objects are named by content, so the old ones do no harm.
		g.log.Info("cache was fetched from another URL; following the new one", "old", g.redact.String(rc.URLs[0]))
		rc.Fetch = nil
	}
	rc.URLs = []string{g.remote.display}
	if !slices.Contains(rc.Fetch, spec) {
		rc.Fetch = append(rc.Fetch, spec)
	}
	return repo.SetConfig(cfg)
}

// tracks reports whether the cache's remote-tracking ref is at head and
// the commit is there, so there is nothing to download.
func (g *Git) tracks(head plumbing.Hash) bool {
	r, err := g.repo.Storer.Reference(g.track)
	return err == nil && r.Hash() == head && g.hasCommit(head)
}

// update downloads what the cache lacks of head and then moves the
// remote-tracking ref to it, so that the ref never points at a commit
// whose objects are not all there.
func (g *Git) update(ctx context.Context, up upstream, head plumbing.Hash) error {
	// The branch may have moved back to a commit the cache has; then
	// there is nothing to download.
	if !g.hasCommit(head) {
		haves, err := g.haves()
		if err != nil {
			return fmt.Errorf("list cached refs: %w", err)
		}
		if err := up.fetch(ctx, head, haves); err != nil {
			return err
		}
		if !g.hasCommit(head) {
			return fmt.Errorf("commit %s missing after fetch", head)
		}
	}
	if err := g.repo.Storer.SetReference(plumbing.NewHashReference(g.track, head)); err != nil {
		return fmt.Errorf("update %s: %w", g.track, err)
	}
	return nil
}

// haves lists the commits the cache has, for the server to leave out of
// the pack: the tips of the remote-tracking branches. A server takes a
// have as the whole history below it, and ignores one it does not know
// (after a force push), sending more.
func (g *Git) haves() ([]plumbing.Hash, error) {
	refs, err := g.repo.Storer.IterReferences()
	if err != nil {
		return nil, err
	}
	var out []plumbing.Hash
	err = refs.ForEach(func(r *plumbing.Reference) error {
		if r.Type() == plumbing.HashReference && r.Name().IsRemote() && g.hasCommit(r.Hash()) {
			out = append(out, r.Hash())
		}
		return nil
	})
	return out, err
}

func (g *Git) hasCommit(h plumbing.Hash) bool {
	return g.repo.Storer.HasEncodedObject(h) == nil
}

// revision describes commit head: its tree under the configured path, and
// the files that differ from the revision yielded before, by comparing
// the two trees. A tree comparison needs no common history, so Changed
// stays exact after a force push too.
func (g *Git) revision(head plumbing.Hash) (Revision, error) {
	id := head.String()
	c, err := g.repo.CommitObject(head)
	if err != nil {
		return Revision{}, fmt.Errorf("read commit %s: %w", id, err)
	}
	fsys, err := g.files.FS(id, g.path)
	if err != nil {
		return Revision{}, fmt.Errorf("read path %q: %w", g.path, err)
	}
	rev := Revision{ID: id, FS: fsys, Time: c.Committer.When}
	if g.last != nil {
		rev.Changed = g.changed(g.last.ID, id)
	}
	return rev, nil
}

// changed lists the files under the path that differ between two
// commits, or nil (rescan everything) if they cannot be compared.
func (g *Git) changed(from, to string) []string {
	cs, err := g.files.ChangedFiles(from, to, g.path)
	if err != nil {
		g.log.Warn("cannot compare revisions; the catalog will be rescanned", "from", from, "to", to, "err", err)
		return nil
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Path
	}
	slices.Sort(out)
	return out
}

// repack merges the cache's packs into one when there are more than
// maxPacks. Unreachable objects (history a force push dropped) go too.
// A failure is logged, not returned: the fetch itself succeeded.
func (g *Git) repack() {
	pos, ok := g.repo.Storer.(storer.PackedObjectStorer)
	if !ok {
		return
	}
	packs, err := pos.ObjectPacks()
	if err != nil || len(packs) <= g.maxPacks {
		return
	}
	start := time.Now()
	err = g.repo.RepackObjects(&git.RepackConfig{})
	// go-git deletes the old packs but keeps them in its index; make it
	// read the pack directory again. (gitfs, reading the same cache,
	// does so by itself when an object is not where it expected.)
	if s, ok := g.repo.Storer.(interface{ Reindex() }); ok {
		s.Reindex()
	}
	if err != nil {
		g.log.Warn("repack failed", "packs", len(packs), "err", err)
		return
	}
	g.log.Info("repacked cache", "packs", len(packs), "took", time.Since(start))
}

// Close releases the cache's open files. Revisions already returned
// cannot be read afterwards.
func (g *Git) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var errs []error
	if g.files != nil {
		errs = append(errs, g.files.Close())
	}
	if g.repo != nil {
		if c, ok := g.repo.Storer.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	g.repo, g.files, g.last = nil, nil, nil
	return errors.Join(errs...)
}

// cleanPath turns a configured sub-directory ("catalog/", "./catalog",
// "") into an io/fs path, "." for the root. It may not climb out of the
// root.
func cleanPath(p string) (string, error) {
	s := strings.Trim(filepath.ToSlash(p), "/")
	if s == "" {
		return ".", nil
	}
	s = path.Clean(s)
	if !fs.ValidPath(s) {
		return "", fmt.Errorf("invalid path %q", p)
	}
	return s, nil
}

// FetchRef downloads the commit another ref of the repository points at,
// such as a pull request's refs/pull/7/head, for planning it: the
// followed branch and what Fetch yields next are not changed. The commit
// is kept under refs/remotes/origin/ (pull/7/head) so that later fetches
// offer it as common history and a push to the pull request downloads
// only what it added. Changed is relative to the revision Fetch last
// yielded, so a pull request's head is read incrementally from the
// state being served.
func (g *Git) FetchRef(ctx context.Context, ref string) (Revision, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	rev, err := g.fetchRef(ctx, plumbing.ReferenceName(ref))
	if err != nil {
		red := g.redact
		if ba, ok := g.auth.(*githttp.BasicAuth); ok && g.tokens != nil {
			red = slices.Clip(red).Add(ba.Password)
		}
		return Revision{}, red.Error(fmt.Errorf("fetch %s (ref %s): %w", g.remote.display, ref, err))
	}
	return rev, nil
}

func (g *Git) fetchRef(ctx context.Context, ref plumbing.ReferenceName) (Revision, error) {
	if !strings.HasPrefix(ref.String(), "refs/") || ref.Validate() != nil {
		return Revision{}, fmt.Errorf("invalid ref name %q", ref)
	}
	if err := ctx.Err(); err != nil {
		return Revision{}, err
	}
	if err := g.openCache(); err != nil {
		return Revision{}, err
	}
	if g.tokens != nil {
		tok, err := g.tokens(ctx)
		if err != nil {
			return Revision{}, fmt.Errorf("token: %w", err)
		}
		g.auth = nil
		if tok != "" {
			g.auth = tokenAuth(tok)
		}
	}
	up, err := g.dial(ctx, ref)
	if errors.Is(err, ErrBranchNotFound) {
		err = ErrRevisionNotFound
	}
	if err != nil {
		return Revision{}, err
	}
	defer up.close()
	head := up.head()
	if !g.hasCommit(head) {
		haves, err := g.haves()
		if err != nil {
			return Revision{}, fmt.Errorf("list cached refs: %w", err)
		}
		if err := up.fetch(ctx, head, haves); err != nil {
			return Revision{}, err
		}
		if !g.hasCommit(head) {
			return Revision{}, fmt.Errorf("commit %s missing after fetch", head)
		}
	}
	keep := plumbing.NewRemoteReferenceName(git.DefaultRemoteName, strings.TrimPrefix(ref.String(), "refs/"))
	if err := g.repo.Storer.SetReference(plumbing.NewHashReference(keep, head)); err != nil {
		return Revision{}, fmt.Errorf("update %s: %w", keep, err)
	}
	return g.revision(head)
}

// ErrRevisionNotFound is returned, wrapped, by Resolve for a revision
// neither the cache nor the repository has.
var ErrRevisionNotFound = errors.New("revision not found")

// Resolve returns the revision rev names, for planning it: a ref
// (refs/pull/7/head, refs/heads/feature) or a branch name is fetched
// from the repository, as FetchRef does; a full commit hash is read
// from the cache, which holds every commit fetched before (the followed
// branch's history and every planned pull request's).
func (g *Git) Resolve(ctx context.Context, rev string) (Revision, error) {
	if h := plumbing.NewHash(rev); len(rev) == 40 && h.String() == rev {
		g.mu.Lock()
		defer g.mu.Unlock()
		if err := g.openCache(); err != nil {
			return Revision{}, err
		}
		if !g.hasCommit(h) {
			return Revision{}, fmt.Errorf("commit %s: %w (fetched commits only: name a branch or a ref to fetch it)", rev, ErrRevisionNotFound)
		}
		return g.revision(h)
	}
	ref := rev
	if !strings.HasPrefix(ref, "refs/") {
		ref = "refs/heads/" + ref
	}
	return g.FetchRef(ctx, ref)
}
