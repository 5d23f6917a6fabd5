package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/outbox"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/store/sqlite"
)

// signedReceiver keeps the bodies and signature headers it is sent.
type signedReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []signedRequest
}

type signedRequest struct {
	timestamp, signature string
	body                 []byte
}

func newSignedReceiver(t *testing.T) *signedReceiver {
	r := &signedReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, signedRequest{req.Header.Get(outbox.HeaderTimestamp), req.Header.Get(outbox.HeaderSignature), b})
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *signedReceiver) requests() []signedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]signedRequest(nil), r.got...)
}

// TestOutboundSecretsAreTheCatalogs: a subscription signing with the
// variable of --webhook-secret is refused at load, with its position
// and what to write instead, and nothing is sent; with a PIER_SECRET_*
// variable of its own, whoever receives its deliveries cannot sign a
// push that pier takes.
func TestOutboundSecretsAreTheCatalogs(t *testing.T) {
	hook := newSignedReceiver(t)
	t.Setenv("PIER_WEBHOOK_SECRET", "hook-secret") // as pier's own option would be set
	t.Setenv("PIER_SECRET_EVENTS", "events-secret")
	webhooks := func(env string) string {
		return fmt.Sprintf("webhooks: events: {\n\turl: %q\n\tsecretEnv: %q\n}\n", hook.srv.URL, env)
	}
	repo := newGitRepo(t)
	first := repo.commit("initial", map[string]string{"blueprints.cue": testBlueprints, "services/api.cue": service("api", "Staging"), "webhooks.cue": webhooks("PIER_WEBHOOK_SECRET")})
	dir := t.TempDir()
	td := startDaemon(t, "--repo", "file://"+repo.bare, "--db", filepath.Join(dir, "pier.db"), "--cache-dir", filepath.Join(dir, "git"),
		"--webhook-secret", "hook-secret", "--anonymous-reads")
	td.waitFor(t, "the first revision attempted", func(st map[string]any) bool { return st["lastAttemptedRevision"] == first })
	st := td.status(t)
	errs, _ := st["errors"].([]any)
	if len(errs) != 1 || st["lastAppliedRevision"] != nil {
		t.Fatalf("status: %v", st)
	}
	diag := errs[0].(map[string]any)
	pos := diag["pos"].(map[string]any)
	if pos["file"] != "webhooks.cue" || pos["line"] != 3.0 || diag["path"] != "webhooks.events.secretEnv" ||
		!strings.Contains(diag["message"].(string), `is pier serve's --webhook-secret`) || !strings.Contains(diag["message"].(string), `write secretEnv: "PIER_SECRET_EVENTS"`) {
		t.Fatalf("diagnostic %v", diag)
	}

	fixed := repo.commit("sign with its own secret", map[string]string{"webhooks.cue": webhooks("PIER_SECRET_EVENTS")})
	if code := td.push(t, fixed, "hook-secret"); code != http.StatusAccepted {
		t.Fatalf("push: %d", code)
	}
	td.waitFor(t, "the fix applied", func(st map[string]any) bool { return st["lastAppliedRevision"] == fixed })
	deadline := time.Now().Add(15 * time.Second)
	for len(hook.requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got := hook.requests()
	if len(got) == 0 {
		t.Fatal("no delivery of the api's creation")
	}
	for _, r := range got {
		if err := outbox.Verify("events-secret", r.timestamp, r.signature, r.body, time.Now(), time.Minute); err != nil {
			t.Errorf("a delivery is not signed with the subscription's secret: %v", err)
		}
		if outbox.Verify("hook-secret", r.timestamp, r.signature, r.body, time.Now(), time.Minute) == nil {
			t.Errorf("a delivery is signed with --webhook-secret")
		}
	}
	// The receiver's secret signs no push pier takes.
	if code := td.push(t, fixed, "events-secret"); code != http.StatusUnauthorized {
		t.Errorf("a push signed with the subscription's secret answered %d", code)
	}
}

// TestValidateRefusesOutboundSecrets: pier validate, as CI runs it,
// names every subscription whose secret is not the catalog's.
func TestValidateRefusesOutboundSecrets(t *testing.T) {
	dir := t.TempDir()
	src := "package catalog\n\n" +
		"webhooks: a: {url: \"https://example.com/a\", secretEnv: \"PIER_WEBHOOK_SECRET\"}\n" +
		"webhooks: b: {url: \"https://example.com/b\", secretEnv: \"GITHUB_TOKEN\"}\n" +
		"webhooks: \"c-d\": {url: \"https://example.com/c\", secretEnv: \"HOME\"}\n" +
		"webhooks: e: {url: \"https://example.com/e\", secretEnv: \"PIER_SECRET_E\"}\n"
	if err := os.WriteFile(filepath.Join(dir, "webhooks.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLI(t, "validate", dir)
	for _, want := range []string{
		`webhooks.cue:3:56: webhooks.a.secretEnv: "PIER_WEBHOOK_SECRET" is pier serve's --webhook-secret`,
		`webhooks.cue:4:56: webhooks.b.secretEnv: "GITHUB_TOKEN" is pier serve's --github-token`,
		`write secretEnv: "PIER_SECRET_B"`,
		`webhooks.cue:5:60: webhooks."c-d".secretEnv: "HOME" is not a PIER_SECRET_* variable`,
		`write secretEnv: "PIER_SECRET_C_D"`,
		"3 errors",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("pier validate: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
}

// TestStoredSubscriptionsOutsideTheSecretsAreNotSent: a state stored
// before the loader refused them keeps serving, but its subscription
// with a refused secretEnv gets nothing, signed or not.
func TestStoredSubscriptionsOutsideTheSecretsAreNotSent(t *testing.T) {
	t.Setenv("PIER_SECRET_OK", "ok-secret")
	d := &daemon{log: slog.New(slog.DiscardHandler)}
	subs := d.subscriptionsOf(map[string]*catalog.Webhook{
		"bad":      {Identifier: "bad", URL: "https://example.com/bad", SecretEnv: "PIER_WEBHOOK_SECRET"},
		"ok":       {Identifier: "ok", URL: "https://example.com/ok", SecretEnv: "PIER_SECRET_OK"},
		"unsigned": {Identifier: "unsigned", URL: "https://example.com/unsigned"},
	}, nil, nil)
	got := map[string]string{}
	for _, s := range subs {
		got[s.ID] = s.Secret
	}
	if len(got) != 2 || got["ok"] != "ok-secret" || got["unsigned"] != "" {
		t.Fatalf("subscriptions %v, want ok (signed) and unsigned", got)
	}
}

// localCatalog is a catalog directory pier serve watches.
func localCatalog(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range map[string]string{"blueprints.cue": testBlueprints, "services/api.cue": service("api", "Staging")} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestDaemonRefusesAnonymousFloods: with the default limits, a flood of
// anonymous PATCHes is refused (401, then 429 with Retry-After once the
// address's burst is spent), counted in the metrics and never written
// to the audit log.
func TestDaemonRefusesAnonymousFloods(t *testing.T) {
	dir := t.TempDir()
	td := startDaemon(t, "--repo", localCatalog(t), "--db", filepath.Join(dir, "pier.db"), "--client-id", "ci", "--client-secret", "ci-secret")
	codes := map[int]int{}
	retryAfter := ""
	for range 300 {
		code, body := callURL(t, "PATCH", td.url+"/v1/blueprints/service/entities/api", "", `{"properties": {"health": "ok"}}`)
		codes[code]++
		if code == http.StatusTooManyRequests {
			var out map[string]any
			json.Unmarshal(body, &out)
			retryAfter = fmt.Sprint(out["retryAfter"])
		}
	}
	if codes[http.StatusUnauthorized] < 100 || codes[http.StatusTooManyRequests] == 0 || codes[401]+codes[429] != 300 || retryAfter != "1" {
		t.Fatalf("300 anonymous PATCHes answered %v (Retry-After %q), want 401s for the burst of 100, then 429s", codes, retryAfter)
	}
	// The address may come back after Retry-After. The metrics say what
	// happened; a client reads them, and the audit log, with its own
	// limit.
	time.Sleep(time.Second)
	_, out := td.post(t, "/v1/auth/access_token", "", `{"clientId": "ci", "clientSecret": "ci-secret"}`)
	tok, _ := out["accessToken"].(string)
	metrics := td.read(t, "/metrics", tok)
	for _, want := range []string{
		fmt.Sprintf(`pier_api_unauthenticated_total{reason="no_token"} %d`, codes[401]),
		fmt.Sprintf(`pier_api_rate_limited_total{limit="address"} %d`, codes[429]),
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	promtoolCheck(t, metrics)
	if body := td.read(t, "/v1/audit-log", tok); !strings.Contains(body, `"entries":[]`) {
		t.Errorf("audit log after the flood: %s", body)
	}
}

// post sends a JSON body, with a token when one is given.
func (td *testDaemon) post(t *testing.T, path, token, body string) (int, map[string]any) {
	t.Helper()
	code, b := callURL(t, "POST", td.url+path, token, body)
	var out map[string]any
	json.Unmarshal(b, &out)
	return code, out
}

// read GETs path with a token and returns the body; anything but 200
// fails the test.
func (td *testDaemon) read(t *testing.T, path, token string) string {
	t.Helper()
	return readURL(t, td.url+path, token)
}

func readURL(t *testing.T, url, token string) string {
	t.Helper()
	code, b := callURL(t, "GET", url, token, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, b)
	}
	return string(b)
}

// callURL makes a request, with a token when one is given, and returns
// the answer's status and body.
func callURL(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestDaemonAuditRetention: with --audit-retention, entries older than
// it are gone once the daemon is up; newer ones stay.
func TestDaemonAuditRetention(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "pier.db")
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	for _, age := range []time.Duration{72 * time.Hour, 25 * time.Hour, time.Hour} {
		e := store.AuditEntry{At: time.Now().Add(-age), Actor: "ci", Action: "PATCH /v1/blueprints/{bp}/entities/{id}", Resource: fmt.Sprint("age ", age), Status: 200}
		if err := st.Audit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	td := startDaemon(t, "--repo", localCatalog(t), "--db", db, "--anonymous-reads", "--audit-retention", "1d")
	_, out := td.get(t, "/v1/audit-log")
	entries, _ := out["entries"].([]any)
	if len(entries) != 1 || entries[0].(map[string]any)["resource"] != "age 1h0m0s" {
		t.Fatalf("audit log after retention: %v", out)
	}
}

// TestDaemonMetricsListen: with --metrics-listen, /metrics is served on
// its own address, open to the scraper, and not on the API's.
func TestDaemonMetricsListen(t *testing.T) {
	dir := t.TempDir()
	td := startDaemon(t, "--repo", localCatalog(t), "--db", filepath.Join(dir, "pier.db"), "--anonymous-reads", "--metrics-listen", "127.0.0.1:0")
	if code, out := td.get(t, "/metrics"); code != http.StatusNotFound || out["ok"] != false {
		t.Errorf("/metrics on the API's address: %d %v", code, out)
	}
	metrics := readURL(t, "http://"+td.d.metricsAddr()+"/metrics", "")
	if !strings.Contains(metrics, "pier_http_requests_total") {
		t.Errorf("metrics listener:\n%.300s", metrics)
	}
	promtoolCheck(t, metrics)
}
