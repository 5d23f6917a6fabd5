package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/githubfake/examples"

	"github.com/pierhq/pier/internal/config"
	"github.com/pierhq/pier/internal/githubfake"
	"github.com/pierhq/pier/internal/outbox"
)

const testBlueprints = `
blueprints: team: {title: "Team", schema: properties: {}}
blueprints: service: {
	title: "Service"
	schema: {
		properties: {
			lifecycle: {type: "string", enum: ["Production", "Staging", "Development"]}
			health: {type: "string", runtime: true}
		}
		required: ["lifecycle"]
	}
	relations: team: {target: "team", required: true, many: false}
}
entities: team: payments: {title: "Payments"}
`

// gitRepo is a bare "remote" and a work tree that pushes to it.
type gitRepo struct {
	t           *testing.T
	bare, work  string
	lastPushSHA string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	root := t.TempDir()
	g := &gitRepo{t: t, bare: filepath.Join(root, "remote.git"), work: filepath.Join(root, "work")}
	g.git(root, "init", "-q", "--bare", "-b", "main", g.bare)
	g.git(root, "init", "-q", "-b", "main", g.work)
	g.git(g.work, "remote", "add", "origin", g.bare)
	return g
}

func (g *gitRepo) git(dir string, args ...string) string {
	g.t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.email=ci@example.com", "-c", "user.name=CI", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		g.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files, commits and pushes; it returns the commit's sha.
func (g *gitRepo) commit(msg string, files map[string]string) string {
	g.t.Helper()
	for name, data := range files {
		p := filepath.Join(g.work, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			g.t.Fatal(err)
		}
	}
	g.git(g.work, "add", "-A")
	g.git(g.work, "commit", "-qm", msg)
	g.git(g.work, "push", "-q", "origin", "main")
	g.lastPushSHA = g.git(g.work, "rev-parse", "HEAD")
	return g.lastPushSHA
}

func service(id, lifecycle string) string {
	return fmt.Sprintf("entities: service: %q: {properties: lifecycle: %q, relations: team: \"payments\"}\n", id, lifecycle)
}

type testDaemon struct {
	d      *daemon
	url    string
	cancel context.CancelFunc
	done   chan error
}

func startDaemon(t *testing.T, args ...string) *testDaemon {
	t.Helper()
	cfg, err := config.Parse(append([]string{"--listen", "127.0.0.1:0", "--poll", "@every 1h"}, args...), func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(testLogWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := newDaemon(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	td := &testDaemon{d: d, url: "http://" + d.addr, cancel: cancel, done: make(chan error, 1)}
	go func() { td.done <- d.run(ctx) }()
	t.Cleanup(td.stop)
	return td
}

func (td *testDaemon) stop() {
	if td.cancel == nil {
		return
	}
	td.cancel()
	<-td.done
	td.cancel = nil
}

func (td *testDaemon) get(t *testing.T, path string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(td.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func (td *testDaemon) status(t *testing.T) map[string]any {
	t.Helper()
	_, body := td.get(t, "/v1/status")
	return body["status"].(map[string]any)
}

func (td *testDaemon) waitFor(t *testing.T, what string, cond func(st map[string]any) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := td.status(t)
		if cond(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; status %v", what, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (td *testDaemon) lifecycle(t *testing.T, id string) any {
	t.Helper()
	code, body := td.get(t, "/v1/blueprints/service/entities/"+id)
	if code != 200 {
		return nil
	}
	return body["entity"].(map[string]any)["properties"].(map[string]any)["lifecycle"]
}

var deliveries atomic.Int64

// pushPayload is GitHub's example of a push to a branch, with the ref and
// head changed.
func pushPayload(t *testing.T, ref, after string) []byte {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(examples.Load("push.with-new-branch.json"), &p); err != nil {
		t.Fatal(err)
	}
	p["ref"], p["after"], p["created"] = ref, after, false
	out, _ := json.Marshal(p)
	return out
}

// deliver posts a webhook as GitHub does; secret "" sends no signature.
func (td *testDaemon) deliver(t *testing.T, event, id string, body []byte, secret string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", td.url+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	if secret != "" {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (td *testDaemon) push(t *testing.T, sha, secret string) int {
	t.Helper()
	code, _ := td.deliver(t, "push", fmt.Sprintf("delivery-%d", deliveries.Add(1)), pushPayload(t, "refs/heads/main", sha), secret)
	return code
}

func TestDaemonFollowsARepository(t *testing.T) {
	testDaemonFollowsARepository(t, func(dataDir string) string { return filepath.Join(dataDir, "pier.db") })
}

// testDaemonFollowsARepository runs the daemon on the store db names,
// given the test's data directory.
func testDaemonFollowsARepository(t *testing.T, db func(dataDir string) string) {
	// An outbound webhook receiver that fails its first delivery.
	var (
		hookMu   sync.Mutex
		accepted = map[string]int{}
		attempts int
		bodies   []map[string]any
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		defer hookMu.Unlock()
		attempts++
		if attempts == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if err := outbox.Verify("outbound-secret", r.Header.Get(outbox.HeaderTimestamp), r.Header.Get(outbox.HeaderSignature), body, time.Now(), time.Minute); err != nil {
			t.Errorf("outbound signature: %v", err)
		}
		accepted[r.Header.Get(outbox.HeaderDelivery)]++
		var b map[string]any
		json.Unmarshal(body, &b)
		bodies = append(bodies, b)
	}))
	defer receiver.Close()
	t.Setenv("PIER_SECRET_TEST_OUTBOUND", "outbound-secret")
	hooks := fmt.Sprintf("webhooks: audit: {url: %q, secretEnv: \"PIER_SECRET_TEST_OUTBOUND\", events: [\"ENTITY_UPDATED\"], blueprints: [\"service\"]}\n", receiver.URL)

	repo := newGitRepo(t)
	first := repo.commit("initial", map[string]string{"blueprints.cue": testBlueprints, "services/api.cue": service("api", "Staging"), "webhooks.cue": hooks})
	gh := githubfake.New()
	defer gh.Close()
	gh.AddRepo("acme", "catalog")
	dataDir := t.TempDir()
	args := []string{
		"--repo", "file://" + repo.bare, "--db", db(dataDir), "--cache-dir", filepath.Join(dataDir, "git"),
		"--webhook-secret", "hook-secret", "--anonymous-reads", "--client-id", "ci", "--client-secret", "ci-secret",
		"--github-api-url", gh.URL(), "--github-token", "ghs_test", "--github-repo", "acme/catalog",
	}
	td := startDaemon(t, args...)
	td.waitFor(t, "the first revision", func(st map[string]any) bool { return st["lastAppliedRevision"] == first })
	if code, _ := td.get(t, "/readyz"); code != 200 {
		t.Fatalf("readyz after the first apply: %d", code)
	}
	if got := td.lifecycle(t, "api"); got != "Staging" {
		t.Fatalf("api lifecycle %v", got)
	}

	// A good commit, announced by a signed push webhook.
	good := repo.commit("promote api", map[string]string{"services/api.cue": service("api", "Production")})
	if code := td.push(t, good, "hook-secret"); code != http.StatusAccepted {
		t.Fatalf("push webhook answered %d", code)
	}
	td.waitFor(t, "the good commit", func(st map[string]any) bool { return st["lastAppliedRevision"] == good })
	if got := td.lifecycle(t, "api"); got != "Production" {
		t.Fatalf("api lifecycle after the good commit: %v", got)
	}
	// The update reaches the outbound webhook once, after one retry.
	deadline := time.Now().Add(15 * time.Second)
	for {
		hookMu.Lock()
		n := len(accepted)
		hookMu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the outbound webhook never received the update")
		}
		time.Sleep(50 * time.Millisecond)
	}
	hookMu.Lock()
	for id, n := range accepted {
		if n != 1 {
			t.Errorf("delivery %s accepted %d times", id, n)
		}
	}
	if bodies[0]["eventType"] != "ENTITY_UPDATED" || attempts != 2 {
		t.Errorf("outbound: %d attempts, body %v", attempts, bodies[0])
	}
	hookMu.Unlock()
	if code, body := td.get(t, "/v1/webhooks/deliveries"); code != 200 || len(body["deliveries"].([]any)) != 1 {
		t.Errorf("deliveries listing: %d %v", code, body)
	}

	// A bad commit: attempted, not applied, errors visible; the state
	// keeps serving the good revision.
	bad := repo.commit("break api", map[string]string{"services/api.cue": service("api", "Prod")})
	td.push(t, bad, "hook-secret")
	td.waitFor(t, "the bad commit attempted", func(st map[string]any) bool { return st["lastAttemptedRevision"] == bad })
	st := td.status(t)
	errs, _ := st["errors"].([]any)
	if st["lastAppliedRevision"] != good || len(errs) != 1 || !strings.Contains(fmt.Sprint(errs[0]), "services/api.cue") {
		t.Fatalf("status after the bad commit: %v", st)
	}
	if got := td.lifecycle(t, "api"); got != "Production" {
		t.Fatalf("the bad commit changed the served state: %v", got)
	}
	metrics := scrape(t, td)
	for _, want := range []string{`pier_validation_errors{kind="property"} 1`, `pier_reconcile_total{result="failed"} 1`, `pier_entities{blueprint="service"} 1`, "pier_push_to_applied_seconds_count 1"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	promtoolCheck(t, metrics)
	if code, body := td.get(t, "/v1/scorecards"); code != 200 || len(body["scorecards"].([]any)) != 0 {
		t.Errorf("scorecards of a catalog without any: %d %v", code, body)
	}

	// Commit statuses reach GitHub (the fake), one per attempt.
	waitStatus := func(sha, want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			for _, s := range gh.Statuses("acme", "catalog", sha) {
				if s.State == want && s.Context == "pier/reconcile" {
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no %s commit status for %s; got %v", want, sha, gh.Statuses("acme", "catalog", sha))
	}
	waitStatus(good, "success")
	waitStatus(bad, "failure")

	// Webhook security: nothing below may trigger a reconcile of fixed,
	// which also removes the outbound webhook.
	fixed := repo.commit("fix api", map[string]string{"services/api.cue": service("api", "Development"), "webhooks.cue": "package catalog\n"})
	payload := pushPayload(t, "refs/heads/main", fixed)
	if code, _ := td.deliver(t, "push", "forged", payload, "wrong-secret"); code != http.StatusUnauthorized {
		t.Errorf("wrong signature answered %d", code)
	}
	if code, _ := td.deliver(t, "push", "unsigned", payload, ""); code != http.StatusUnauthorized {
		t.Errorf("missing signature answered %d", code)
	}
	if code, body := td.deliver(t, "push", "other-branch", pushPayload(t, "refs/heads/feature", fixed), "hook-secret"); code >= 300 {
		t.Errorf("push to another branch answered %d %v", code, body)
	}
	huge := append([]byte(`{"pad": "`), bytes.Repeat([]byte("x"), 26<<20)...)
	huge = append(huge, `"}`...)
	if code, _ := td.deliver(t, "push", "huge", huge, "hook-secret"); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized payload answered %d", code)
	}
	time.Sleep(300 * time.Millisecond)
	if st := td.status(t); st["lastAttemptedRevision"] == fixed {
		t.Fatalf("an unverified or foreign delivery triggered a reconcile")
	}
	// The real delivery, then GitHub redelivering it.
	code, _ := td.deliver(t, "push", "real-1", payload, "hook-secret")
	if code != http.StatusAccepted {
		t.Fatalf("signed push answered %d", code)
	}
	td.waitFor(t, "the fix", func(st map[string]any) bool { return st["lastAppliedRevision"] == fixed })
	// The revision removed the webhook: its update is delivered to no one.
	if code, body := td.get(t, "/v1/webhooks/deliveries"); code != 200 || len(body["deliveries"].([]any)) != 1 {
		t.Errorf("deliveries after the webhook was removed: %d %v", code, body)
	}
	before := td.status(t)["reconciles"].(float64)
	if code, body := td.deliver(t, "push", "real-1", payload, "hook-secret"); code != http.StatusOK || !strings.Contains(fmt.Sprint(body), "duplicate") {
		t.Errorf("replayed delivery answered %d %v", code, body)
	}
	time.Sleep(200 * time.Millisecond)
	if after := td.status(t)["reconciles"].(float64); after != before {
		t.Errorf("a replayed delivery reconciled again (%v -> %v)", before, after)
	}

	// A burst: ten pushes, then their ten webhooks arriving together.
	var shas []string
	for i := 0; i < 10; i++ {
		shas = append(shas, repo.commit(fmt.Sprintf("burst %d", i), map[string]string{fmt.Sprintf("services/s%d.cue", i): service(fmt.Sprintf("s%d", i), "Staging")}))
	}
	before = td.status(t)["reconciles"].(float64)
	for _, sha := range shas {
		go td.push(t, sha, "hook-secret")
	}
	newest := shas[len(shas)-1]
	td.waitFor(t, "the newest head of the burst", func(st map[string]any) bool { return st["lastAppliedRevision"] == newest })
	time.Sleep(300 * time.Millisecond)
	if n := td.status(t)["reconciles"].(float64) - before; n > 2 {
		t.Errorf("a burst of 10 pushes caused %v reconciles, want 1 or 2", n)
	}
	if code, body := td.get(t, "/v1/blueprints/service/entities"); code != 200 || len(body["entities"].([]any)) != 11 {
		t.Errorf("after the burst: %d entities", len(body["entities"].([]any)))
	}

	// A restart serves the last applied state before it reconciles.
	td.stop()
	cfg, err := config.Parse(append([]string{"--listen", "127.0.0.1:0"}, args...), func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := newDaemon(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if snap := d2.holder.Load(); snap.Revision != newest || snap.EntityCount() != 12 {
		t.Fatalf("restored state: revision %s, %d entities", snap.Revision, snap.EntityCount())
	}
	d2.ln.Close()
	d2.store.Close()
}

func TestServeRejectsBadOptions(t *testing.T) {
	for _, args := range [][]string{
		{"--poll", "every five minutes"},
		{"--listen", "not-an-address"},
		{"--repo", "/does/not/exist/either"},
		{"--bogus"},
		{"--db", "mysql://pier@db/pier"}, // not a file named "mysql:"
	} {
		// Keep anything a half-started daemon writes out of the source tree.
		dir := t.TempDir()
		args = append([]string{"serve", "--db", filepath.Join(dir, "pier.db"), "--cache-dir", filepath.Join(dir, "git")}, args...)
		code, _, errOut := runCLI(t, args...)
		if code == 0 || !strings.Contains(errOut, "pier serve:") {
			t.Errorf("pier %v: exit %d, stderr %q", args, code, errOut)
		}
	}
	code, out, errOut := runCLI(t, "serve", "--help")
	if code != 0 || !strings.Contains(out, "--webhook-secret") && !strings.Contains(out, "-webhook-secret") {
		t.Errorf("serve --help: exit %d\n%s", code, out)
	}
	// Each option once, and nothing on stderr.
	if n := strings.Count(out, "-webhook-secret string"); n != 1 || errOut != "" {
		t.Errorf("serve --help: -webhook-secret listed %d times, stderr %q", n, errOut)
	}
	if _, _, errOut := runCLI(t, "serve", "--bogus"); strings.Count(errOut, "-bogus") != 1 {
		t.Errorf("serve --bogus: stderr %q, want the error once", errOut)
	}
}

func scrape(t *testing.T, td *testDaemon) string {
	t.Helper()
	resp, err := http.Get(td.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// promtoolCheck runs `promtool check metrics` on a scrape. CI installs
// promtool (Debian's prometheus package); elsewhere the check is skipped
// with a note.
func promtoolCheck(t *testing.T, metrics string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is not installed; .ci/run installs it")
		}
		t.Log("promtool not installed; skipping the lint of /metrics")
		return
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(metrics)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// testLogWriter sends the daemon's log to the test log, shown on failure
// or with -v.
func testLogWriter(t *testing.T) io.Writer { return logWriter{t} }

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// An expired timer is announced once to its subscribers, and not again
// after a restart.
func TestDaemonAnnouncesExpiredTimersOnce(t *testing.T) {
	var (
		mu       sync.Mutex
		received []map[string]any
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b map[string]any
		json.NewDecoder(r.Body).Decode(&b)
		mu.Lock()
		received = append(received, b)
		mu.Unlock()
	}))
	defer receiver.Close()
	dir := t.TempDir()
	catalogDir := filepath.Join(dir, "catalog")
	os.MkdirAll(catalogDir, 0o755)
	os.WriteFile(filepath.Join(catalogDir, "envs.cue"), []byte(`
blueprints: environment: schema: properties: ttl: {type: "string", format: "timer"}
entities: environment: "pr-1": properties: ttl: "2020-01-01T00:00:00Z"
entities: environment: "pr-2": properties: ttl: "2999-01-01T00:00:00Z"
`), 0o644)
	os.WriteFile(filepath.Join(catalogDir, "hooks.cue"), []byte(fmt.Sprintf(
		"webhooks: ttl: {url: %q, events: [\"TIMER_PROPERTY_EXPIRED\"]}\n", receiver.URL)), 0o644)
	args := []string{"--repo", catalogDir, "--db", filepath.Join(dir, "pier.db"), "--anonymous-reads", "--timers", "@every 100ms"}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(received)
	}
	for run := 0; run < 2; run++ {
		td := startDaemon(t, args...)
		deadline := time.Now().Add(10 * time.Second)
		for run == 0 && count() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the expired timer was not announced")
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond) // several more checks
		td.stop()
	}
	if n := count(); n != 1 {
		t.Fatalf("announced %d times, want once", n)
	}
	mu.Lock()
	defer mu.Unlock()
	b := received[0]
	if b["eventType"] != "TIMER_PROPERTY_EXPIRED" || b["property"] != "ttl" || b["entity"].(map[string]any)["identifier"] != "pr-1" {
		t.Fatalf("announcement: %v", b)
	}
}
