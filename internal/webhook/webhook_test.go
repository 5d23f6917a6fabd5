package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/githubfake/examples"

	"github.com/google/go-github/v62/github"

	"github.com/pierhq/pier/internal/metrics"
)

// *metrics.Metrics is what the daemon passes as Options.Metrics.
var _ Recorder = (*metrics.Metrics)(nil)

var secret = []byte("It's a Secret to Everybody")

// example returns one of GitHub's real payloads.
func example(t *testing.T, name string) []byte {
	t.Helper()
	return examples.Load(name)
}

func sign(body, key []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// delivery builds a request as GitHub sends it, signed with secret.
func delivery(event, id string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "GitHub-Hookshot/abc123")
	r.Header.Set("X-GitHub-Event", event)
	r.Header.Set("X-GitHub-Delivery", id)
	r.Header.Set("X-GitHub-Hook-ID", "109948940")
	r.Header.Set("X-Hub-Signature-256", sign(body, secret))
	return r
}

// recorder is a Recorder that keeps what it was told.
type recorder struct {
	mu     sync.Mutex
	counts map[[2]string]int
}

func (r *recorder) WebhookDelivery(event, result string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = map[[2]string]int{}
	}
	r.counts[[2]string{event, result}]++
}

func (r *recorder) get(event, result string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[[2]string{event, result}]
}

// fixture is a Handler with a counting push handler.
type fixture struct {
	h       *Handler
	rec     *recorder
	calls   atomic.Int32
	mu      sync.Mutex
	got     []Delivery
	pushErr error
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	f := &fixture{rec: &recorder{}}
	if opts.Secret == nil && !opts.Insecure {
		opts.Secret = secret
	}
	opts.Metrics = f.rec
	f.h = New(opts)
	f.h.On("push", func(ctx context.Context, d Delivery) error {
		f.calls.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.got = append(f.got, d)
		return f.pushErr
	})
	return f
}

func (f *fixture) serve(r *http.Request) (*httptest.ResponseRecorder, answer) {
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	var a answer
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		a.Message = "Content-Type " + ct
		return w, a
	}
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		a.Message = "bad JSON: " + w.Body.String()
	}
	return w, a
}

func expect(t *testing.T, w *httptest.ResponseRecorder, a answer, code int, status string) {
	t.Helper()
	if w.Code != code || a.Status != status {
		t.Fatalf("answer %d %q (%s), want %d %q", w.Code, a.Status, a.Message, code, status)
	}
}

func TestPushValidSignature(t *testing.T) {
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, Options{Now: func() time.Time { return now }})
	body := example(t, "push.with-new-branch.json")

	w, a := f.serve(delivery("push", "d-1", body))
	expect(t, w, a, http.StatusAccepted, statusAccepted)
	if f.calls.Load() != 1 {
		t.Fatalf("handler called %d times, want 1", f.calls.Load())
	}
	d := f.got[0]
	if d.ID != "d-1" || d.Event != "push" || !d.ReceivedAt.Equal(now) || !bytes.Equal(d.Raw, body) {
		t.Errorf("delivery = %+v", d)
	}
	e, ok := d.Payload.(*github.PushEvent)
	if !ok {
		t.Fatalf("payload is %T, want *github.PushEvent", d.Payload)
	}
	if e.GetRef() != "refs/heads/master" || e.GetAfter() != "6113728f27ae82c7b1a177c8d03f9e96e0adf246" {
		t.Errorf("push event ref %q after %q", e.GetRef(), e.GetAfter())
	}
	if e.GetRepo().GetFullName() == "" {
		t.Error("push event without repository")
	}
	if n := f.rec.get("push", metrics.WebhookAccepted); n != 1 {
		t.Errorf("accepted count = %d, want 1", n)
	}
}

func TestBadSignature(t *testing.T) {
	body := example(t, "push.json")
	for name, sig := range map[string]string{
		"missing":      "",
		"wrong secret": sign(body, []byte("another secret")),
		"other body":   sign(append(bytes.Clone(body), ' '), secret),
		"sha1 prefix":  "sha1=" + strings.TrimPrefix(sign(body, secret), "sha256="),
		"no prefix":    strings.TrimPrefix(sign(body, secret), "sha256="),
		"not hex":      "sha256=zz",
		"truncated":    sign(body, secret)[:40],
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, Options{})
			r := delivery("push", "d-1", body)
			if sig == "" {
				r.Header.Del("X-Hub-Signature-256")
			} else {
				r.Header.Set("X-Hub-Signature-256", sig)
			}
			w, a := f.serve(r)
			expect(t, w, a, http.StatusUnauthorized, statusError)
			if f.calls.Load() != 0 {
				t.Error("handler called for a bad signature")
			}
			if n := f.rec.get("push", metrics.WebhookBadSignature); n != 1 {
				t.Errorf("bad_signature count = %d, want 1", n)
			}
		})
	}
}

// TestBadSignatureNotRemembered checks that a forged delivery cannot
// burn a delivery id: the genuine one with the same id still runs.
func TestBadSignatureNotRemembered(t *testing.T) {
	f := newFixture(t, Options{})
	body := example(t, "push.with-new-branch.json")
	forged := delivery("push", "d-1", body)
	forged.Header.Set("X-Hub-Signature-256", sign(body, []byte("guess")))
	w, a := f.serve(forged)
	expect(t, w, a, http.StatusUnauthorized, statusError)
	w, a = f.serve(delivery("push", "d-1", body))
	expect(t, w, a, http.StatusAccepted, statusAccepted)
}

func TestReplayedDelivery(t *testing.T) {
	f := newFixture(t, Options{})
	body := example(t, "push.with-new-branch.json")
	w, a := f.serve(delivery("push", "d-1", body))
	expect(t, w, a, http.StatusAccepted, statusAccepted)
	w, a = f.serve(delivery("push", "d-1", body))
	expect(t, w, a, http.StatusOK, statusDuplicate)
	if a.Message != "duplicate delivery" {
		t.Errorf("message %q", a.Message)
	}
	if f.calls.Load() != 1 {
		t.Errorf("handler called %d times, want 1", f.calls.Load())
	}
	if n := f.rec.get("push", metrics.WebhookDuplicate); n != 1 {
		t.Errorf("duplicate count = %d, want 1", n)
	}
	// Another delivery of the same payload is not a duplicate.
	w, a = f.serve(delivery("push", "d-2", body))
	expect(t, w, a, http.StatusAccepted, statusAccepted)
}

func TestConcurrentReplays(t *testing.T) {
	f := newFixture(t, Options{})
	body := example(t, "push.with-new-branch.json")
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { f.serve(delivery("push", "d-1", body)) })
	}
	wg.Wait()
	if f.calls.Load() != 1 {
		t.Errorf("handler called %d times, want 1", f.calls.Load())
	}
}

func TestHandlerErrorAllowsRedelivery(t *testing.T) {
	f := newFixture(t, Options{})
	f.pushErr = errors.New("queue full")
	body := example(t, "push.with-new-branch.json")
	w, a := f.serve(delivery("push", "d-1", body))
	expect(t, w, a, http.StatusInternalServerError, statusError)
	if !strings.Contains(a.Message, "queue full") {
		t.Errorf("message %q does not say why", a.Message)
	}
	if n := f.rec.get("push", metrics.WebhookError); n != 1 {
		t.Errorf("error count = %d, want 1", n)
	}
	// Redelivered from GitHub after the fix: runs again.
	f.pushErr = nil
	w, a = f.serve(delivery("push", "d-1", body))
	expect(t, w, a, http.StatusAccepted, statusAccepted)
	if f.calls.Load() != 2 {
		t.Errorf("handler called %d times, want 2", f.calls.Load())
	}
}

func TestHandlerPanic(t *testing.T) {
	f := newFixture(t, Options{})
	f.h.On("push", func(ctx context.Context, d Delivery) error { panic("boom") })
	w, a := f.serve(delivery("push", "d-1", example(t, "push.with-new-branch.json")))
	expect(t, w, a, http.StatusInternalServerError, statusError)
	if !strings.Contains(a.Message, "panicked") {
		t.Errorf("message %q", a.Message)
	}
}

func TestHandlerTimeout(t *testing.T) {
	f := newFixture(t, Options{HandlerTimeout: 50 * time.Millisecond})
	returned := make(chan struct{})
	f.h.On("push", func(ctx context.Context, d Delivery) error {
		defer close(returned)
		<-ctx.Done() // a handler that blocks until cancelled
		return ctx.Err()
	})
	body := example(t, "push.with-new-branch.json")
	start := time.Now()
	w, a := f.serve(delivery("push", "d-1", body))
	expect(t, w, a, http.StatusServiceUnavailable, statusError)
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("answered after %v", el)
	}
	<-returned
	// The handler failed (context cancelled): its delivery is forgotten,
	// so a redelivery runs again. Forgetting happens just after the
	// handler returns; wait for it.
	ok := false
	f.h.On("push", func(ctx context.Context, d Delivery) error { return nil })
	for range 100 {
		if f.h.opts.Deliveries.(*MemoryDeliveries).Len() == 0 {
			ok = true
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !ok {
		t.Fatal("timed-out delivery not forgotten")
	}
	w, a = f.serve(delivery("push", "d-1", body))
	expect(t, w, a, http.StatusAccepted, statusAccepted)
}

func TestTooLarge(t *testing.T) {
	body := example(t, "push.with-new-branch.json")
	t.Run("declared length", func(t *testing.T) {
		f := newFixture(t, Options{MaxBody: 1024})
		w, a := f.serve(delivery("push", "d-1", body))
		expect(t, w, a, http.StatusRequestEntityTooLarge, statusError)
		if f.calls.Load() != 0 {
			t.Error("handler called for an oversized body")
		}
		if n := f.rec.get("push", metrics.WebhookTooLarge); n != 1 {
			t.Errorf("too_large count = %d, want 1", n)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		f := newFixture(t, Options{MaxBody: 1024})
		r := delivery("push", "d-1", body)
		r.ContentLength = -1 // unknown length: caught while reading
		r.Body = io.NopCloser(bytes.NewReader(body))
		w, a := f.serve(r)
		expect(t, w, a, http.StatusRequestEntityTooLarge, statusError)
		if f.calls.Load() != 0 {
			t.Error("handler called for an oversized body")
		}
	})
	t.Run("at the limit", func(t *testing.T) {
		f := newFixture(t, Options{MaxBody: int64(len(body))})
		w, a := f.serve(delivery("push", "d-1", body))
		expect(t, w, a, http.StatusAccepted, statusAccepted)
	})
	t.Run("default", func(t *testing.T) {
		if h := New(Options{Secret: secret}); h.opts.MaxBody != 25<<20 {
			t.Errorf("default MaxBody = %d, want 25 MiB", h.opts.MaxBody)
		}
	})
}

func TestPing(t *testing.T) {
	f := newFixture(t, Options{})
	w, a := f.serve(delivery("ping", "d-ping", example(t, "ping.json")))
	expect(t, w, a, http.StatusOK, statusOK)
	if a.Message != "pong" {
		t.Errorf("message %q, want pong", a.Message)
	}
	// A ping is authenticated like anything else: it is how GitHub shows
	// whether the secret is right.
	r := delivery("ping", "d-ping-2", example(t, "ping.json"))
	r.Header.Set("X-Hub-Signature-256", sign([]byte("x"), secret))
	w, a = f.serve(r)
	expect(t, w, a, http.StatusUnauthorized, statusError)
}

func TestUnhandledEvent(t *testing.T) {
	f := newFixture(t, Options{})
	w, a := f.serve(delivery("workflow_run", "d-1", example(t, "workflow_run.completed.json")))
	expect(t, w, a, http.StatusOK, statusIgnored)
	if n := f.rec.get("workflow_run", metrics.WebhookIgnored); n != 1 {
		t.Errorf("ignored count = %d, want 1", n)
	}
	// An event name nobody knows is ignored too, and does not become a
	// label of its own.
	w, a = f.serve(delivery("made_up_event_123", "d-2", []byte(`{}`)))
	expect(t, w, a, http.StatusOK, statusIgnored)
	if n := f.rec.get("other", metrics.WebhookIgnored); n != 1 {
		t.Errorf("ignored count for other = %d, want 1", n)
	}
	if f.calls.Load() != 0 {
		t.Error("push handler called for another event")
	}
}

func TestOtherEventParsed(t *testing.T) {
	f := newFixture(t, Options{})
	var got any
	f.h.On("pull_request_review", func(ctx context.Context, d Delivery) error {
		got = d.Payload
		return nil
	})
	w, a := f.serve(delivery("pull_request_review", "d-1", example(t, "pull_request_review.submitted.json")))
	expect(t, w, a, http.StatusAccepted, statusAccepted)
	if e, ok := got.(*github.PullRequestReviewEvent); !ok || e.GetAction() != "submitted" {
		t.Errorf("payload %T %+v", got, got)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t, Options{})
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodHead} {
		w, a := f.serve(httptest.NewRequest(m, Path, nil))
		if w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d, want 405", m, w.Code)
		}
		if m != http.MethodHead && a.Status != statusError {
			t.Errorf("%s: status %q", m, a.Status)
		}
		if allow := w.Header().Get("Allow"); allow != http.MethodPost {
			t.Errorf("%s: Allow %q", m, allow)
		}
	}
}

func TestEmptySecretRefused(t *testing.T) {
	body := example(t, "push.with-new-branch.json")
	f := newFixture(t, Options{Secret: []byte{}}) // empty, not nil: newFixture fills in nil
	r := delivery("push", "d-1", body)
	r.Header.Del("X-Hub-Signature-256")
	w, a := f.serve(r)
	expect(t, w, a, http.StatusServiceUnavailable, statusError)
	if !strings.Contains(a.Message, "secret") {
		t.Errorf("message %q does not mention the secret", a.Message)
	}
	// Even a request signed with the empty key is refused.
	r = delivery("push", "d-1", body)
	r.Header.Set("X-Hub-Signature-256", sign(body, nil))
	w, a = f.serve(r)
	expect(t, w, a, http.StatusServiceUnavailable, statusError)
	if f.calls.Load() != 0 {
		t.Error("handler called without a secret")
	}
}

func TestInsecure(t *testing.T) {
	f := newFixture(t, Options{Insecure: true})
	r := delivery("push", "d-1", example(t, "push.with-new-branch.json"))
	r.Header.Del("X-Hub-Signature-256")
	w, a := f.serve(r)
	expect(t, w, a, http.StatusAccepted, statusAccepted)

	// With a secret, Insecure changes nothing.
	f = newFixture(t, Options{Insecure: true, Secret: secret})
	r = delivery("push", "d-1", example(t, "push.with-new-branch.json"))
	r.Header.Del("X-Hub-Signature-256")
	w, a = f.serve(r)
	expect(t, w, a, http.StatusUnauthorized, statusError)
}

func TestMissingHeaders(t *testing.T) {
	body := example(t, "push.with-new-branch.json")
	for _, h := range []string{"X-GitHub-Event", "X-GitHub-Delivery"} {
		f := newFixture(t, Options{})
		r := delivery("push", "d-1", body)
		r.Header.Del(h)
		w, a := f.serve(r)
		expect(t, w, a, http.StatusBadRequest, statusError)
		if !strings.Contains(a.Message, h) {
			t.Errorf("message %q does not name %s", a.Message, h)
		}
		if f.calls.Load() != 0 {
			t.Errorf("handler called without %s", h)
		}
	}
}

func TestBadPayload(t *testing.T) {
	f := newFixture(t, Options{})
	w, a := f.serve(delivery("push", "d-1", []byte(`{"ref": 42`)))
	expect(t, w, a, http.StatusBadRequest, statusError)
	if f.calls.Load() != 0 {
		t.Error("handler called for a malformed payload")
	}
}

// TestContentTypes: GitHub sends a delivery as application/json or
// form-encoded (payload=<json>), signed over the body as sent; both are
// taken, anything else is a 415 that reaches no handler, however well
// signed.
func TestContentTypes(t *testing.T) {
	payload := example(t, "push.with-new-branch.json")
	form := []byte(url.Values{"payload": {string(payload)}}.Encode())
	for _, tt := range []struct {
		name, contentType string
		body              []byte
		code              int
	}{
		{"json", "application/json", payload, http.StatusAccepted},
		{"json with a charset", "application/json; charset=utf-8", payload, http.StatusAccepted},
		{"form-encoded", "application/x-www-form-urlencoded", form, http.StatusAccepted},
		{"plain text", "text/plain", payload, http.StatusUnsupportedMediaType},
		{"none", "", payload, http.StatusUnsupportedMediaType},
		{"multipart", "multipart/form-data; boundary=x", form, http.StatusUnsupportedMediaType},
		{"malformed", "application/json;;", payload, http.StatusUnsupportedMediaType},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			r := delivery("push", "d-1", tt.body) // signed over the body as sent, as GitHub does
			r.Header.Set("Content-Type", tt.contentType)
			w, a := f.serve(r)
			if w.Code != tt.code {
				t.Fatalf("%q: %d %s, want %d", tt.contentType, w.Code, a.Message, tt.code)
			}
			if tt.code != http.StatusAccepted {
				if f.calls.Load() != 0 || !strings.Contains(a.Message, "application/json or application/x-www-form-urlencoded") {
					t.Errorf("refused delivery: %d handler calls, message %q", f.calls.Load(), a.Message)
				}
				return
			}
			if _, ok := f.got[0].Payload.(*github.PushEvent); !ok || !bytes.Equal(f.got[0].Raw, payload) {
				t.Errorf("payload %T, raw %d bytes", f.got[0].Payload, len(f.got[0].Raw))
			}
		})
	}
}

// TestOverHTTP runs a delivery through a real server with real metrics,
// as the daemon wires it.
func TestOverHTTP(t *testing.T) {
	m := metrics.New()
	h := New(Options{Secret: secret, Metrics: m})
	called := make(chan *github.PushEvent, 1)
	h.On("push", func(ctx context.Context, d Delivery) error {
		called <- d.Payload.(*github.PushEvent)
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("POST "+Path, h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	body := example(t, "push.with-new-branch.json")
	req, _ := http.NewRequest(http.MethodPost, srv.URL+Path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	req.Header.Set("X-Hub-Signature-256", sign(body, secret))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if e := <-called; e.GetRef() != "refs/heads/master" {
		t.Errorf("ref %q", e.GetRef())
	}

	mw := httptest.NewRecorder()
	m.Handler().ServeHTTP(mw, httptest.NewRequest("GET", "/metrics", nil))
	if want := `pier_webhook_deliveries_total{event="push",result="accepted"} 1`; !strings.Contains(mw.Body.String(), want) {
		t.Errorf("metrics lack %s", want)
	}
}

func TestPushBranch(t *testing.T) {
	parse := func(name string) *github.PushEvent {
		e, err := github.ParseWebHook("push", example(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return e.(*github.PushEvent)
	}
	s, b := github.String, github.Bool
	sha := "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
	zero := strings.Repeat("0", 40)
	for _, tc := range []struct {
		name   string
		e      *github.PushEvent
		branch string
		ok     bool
	}{
		{"push.with-new-branch.json", parse("push.with-new-branch.json"), "master", true},
		{"push.json (tag deleted)", parse("push.json"), "", false},
		{"push.1.json (tag deleted)", parse("push.1.json"), "", false},
		{"nested branch", &github.PushEvent{Ref: s("refs/heads/feature/x"), After: s(sha)}, "feature/x", true},
		{"tag pushed", &github.PushEvent{Ref: s("refs/tags/v1.0.0"), After: s(sha)}, "", false},
		{"branch deleted", &github.PushEvent{Ref: s("refs/heads/main"), After: s(zero), Deleted: b(true)}, "", false},
		{"zero after without deleted", &github.PushEvent{Ref: s("refs/heads/main"), After: s(zero)}, "", false},
		{"empty branch", &github.PushEvent{Ref: s("refs/heads/"), After: s(sha)}, "", false},
		{"bare name", &github.PushEvent{Ref: s("main"), After: s(sha)}, "", false},
		{"nil", nil, "", false},
	} {
		branch, ok := PushBranch(tc.e)
		if branch != tc.branch || ok != tc.ok {
			t.Errorf("%s: PushBranch = %q, %v; want %q, %v", tc.name, branch, ok, tc.branch, tc.ok)
		}
	}
}

func TestMemoryDeliveries(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	seen := func(m *MemoryDeliveries, id string, at time.Time) bool {
		t.Helper()
		ok, err := m.Seen(ctx, id, at)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	t.Run("ttl", func(t *testing.T) {
		m := NewMemoryDeliveries(10, time.Hour)
		if seen(m, "a", t0) {
			t.Error("a seen before it was recorded")
		}
		if !seen(m, "a", t0.Add(59*time.Minute)) {
			t.Error("a not seen within the TTL")
		}
		if seen(m, "a", t0.Add(61*time.Minute)) {
			t.Error("a still seen after the TTL")
		}
		seen(m, "b", t0.Add(62*time.Minute))
		seen(m, "c", t0.Add(3*time.Hour)) // expires a and b
		if m.Len() != 1 {
			t.Errorf("Len = %d after expiry, want 1", m.Len())
		}
	})
	t.Run("bounded", func(t *testing.T) {
		m := NewMemoryDeliveries(3, time.Hour)
		for _, id := range []string{"a", "b", "c", "d"} {
			seen(m, id, t0)
		}
		if m.Len() != 3 {
			t.Errorf("Len = %d, want 3", m.Len())
		}
		if seen(m, "a", t0) {
			t.Error("oldest id not evicted")
		}
		if !seen(m, "d", t0) {
			t.Error("newest id evicted")
		}
	})
	t.Run("forget", func(t *testing.T) {
		m := NewMemoryDeliveries(0, 0)
		seen(m, "a", t0)
		if err := m.Forget(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if err := m.Forget(ctx, "never"); err != nil {
			t.Fatal(err)
		}
		if seen(m, "a", t0) {
			t.Error("forgotten id still seen")
		}
	})
	t.Run("defaults", func(t *testing.T) {
		m := NewMemoryDeliveries(0, 0)
		if m.max != DefaultDeliveriesMax || m.ttl != 72*time.Hour {
			t.Errorf("defaults %d, %v", m.max, m.ttl)
		}
	})
}
