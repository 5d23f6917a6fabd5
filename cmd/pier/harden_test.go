package main

import (
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
