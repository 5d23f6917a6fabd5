package main

import (
	"context"
	"crypto/rsa"
	"io"
	"log/slog"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/config"
	"github.com/pierhq/pier/internal/githubfake"
)

// The App of these tests: "pier-acme", installed on acme.
const (
	testAppID        = "4242"
	testInstallation = "77"
)

// appKeyFile writes a new App key as GitHub hands it out.
func appKeyFile(t *testing.T) (string, *rsa.PrivateKey) {
	t.Helper()
	key, pem := githubfake.NewAppKey()
	path := filepath.Join(t.TempDir(), "pier-acme.private-key.pem")
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, key
}

// gitOverHTTPS serves the catalog's bare repository as
// https://github.com/acme/catalog.git would: git http-backend behind the
// fake's authentication of git over HTTPS.
func gitOverHTTPS(t *testing.T, f *githubfake.Fake, repo *gitRepo) string {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Skip("git --exec-path:", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Skip("no git-http-backend:", err)
	}
	h := &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + filepath.Dir(repo.bare), "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(f.GitHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.Clone(r.Context())
		r.URL.Path = "/" + filepath.Base(repo.bare) + strings.TrimPrefix(r.URL.Path, "/acme/catalog.git")
		h.ServeHTTP(w, r)
	})))
	t.Cleanup(srv.Close)
	return srv.URL + "/acme/catalog.git"
}

// gitTokens lists the passwords of the git requests, in order, with when
// the fake received them relative to start.
func gitTokens(f *githubfake.Fake) []string {
	var out []string
	for _, r := range f.Requests() {
		if strings.HasPrefix(r.Path, "/acme/catalog.git/") {
			_, p, _ := (&http.Request{Header: r.Header}).BasicAuth()
			out = append(out, p)
		}
	}
	return out
}

// TestRunsWithGitHubApp: pier authenticates as a GitHub App installation
// for everything — the catalog fetched over HTTPS, runs dispatched,
// approval pull requests opened as "pier-acme[bot]" — and keeps working
// after the installation token it started with has expired. The fake's
// tokens live 4 seconds, so that the test sees renewals.
func TestRunsWithGitHubApp(t *testing.T) {
	e := newRunsFixture(t, runsCatalog)
	keyFile, key := appKeyFile(t)
	e.fake.AddApp(4242, "pier-acme", &key.PublicKey)
	e.fake.AddInstallation(4242, 77, "acme")
	e.fake.SetInstallationTokenTTL(4 * time.Second)
	e.repoURL = gitOverHTTPS(t, e.fake, e.repo)
	e.auth = []string{"--github-app-id", testAppID, "--github-app-key", keyFile, "--github-app-installation-id", testInstallation}
	e.start()

	issued := e.fake.InstallationTokens(77)
	if len(issued) == 0 {
		t.Fatal("no installation token was asked for")
	}
	first := issued[0]
	if got := gitTokens(e.fake); len(got) == 0 || got[0] != first.Token {
		t.Fatalf("the catalog was fetched with %q, want the installation token %q", got, first.Token)
	}

	// A run without approval, dispatched as the App.
	run := e.request("extend_ttl", "preview-42", map[string]any{"days": 3})
	e.waitStatus(run["id"].(string), "DISPATCHED")
	ds := e.fake.Dispatches("acme", "workflows")
	if wr, _ := e.fake.Run("acme", "workflows", ds[0].RunID); len(ds) != 1 || wr.Actor != "pier-acme[bot]" {
		t.Fatalf("dispatched %+v by %q, want pier-acme[bot]", ds, wr.Actor)
	}

	// A run approved on a pull request the App opened.
	run = e.request("extend_ttl", "preview-42", map[string]any{"days": 10})
	id := run["id"].(string)
	n := e.pullRequest(id)
	if pr, _ := e.fake.PullRequest("acme", "catalog", n); pr.Author != "pier-acme[bot]" {
		t.Fatalf("pull request opened by %q", pr.Author)
	}
	e.review(n, "pat", "APPROVED")
	e.waitStatus(id, "DISPATCHED")

	// Past the first token's expiry (as the fake reckons it, which
	// refuses it from then on): a push is fetched and a run dispatched,
	// with tokens pier renewed.
	time.Sleep(time.Until(first.ExpiresAt) + 100*time.Millisecond)
	after := len(gitTokens(e.fake))
	sha := e.repo.commit("a new environment", map[string]string{"more.cue": `entities: environment: "preview-43": properties: type: "ephemeral"` + "\n"})
	e.td.push(t, sha, runsWebhookSecret)
	e.td.waitFor(t, "the pushed revision", func(st map[string]any) bool { return st["lastAppliedRevision"] == sha })
	for _, tok := range gitTokens(e.fake)[after:] {
		if tok == first.Token {
			t.Fatalf("fetched with the expired token")
		}
	}
	run = e.request("extend_ttl", "preview-43", map[string]any{"days": 2})
	e.waitStatus(run["id"].(string), "DISPATCHED")
	if got := len(e.fake.InstallationTokens(77)); got < 2 {
		t.Fatalf("%d installation tokens issued, want renewals", got)
	}
	metrics := scrape(t, e.td)
	for _, m := range []string{`pier_github_token_renewals_total{result="ok"} `, "pier_github_token_expiry_timestamp_seconds "} {
		if !strings.Contains(metrics, m) {
			t.Errorf("no %s in the metrics", m)
		}
	}
	for _, r := range e.fake.Requests() {
		if r.Path == "/user" {
			t.Errorf("pier asked GET /user, which GitHub refuses an installation token")
		}
	}
}

// TestGitHubAppRefusedAtStart: credentials GitHub refuses stop pier at
// start with what to check, rather than a daemon that fails every
// request.
func TestGitHubAppRefusedAtStart(t *testing.T) {
	f := githubfake.New()
	defer f.Close()
	keyFile, key := appKeyFile(t)
	otherFile, _ := appKeyFile(t)
	f.AddApp(4242, "pier-acme", &key.PublicKey)
	f.AddInstallation(4242, 77, "acme")
	dir := t.TempDir()
	for _, tc := range []struct {
		name, id, key, inst, want string
	}{
		{"another key", testAppID, otherFile, testInstallation, otherFile + " is not the private key of App 4242"},
		{"another App", "4243", keyFile, testInstallation, "there is no GitHub App 4243"},
		{"another installation", testAppID, keyFile, "78", "App 4242 has no installation 78"},
	} {
		cfg, err := config.Parse([]string{
			"--repo", dir, "--db", filepath.Join(t.TempDir(), "pier.db"), "--listen", "127.0.0.1:0",
			"--github-api-url", f.URL(), "--github-repo", "acme/catalog",
			"--github-app-id", tc.id, "--github-app-key", tc.key, "--github-app-installation-id", tc.inst,
		}, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		d, err := newDaemon(context.Background(), cfg, slog.New(slog.DiscardHandler))
		if err == nil {
			d.store.Close()
			d.ln.Close()
			t.Errorf("%s: the daemon started", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "options github-app-id, github-app-key, github-app-installation-id") {
			t.Errorf("%s: %v, want it to say %q", tc.name, err, tc.want)
		}
	}
}
