package source

import (
	"context"
	"fmt"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchFixture is a remote with a large catalog, shared by the benchmarks
// because making it takes seconds, and a clone of it per transport.
var benchFixture struct {
	once sync.Once
	dir  string
	repo *testRepo
	srv  *httptest.Server // git http-backend serving dir, if available
	err  error

	mu   sync.Mutex
	gits map[string]*Git // by transport
}

var benchCommits atomic.Int64

const (
	benchDirs        = 200
	benchFilesPerDir = 100
)

func TestMain(m *testing.M) {
	code := m.Run()
	f := &benchFixture
	for _, g := range f.gits {
		g.Close()
	}
	if f.srv != nil {
		f.srv.Close()
	}
	if f.dir != "" {
		os.RemoveAll(f.dir)
	}
	os.Exit(code)
}

// largeRemote returns the shared remote, making it on first use: 20,000
// small files in 200 directories, imported in one pack. It returns a Git
// following it over transport ("file", or "http" through git
// http-backend, the C server), whose first fetch (the clone) has been
// done.
func largeRemote(b *testing.B, transport string) (*testRepo, *Git) {
	if testing.Short() {
		b.Skip("makes a 20,000-file repository")
	}
	f := &benchFixture
	f.once.Do(func() {
		f.dir, f.err = os.MkdirTemp("", "pier-source-bench")
		if f.err != nil {
			return
		}
		f.repo = newTestRepoAt(b, filepath.Join(f.dir, "remote.git"), true)
		files := make(map[string]string, benchDirs*benchFilesPerDir)
		for d := range benchDirs {
			for i := range benchFilesPerDir {
				files[fmt.Sprintf("catalog/team%03d/svc%03d.cue", d, i)] = fmt.Sprintf("service: svc%03d: {\n\towner: \"team%03d\"\n\ttier: %d\n}\n", i, d, i%3)
			}
		}
		start := time.Now()
		f.repo.importFiles(files)
		b.Logf("generated %d files in %v", len(files), time.Since(start))
		if backend := filepath.Join(gitExecPath(b), "git-http-backend"); fileExists(backend) {
			f.srv = httptest.NewServer(&cgi.Handler{
				Path: backend,
				Env:  []string{"GIT_PROJECT_ROOT=" + f.dir, "GIT_HTTP_EXPORT_ALL=1"},
			})
		}
		f.gits = map[string]*Git{}
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	f.repo.t = b
	f.mu.Lock()
	defer f.mu.Unlock()
	if g := f.gits[transport]; g != nil {
		return f.repo, g
	}
	url := f.repo.bare
	if transport == "http" {
		if f.srv == nil {
			b.Skip("no git-http-backend")
		}
		url = f.srv.URL + "/remote.git"
	}
	g, err := NewGit(GitOptions{URL: url, Path: "catalog", CacheDir: filepath.Join(f.dir, "cache-"+transport)})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, _, err := g.Fetch(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Logf("first fetch (clone) of %d files over %s: %v", benchDirs*benchFilesPerDir, transport, time.Since(start))
	f.gits[transport] = g
	return f.repo, g
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// BenchmarkFetchUnchanged is a poll that finds the branch where it was:
// one ref advertisement, no objects.
func BenchmarkFetchUnchanged(b *testing.B) {
	for _, tr := range []string{"file", "http"} {
		b.Run(tr, func(b *testing.B) {
			_, g := largeRemote(b, tr)
			ctx := context.Background()
			if _, _, err := g.Fetch(ctx); err != nil { // catch up with other benchmarks
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				_, changed, err := g.Fetch(ctx)
				if err != nil || changed {
					b.Fatalf("changed %v, err %v", changed, err)
				}
			}
		})
	}
}

// BenchmarkFetchOneCommit is a poll that finds one new commit changing one
// file: negotiate, download a small pack, diff the trees. Every 50th
// iteration also repacks the cache (see BenchmarkRepack), as a daemon
// would; without that the cost of each fetch grows with the number of
// packs, since every pack index is read again after a fetch. Over file, the
// time includes go-git's in-process server, which walks every object of
// the commit the client already has to leave them out; over http, git's
// own upload-pack (spawned per request by git http-backend) does that
// work.
func BenchmarkFetchOneCommit(b *testing.B) {
	for _, tr := range []string{"file", "http"} {
		b.Run(tr, func(b *testing.B) {
			r, g := largeRemote(b, tr)
			ctx := context.Background()
			if _, _, err := g.Fetch(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				// Unique across rounds, which share the remote.
				i := benchCommits.Add(1)
				name := fmt.Sprintf("team%03d/svc%03d.cue", i%benchDirs, i%benchFilesPerDir)
				id := r.commit(map[string]string{"catalog/" + name: fmt.Sprintf("service: x: tier: %d\n", i)})
				b.StartTimer()
				rev, changed, err := g.Fetch(ctx)
				if err != nil || !changed || rev.ID != id || len(rev.Changed) != 1 || rev.Changed[0] != name {
					b.Fatalf("fetch: %s %v %q %v, want %s changed [%s]", rev.ID, changed, rev.Changed, err, id, name)
				}
			}
		})
	}
}

// BenchmarkRepack merges the cache's packs into one, which Fetch does
// after every 50 packs (git's gc.autoPackLimit).
func BenchmarkRepack(b *testing.B) {
	_, g := largeRemote(b, "file")
	b.ReportAllocs()
	for range b.N {
		g.mu.Lock()
		g.maxPacks = 0
		g.repack()
		g.maxPacks = maxPacks
		g.mu.Unlock()
	}
}
