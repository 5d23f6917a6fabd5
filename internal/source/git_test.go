package source

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// fetchCounter counts what a Git asks of its upstream.
type fetchCounter struct {
	dials, fetches atomic.Int32
	mu             sync.Mutex
	haves          int // offered in the last fetch
	copied         int // objects the last local fetch copied
}

type countingUpstream struct {
	upstream
	c *fetchCounter
}

func (u *countingUpstream) fetch(ctx context.Context, want plumbing.Hash, haves []plumbing.Hash) error {
	u.c.fetches.Add(1)
	err := u.upstream.fetch(ctx, want, haves)
	u.c.mu.Lock()
	defer u.c.mu.Unlock()
	u.c.haves = len(haves)
	if l, ok := u.upstream.(*localUpstream); ok {
		u.c.copied = l.copied
	}
	return err
}

// newTestGit returns a Git for opts and a counter of its fetches.
func newTestGit(t testing.TB, opts GitOptions) (*Git, *fetchCounter) {
	t.Helper()
	g, err := NewGit(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	c := &fetchCounter{}
	dial := g.dial
	g.dial = func(ctx context.Context, ref plumbing.ReferenceName) (upstream, error) {
		u, err := dial(ctx, ref)
		if err != nil {
			return nil, err
		}
		c.dials.Add(1)
		return &countingUpstream{upstream: u, c: c}, nil
	}
	return g, c
}

func fetch(t testing.TB, g *Git) (Revision, bool) {
	t.Helper()
	rev, changed, err := g.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rev, changed
}

func readFile(t testing.TB, fsys fs.FS, name string) string {
	t.Helper()
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGitFetch(t *testing.T) {
	t.Parallel()
	for _, form := range []string{"file URL", "path", "work tree"} {
		t.Run(form, func(t *testing.T) {
			t.Parallel()
			var r *testRepo
			if form == "work tree" {
				r = newTestRepoAt(t, filepath.Join(t.TempDir(), "work"), false)
			} else {
				r = newTestRepo(t)
			}
			first := r.commit(map[string]string{"a.cue": "a: 1\n", "dir/b.cue": "b: 1\n", "dir/c.cue": "c: 1\n"})
			url := r.bare
			if form == "file URL" {
				url = "file://" + r.bare
			}
			g, ct := newTestGit(t, GitOptions{URL: url, CacheDir: filepath.Join(t.TempDir(), "cache")})

			rev, changed := fetch(t, g)
			if !changed || rev.ID != first || rev.Changed != nil {
				t.Fatalf("first fetch: id %s changed %v Changed %q, want %s true nil", rev.ID, changed, rev.Changed, first)
			}
			if got := readFile(t, rev.FS, "dir/b.cue"); got != "b: 1\n" {
				t.Errorf("dir/b.cue = %q", got)
			}
			if rev.Time.IsZero() || time.Since(rev.Time) > time.Hour {
				t.Errorf("time %v, want the commit's", rev.Time)
			}

			again, changed := fetch(t, g)
			if changed || again.ID != first {
				t.Fatalf("second fetch: id %s changed %v, want %s false", again.ID, changed, first)
			}
			if n := ct.fetches.Load(); n != 1 {
				t.Errorf("an unchanged fetch downloaded: %d downloads, want 1 in all", n)
			}
			if n := ct.dials.Load(); n != 2 {
				t.Errorf("%d head lookups, want 2", n)
			}

			second := r.commit(map[string]string{"dir/b.cue": "b: 2\n", "dir/new.cue": "n: 1\n"})
			rev, changed = fetch(t, g)
			if !changed || rev.ID != second {
				t.Fatalf("after a push: id %s changed %v, want %s true", rev.ID, changed, second)
			}
			if want := []string{"dir/b.cue", "dir/new.cue"}; !reflect.DeepEqual(rev.Changed, want) {
				t.Errorf("Changed = %q, want %q", rev.Changed, want)
			}
			if got := readFile(t, rev.FS, "dir/b.cue"); got != "b: 2\n" {
				t.Errorf("dir/b.cue = %q after the push", got)
			}
			// The commit, two trees, two blobs.
			if ct.copied != 5 {
				t.Errorf("the incremental fetch copied %d objects, want 5", ct.copied)
			}

			third := r.commit(map[string]string{"dir/c.cue": ""})
			rev, _ = fetch(t, g)
			if want := []string{"dir/c.cue"}; rev.ID != third || !reflect.DeepEqual(rev.Changed, want) {
				t.Errorf("after a deletion: %s %q, want %s %q", rev.ID, rev.Changed, third, want)
			}
		})
	}
}

func TestGitPath(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.commit(map[string]string{"README.md": "hi\n", "catalog/a.cue": "a: 1\n", "catalog/x/b.cue": "b: 1\n"})
	g, _ := newTestGit(t, GitOptions{URL: r.bare, Path: "./catalog/", CacheDir: t.TempDir()})
	rev, _ := fetch(t, g)
	if got := readFile(t, rev.FS, "x/b.cue"); got != "b: 1\n" {
		t.Fatalf("x/b.cue = %q", got)
	}
	if _, err := fs.Stat(rev.FS, "README.md"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("README.md outside the path is visible: %v", err)
	}

	r.commit(map[string]string{"README.md": "hello\n", "catalog/x/b.cue": "b: 2\n", "catalog/x/c.cue": "c: 1\n"})
	rev, _ = fetch(t, g)
	if want := []string{"x/b.cue", "x/c.cue"}; !reflect.DeepEqual(rev.Changed, want) {
		t.Errorf("Changed = %q, want %q", rev.Changed, want)
	}

	// A commit that touches nothing under the path is a new revision
	// with nothing changed, which is not the same as unknown.
	outside := r.commit(map[string]string{"README.md": "bye\n"})
	rev, changed := fetch(t, g)
	if !changed || rev.ID != outside || rev.Changed == nil || len(rev.Changed) != 0 {
		t.Errorf("outside commit: id %s changed %v Changed %#v, want %s true []", rev.ID, changed, rev.Changed, outside)
	}

	// A path that does not exist is an error naming it.
	g2, _ := newTestGit(t, GitOptions{URL: r.bare, Path: "nope", CacheDir: t.TempDir()})
	if _, _, err := g2.Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing path: %v", err)
	}
}

func TestGitRestart(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	first := r.commit(map[string]string{"a.cue": "a: 1\n"})
	cache := filepath.Join(t.TempDir(), "cache")
	g, _ := newTestGit(t, GitOptions{URL: r.bare, CacheDir: cache})
	fetch(t, g)
	g.Close()

	// Restarted with nothing new: the cached head, no download.
	g, ct := newTestGit(t, GitOptions{URL: r.bare, CacheDir: cache})
	rev, changed := fetch(t, g)
	if !changed || rev.ID != first || rev.Changed != nil {
		t.Fatalf("after restart: id %s changed %v Changed %q, want %s true nil", rev.ID, changed, rev.Changed, first)
	}
	if n := ct.fetches.Load(); n != 0 {
		t.Errorf("restart downloaded: %d downloads", n)
	}
	g.Close()

	// Restarted after a push: an incremental download.
	second := r.commit(map[string]string{"b.cue": "b: 1\n"})
	g, ct = newTestGit(t, GitOptions{URL: r.bare, CacheDir: cache})
	rev, _ = fetch(t, g)
	if rev.ID != second || readFile(t, rev.FS, "b.cue") != "b: 1\n" {
		t.Fatalf("after restart and push: id %s, want %s", rev.ID, second)
	}
	// The commit, the root tree, the blob.
	if n := ct.fetches.Load(); n != 1 || ct.copied != 3 {
		t.Errorf("restart fetch: %d downloads copying %d objects, want 1 copying 3", n, ct.copied)
	}
}

func TestGitForcePush(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.commit(map[string]string{"a.cue": "a: 1\n", "b.cue": "b: 1\n"})
	g, ct := newTestGit(t, GitOptions{URL: r.bare, CacheDir: t.TempDir(), Logger: testLogger(t)})
	fetch(t, g)

	// Replace the history with an unrelated one and let the remote
	// forget the old commits, so the cache's head is no common ground.
	r.orphan()
	unrelated := r.commit(map[string]string{"a.cue": "a: 1\n", "c.cue": "c: 1\n"})
	gitCLI(t, r.bare, "gc", "-q", "--prune=now")

	rev, changed := fetch(t, g)
	if !changed || rev.ID != unrelated {
		t.Fatalf("after force push: id %s changed %v, want %s true", rev.ID, changed, unrelated)
	}
	if want := []string{"b.cue", "c.cue"}; !reflect.DeepEqual(rev.Changed, want) {
		t.Errorf("Changed = %q, want %q (a tree diff across histories)", rev.Changed, want)
	}
	if got := readFile(t, rev.FS, "c.cue"); got != "c: 1\n" {
		t.Errorf("c.cue = %q", got)
	}
	// The commit, its tree and c.cue; a.cue's blob is in the cache.
	if ct.copied != 3 {
		t.Errorf("copied %d objects, want 3", ct.copied)
	}
}

func TestGitBranch(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.commit(map[string]string{"a.cue": "a: 1\n"})
	r.setBranch("release", r.head)
	r.commit(map[string]string{"a.cue": "a: 2\n"})

	g, _ := newTestGit(t, GitOptions{URL: r.bare, Branch: "release", CacheDir: t.TempDir()})
	rev, _ := fetch(t, g)
	if got := readFile(t, rev.FS, "a.cue"); got != "a: 1\n" {
		t.Errorf("release a.cue = %q", got)
	}

	g, _ = newTestGit(t, GitOptions{URL: "file://" + r.bare, Branch: "nope", CacheDir: t.TempDir()})
	_, _, err := g.Fetch(context.Background())
	want := "fetch " + r.bare + " (branch nope): branch not found"
	if err == nil || err.Error() != want || !errors.Is(err, ErrBranchNotFound) {
		t.Errorf("wrong branch: %v, want %q", err, want)
	}

	g, _ = newTestGit(t, GitOptions{URL: filepath.Join(t.TempDir(), "missing"), CacheDir: t.TempDir()})
	if _, _, err := g.Fetch(context.Background()); !errors.Is(err, transport.ErrRepositoryNotFound) {
		t.Errorf("missing repository: %v", err)
	}
}

func TestGitOnFetch(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.commit(map[string]string{"a.cue": "a: 1\n"})
	var calls []error
	g, _ := newTestGit(t, GitOptions{URL: r.bare, CacheDir: t.TempDir(), OnFetch: func(d time.Duration, err error) {
		if d <= 0 {
			t.Errorf("duration %v", d)
		}
		calls = append(calls, err)
	}})
	fetch(t, g)
	fetch(t, g)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := g.Fetch(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled fetch: %v", err)
	}
	if len(calls) != 3 || calls[0] != nil || calls[1] != nil || calls[2] == nil {
		t.Errorf("OnFetch calls: %v", calls)
	}
}

// httpGitServer serves r's bare repository over smart HTTP from git
// http-backend, at the URL it returns, to requests whose Basic
// credentials accept takes.
func httpGitServer(t *testing.T, r *testRepo, accept func(user, password string) bool) string {
	t.Helper()
	backend := filepath.Join(gitExecPath(t), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Skip("no git-http-backend:", err)
	}
	cgiHandler := &cgi.Handler{
		Path: backend,
		Env:  []string{"GIT_PROJECT_ROOT=" + filepath.Dir(r.bare), "GIT_HTTP_EXPORT_ALL=1"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if u, p, ok := req.BasicAuth(); !ok || !accept(u, p) {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			// Some servers echo what they were sent; the error must
			// not pass it on.
			http.Error(w, "bad credentials "+p, http.StatusUnauthorized)
			return
		}
		cgiHandler.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(r.bare)
}

// TestGitHTTP fetches over smart HTTP from git http-backend, behind a
// handler that checks the token as GitHub does.
func TestGitHTTP(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	head := r.commit(map[string]string{"a.cue": "a: 1\n"})
	const token = "ghs_s3cr3tT0ken"
	url := httpGitServer(t, r, func(u, p string) bool { return u == "x-access-token" && p == token })

	g, ct := newTestGit(t, GitOptions{URL: url, Token: token, CacheDir: t.TempDir()})
	rev, _ := fetch(t, g)
	if rev.ID != head || readFile(t, rev.FS, "a.cue") != "a: 1\n" {
		t.Fatalf("http fetch: %s, want %s", rev.ID, head)
	}
	second := r.commit(map[string]string{"b.cue": "b: 1\n"})
	if rev, _ = fetch(t, g); rev.ID != second || !reflect.DeepEqual(rev.Changed, []string{"b.cue"}) {
		t.Errorf("second http fetch: %s %q", rev.ID, rev.Changed)
	}
	if ct.haves != 1 {
		t.Errorf("the second http fetch offered %d haves, want the cached head", ct.haves)
	}
	if _, changed := fetch(t, g); changed || ct.fetches.Load() != 2 {
		t.Errorf("unchanged http fetch: changed %v, %d downloads", changed, ct.fetches.Load())
	}

	// A wrong token: a clear error, and no token in it.
	const wrong = "ghs_wr0ngT0ken"
	for _, opts := range []GitOptions{
		{URL: url, Token: wrong},
		{URL: strings.Replace(url, "http://", "http://x-access-token:"+wrong+"@", 1)},
		{URL: strings.Replace(url, "http://", "http://"+wrong+"@", 1)},
	} {
		var logs bytes.Buffer
		opts.CacheDir = t.TempDir()
		opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		g, _ := newTestGit(t, opts)
		_, _, err := g.Fetch(context.Background())
		if err == nil || strings.Contains(err.Error(), wrong) {
			t.Fatalf("wrong token: %v", err)
		}
		if !strings.Contains(logs.String(), "fetch failed") || strings.Contains(logs.String(), wrong) {
			t.Errorf("logs show the token, or nothing: %s", logs.String())
		}
		if !errors.Is(err, transport.ErrAuthenticationRequired) {
			t.Errorf("wrong token: %v, want authentication required", err)
		}
		if want := "fetch " + url + " (branch main): authentication required"; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("wrong token: %q, want it to start %q", err, want)
		}
	}
}

// TestGitHTTPTokens: with a token source, each fetch asks it for the
// token, so that a renewed GitHub App installation token is used from
// the next fetch on, after the server stopped taking the old one.
func TestGitHTTPTokens(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	head := r.commit(map[string]string{"a.cue": "a: 1\n"})
	var mu sync.Mutex
	current, asked := "ghs_firstT0ken", 0
	var tokenErr error
	url := httpGitServer(t, r, func(u, p string) bool {
		mu.Lock()
		defer mu.Unlock()
		return p == current // the server takes only the token of the moment
	})
	tokens := func(context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		asked++
		return current, tokenErr
	}
	g, _ := newTestGit(t, GitOptions{URL: url, Tokens: tokens, CacheDir: t.TempDir()})
	if rev, _ := fetch(t, g); rev.ID != head {
		t.Fatalf("fetch: %s, want %s", rev.ID, head)
	}
	mu.Lock()
	current = "ghs_renewedT0ken"
	mu.Unlock()
	second := r.commit(map[string]string{"b.cue": "b: 1\n"})
	if rev, _ := fetch(t, g); rev.ID != second {
		t.Fatalf("fetch after the token changed: %s, want %s", rev.ID, second)
	}
	if asked != 2 {
		t.Errorf("the token source was asked %d times for 2 fetches", asked)
	}

	// The source fails: the fetch says so. The server refuses: no token
	// in the error, though the server echoes it.
	mu.Lock()
	tokenErr = errors.New("GitHub App 42, installation 7: renewal failed")
	mu.Unlock()
	if _, _, err := g.Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), "token: GitHub App 42, installation 7: renewal failed") {
		t.Errorf("token source failing: %v", err)
	}
	mu.Lock()
	tokenErr, current = nil, "ghs_anotherT0ken"
	mu.Unlock()
	g2, _ := newTestGit(t, GitOptions{URL: url, Tokens: func(context.Context) (string, error) { return "ghs_staleT0ken", nil }, CacheDir: t.TempDir()})
	_, _, err := g2.Fetch(context.Background())
	if err == nil || strings.Contains(err.Error(), "ghs_staleT0ken") || !errors.Is(err, transport.ErrAuthenticationRequired) {
		t.Errorf("refused token: %v", err)
	}
}

func gitExecPath(t testing.TB) string {
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Skip("git --exec-path:", err)
	}
	return strings.TrimSpace(string(out))
}

func TestGitTokenNeverShown(t *testing.T) {
	t.Parallel()
	const token = "s3cr3tT0kenValue"
	for _, url := range []string{
		"https://x-access-token:" + token + "@127.0.0.1:1/acme/catalog",
		"https://" + token + "@127.0.0.1:1/acme/catalog",
		"https://x:" + token + "@127.0.0.1:1/acme/catalog%zz", // does not parse
	} {
		g, err := NewGit(GitOptions{URL: url, CacheDir: t.TempDir()})
		if err != nil {
			if strings.Contains(err.Error(), token) {
				t.Errorf("NewGit error shows the token: %v", err)
			}
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err = g.Fetch(ctx)
		cancel()
		g.Close()
		if err == nil || strings.Contains(err.Error(), token) {
			t.Errorf("fetch error shows the token: %v", err)
		}
		if !strings.HasPrefix(err.Error(), "fetch https://127.0.0.1:1/acme/catalog (branch main): ") {
			t.Errorf("fetch error does not name the URL: %v", err)
		}
	}
}

func TestNewGitErrors(t *testing.T) {
	t.Parallel()
	notRepo := t.TempDir()
	if err := os.WriteFile(filepath.Join(notRepo, "precious"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := newTestRepo(t)
	r.commit(map[string]string{"a.cue": "a: 1\n"})
	for _, tc := range []struct {
		name string
		opts GitOptions
		want string
	}{
		{"no URL", GitOptions{CacheDir: "c"}, "repository URL is empty"},
		{"bad scheme", GitOptions{URL: "ftp://host/repo", CacheDir: "c"}, `unsupported scheme "ftp"`},
		{"bad branch", GitOptions{URL: "https://h/r", Branch: "a..b", CacheDir: "c"}, `invalid branch name "a..b"`},
		{"bad path", GitOptions{URL: "https://h/r", Path: "../up", CacheDir: "c"}, `invalid path "../up"`},
		{"no cache", GitOptions{URL: "https://h/r"}, "no cache directory"},
		{"token over ssh", GitOptions{URL: "git@github.com:acme/c.git", Token: "abcdefgh", CacheDir: "c"}, "a token is for HTTPS URLs"},
		{"token source over ssh", GitOptions{URL: "git@github.com:acme/c.git", Tokens: func(context.Context) (string, error) { return "", nil }, CacheDir: "c"}, "a token is for HTTPS URLs"},
		{"token and token source", GitOptions{URL: "https://h/r", Token: "abcdefgh", Tokens: func(context.Context) (string, error) { return "", nil }, CacheDir: "c"}, "a token and a token source"},
		{"ssh options over https", GitOptions{URL: "https://h/r", SSHKeyFile: "k", CacheDir: "c"}, "SSH options given for an HTTP URL"},
		{"missing known hosts", GitOptions{URL: "ssh://git@h/r", SSHKnownHosts: "/nonexistent/known_hosts", SSHKeyFile: "k", CacheDir: "c"}, "ssh known hosts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewGit(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	g, _ := newTestGit(t, GitOptions{URL: r.bare, CacheDir: notRepo})
	if _, _, err := g.Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), "not empty and not a git repository") {
		t.Errorf("non-repository cache dir: %v", err)
	}
}

// TestGitRepack checks that a cache that gathered many packs is merged,
// and still serves its revisions.
func TestGitRepack(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.commit(map[string]string{"a.cue": "a: 0\n"})
	g, _ := newTestGit(t, GitOptions{URL: r.bare, CacheDir: t.TempDir(), Logger: testLogger(t)})
	g.maxPacks = 2
	rev, _ := fetch(t, g)
	old := rev
	for i := 1; i <= 4; i++ {
		r.commit(map[string]string{"a.cue": "a: " + string(rune('0'+i)) + "\n"})
		rev, _ = fetch(t, g)
	}
	packs, err := g.repo.Storer.(storer.PackedObjectStorer).ObjectPacks()
	if err != nil {
		t.Fatal(err)
	}
	if len(packs) > 2 {
		t.Errorf("%d packs after repacking, want at most 2", len(packs))
	}
	if got := readFile(t, rev.FS, "a.cue"); got != "a: 4\n" {
		t.Errorf("a.cue = %q after repack", got)
	}
	if got := readFile(t, old.FS, "a.cue"); got != "a: 0\n" {
		t.Errorf("a revision from before the repack reads a.cue = %q", got)
	}
	r.commit(map[string]string{"b.cue": "b: 1\n"})
	if rev, _ = fetch(t, g); !reflect.DeepEqual(rev.Changed, []string{"b.cue"}) {
		t.Errorf("Changed after repack = %q", rev.Changed)
	}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
