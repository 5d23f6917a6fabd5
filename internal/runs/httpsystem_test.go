package runs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/store"
)

// cab is a stand-in change board on loopback for the declared approval
// system "cab" of the test catalog: it creates changes (honouring an
// Idempotency-Key), answers their state, and takes post-apply and
// deletion requests addressed by run id. A test makes it answer without
// an id, fail a number of times, or hold a creation until released.
type cab struct {
	mu      sync.Mutex
	changes map[string]string // id -> requested|approved|rejected
	byKey   map[string]string // Idempotency-Key -> id
	calls   []string
	keys    []string // the Idempotency-Key of each creation
	noID    bool
	fail    map[string]int // "METHOD /path-prefix" -> failures still to answer
	note    string         // the status note (statusDisplay)
	held    chan struct{}  // when set, a creation waits for release
	release chan struct{}
}

func newCab(t *testing.T) (*cab, *env) {
	c := &cab{changes: map[string]string{}, byKey: map[string]string{}, fail: map[string]int{}}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	var e *env
	e = newEnv(t, declaredSystems(&e, srv.URL), func(o *Options) {
		o.Backoff = func(n int) time.Duration { return time.Duration(10<<(n-1)) * time.Second }
	})
	return c, e
}

func (c *cab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	call := r.Method + " " + r.URL.Path
	c.calls = append(c.calls, call)
	for k, n := range c.fail {
		if n > 0 && strings.HasPrefix(call, k) {
			c.fail[k] = n - 1
			c.mu.Unlock()
			// The answer quotes the credential back, as a careless
			// proxy might: pier must not publish it.
			http.Error(w, `{"error": "down for maintenance", "seen": "`+r.Header.Get("Authorization")+`"}`, http.StatusServiceUnavailable)
			return
		}
	}
	if r.Header.Get("Authorization") != "Bearer board-token" {
		c.mu.Unlock()
		http.Error(w, `{"error": "unauthorized"}`, http.StatusUnauthorized)
		return
	}
	switch {
	case call == "POST /changes":
		key := r.Header.Get("Idempotency-Key")
		c.keys = append(c.keys, key)
		if held := c.held; held != nil {
			c.held = nil
			c.mu.Unlock()
			held <- struct{}{}
			select {
			case <-c.release:
			case <-r.Context().Done():
			}
			c.mu.Lock()
		}
		id, ok := c.byKey[key]
		if !ok {
			id = fmt.Sprintf("chg%d", len(c.changes)+1)
			c.changes[id], c.byKey[key] = "requested", id
		}
		if c.noID {
			c.mu.Unlock()
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(map[string]any{"change": map[string]any{"state": "requested"}})
			return
		}
		c.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"change": map[string]any{"id": id, "state": "requested", "note": "new"}})
		return
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/changes/"):
		id := strings.TrimPrefix(r.URL.Path, "/changes/")
		state, note := c.changes[id], c.note
		c.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"change": map[string]any{"id": id, "state": state, "note": note}})
		return
	}
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (c *cab) count(call string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, x := range c.calls {
		if x == call {
			n++
		}
	}
	return n
}

func (c *cab) set(id, state string) {
	c.mu.Lock()
	c.changes[id] = state
	c.mu.Unlock()
}

// tick is what the daemon's runs schedule does once: sweep every run and
// poll the declared system.
func (e *env) tick(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	e.eng.Sweep(ctx)
	e.eng.PollSystem(ctx, "http:cab")
}

func (e *env) notes(t *testing.T, id string) string {
	t.Helper()
	evs, err := e.st.RunEvents(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Note)
	}
	return strings.Join(out, "\n")
}

func (e *env) run(t *testing.T, id string) store.Run {
	t.Helper()
	run, err := e.st.Run(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func (e *env) ask(t *testing.T, action string) string {
	t.Helper()
	run, err := e.eng.Request(context.Background(), Request{Action: action, Requester: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	e.eng.Advance(context.Background(), run.ID)
	return run.ID
}

// A 2xx to the creation means the board made a change: an answer without
// its id fails the run with the board's answer, the creation is never
// sent again, and the change is withdrawn (its deletion is addressed by
// the run's id).
func TestHTTPCreationAnswerWithoutAnID(t *testing.T) {
	c, e := newCab(t)
	c.noID = true
	id := e.ask(t, "cab_change")
	for range 5 {
		e.clock.Add(time.Minute)
		e.tick(t)
	}
	if n := c.count("POST /changes"); n != 1 {
		t.Fatalf("%d creation requests, want 1", n)
	}
	run := e.run(t, id)
	notes := e.notes(t, id)
	if run.Status != store.RunFailure || !strings.Contains(notes, `parser approvalId: no value at "/change/id"`) || !strings.Contains(notes, "is not opened again") {
		t.Fatalf("run %s:\n%s", run.Status, notes)
	}
	if n := c.count("DELETE /by-run/" + id); n != 1 || run.Approval.FinishedAt.IsZero() {
		t.Fatalf("%d deletions, finished %v", n, run.Approval.FinishedAt)
	}
	if e.gh.count(id) != 0 {
		t.Fatal("dispatched")
	}
}

// 5xx answers are retried with backoff, whichever path advances the run
// (a sweep and the system's poll in the same tick send one request), and
// each failure is on the run with the board's answer, redacted.
func TestHTTPFailuresBackOffAndShow(t *testing.T) {
	c, e := newCab(t)
	c.fail["POST /changes"] = 3
	id := e.ask(t, "cab_change")
	e.tick(t) // the same moment: backing off
	if n := c.count("POST /changes"); n != 1 {
		t.Fatalf("%d creation requests at once, want 1", n)
	}
	for _, wait := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} {
		e.clock.Add(wait - time.Second)
		e.tick(t)
		before := c.count("POST /changes")
		e.clock.Add(time.Second)
		e.tick(t)
		if after := c.count("POST /changes"); after != before+1 {
			t.Fatalf("after %s: %d creation requests, then %d", wait, before, after)
		}
	}
	run := e.run(t, id)
	notes := e.notes(t, id)
	if run.Approval.Ref != "chg1" || run.Approval.Retry != (store.RunRetry{}) || !strings.Contains(notes, "approval requested: http://board.test/c/chg1") {
		t.Fatalf("not requested after the failures: %+v\n%s", run.Approval, notes)
	}
	for _, want := range []string{
		`request approval through http:cab: approval system "cab": creationRequest: POST http://board.test/changes: 503 Service Unavailable: "{\"error\": \"down for maintenance\", \"seen\": \"Bearer REDACTED\"}" (failure 1; next attempt in 10s)`,
		"(failure 2; next attempt in 20s)",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if strings.Contains(notes, "failure 3") || strings.Contains(notes, "board-token") {
		t.Errorf("an unchanged failure that is no doubling was written again, or the secret leaked:\n%s", notes)
	}

	// A status request that fails, then answers.
	c.fail["GET /changes/chg1"] = 1
	e.clock.Add(time.Minute)
	e.tick(t)
	e.clock.Add(time.Minute)
	e.tick(t)
	if notes := e.notes(t, id); !strings.Contains(notes, "check approval through http:cab") || !strings.Contains(notes, "approval system http:cab answers again, after 1 failure(s)") {
		t.Fatalf("status failure and recovery:\n%s", notes)
	}
}

// A run that expires because the board never answered says why.
func TestHTTPExpiredBeforeRequestSaysWhy(t *testing.T) {
	c, e := newCab(t)
	c.fail["POST /changes"] = 1000
	id := e.ask(t, "cab_change")
	e.clock.Add(2 * time.Hour) // past the action's 1h
	e.tick(t)
	run := e.run(t, id)
	if run.Status != store.RunExpired || !strings.Contains(run.Approval.Reason, "expired before approval could be requested (last failure: request approval through http:cab") ||
		!strings.Contains(run.Approval.Reason, "503 Service Unavailable") {
		t.Fatalf("%s: %q", run.Status, run.Approval.Reason)
	}
}

// The deletion after a decline and the post-apply after a run that ended
// first are durable: retried until the board takes them, each failure on
// the run; past CloseAttempts pier gives up, and says so.
func TestHTTPFollowUpsAreRetried(t *testing.T) {
	c, e := newCab(t)
	declined := e.ask(t, "cab_change")
	c.set(e.run(t, declined).Approval.Ref, "rejected")
	c.fail["DELETE /by-run/"+declined] = 2
	e.tick(t)
	if run := e.run(t, declined); run.Status != store.RunDeclined || !run.Closing() {
		t.Fatalf("declined run: %s, closing %v", run.Status, run.Closing())
	}
	for range 6 {
		e.clock.Add(time.Minute)
		e.tick(t)
	}
	run := e.run(t, declined)
	notes := e.notes(t, declined)
	if c.count("DELETE /by-run/"+declined) != 3 || run.Closing() || !strings.Contains(notes, "close the approval request in http:cab") || !strings.HasSuffix(notes, "approval request closed") {
		t.Fatalf("%d deletions, closing %v:\n%s", c.count("DELETE /by-run/"+declined), run.Closing(), notes)
	}

	// Dispatched, then finished by the workflow before the board took the
	// post-apply.
	done := e.ask(t, "cab_change")
	c.fail["POST /by-run/"+done] = 1000
	c.set(e.run(t, done).Approval.Ref, "approved")
	e.tick(t)
	if _, err := e.eng.Report(context.Background(), done, Report{Status: store.RunSuccess, Actor: "workflow"}); err != nil {
		t.Fatal(err)
	}
	c.fail["POST /by-run/"+done] = 1
	for range 6 {
		e.clock.Add(time.Minute)
		e.tick(t)
	}
	if run := e.run(t, done); run.Status != store.RunSuccess || run.Closing() || c.count("POST /by-run/"+done+"/applied") < 3 {
		t.Fatalf("post-apply: %s, closing %v, %d attempts:\n%s", run.Status, run.Closing(), c.count("POST /by-run/"+done+"/applied"), e.notes(t, done))
	}

	// A board that never takes it: given up, and said.
	e.eng.opts.CloseAttempts = 3
	lost := e.ask(t, "cab_change")
	c.fail["DELETE /by-run/"+lost] = 1000
	c.set(e.run(t, lost).Approval.Ref, "rejected")
	for range 10 {
		e.clock.Add(time.Hour)
		e.tick(t)
	}
	if run, n := e.run(t, lost), c.count("DELETE /by-run/"+lost); run.Closing() || n != 3 || !strings.Contains(e.notes(t, lost), "gave up closing the approval request after 3 failures") {
		t.Fatalf("closing %v after %d attempts:\n%s", run.Closing(), n, e.notes(t, lost))
	}
}

// What a run publishes of the board's answers never holds a secret sent
// to it.
func TestHTTPPublishedValuesAreRedacted(t *testing.T) {
	c, e := newCab(t)
	id := e.ask(t, "cab_change")
	c.note = "rejected; the token was Bearer board-token"
	c.set(e.run(t, id).Approval.Ref, "rejected")
	e.tick(t)
	run := e.run(t, id)
	if run.Status != store.RunDeclined || run.Approval.Reason != "rejected; the token was Bearer REDACTED" {
		t.Fatalf("%s %q", run.Status, run.Approval.Reason)
	}
	if strings.Contains(e.notes(t, id), "board-token") {
		t.Fatal("an event holds the secret")
	}
}

// pier stops in the middle of the creation request (the request reached
// the board): the run records that it was opening; opened again after the
// restart, the creation carries the same Idempotency-Key, so the board
// makes one change, and the run says what happened.
func TestHTTPCreationInterrupted(t *testing.T) {
	c, e := newCab(t)
	c.held, c.release = make(chan struct{}), make(chan struct{})
	run, err := e.eng.Request(context.Background(), Request{Action: "cab_change", Requester: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	held := c.held
	ctx, crash := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.eng.Advance(ctx, run.ID) }()
	<-held
	crash() // nothing pier does after this point reaches the store
	<-done
	close(c.release)
	if r := e.run(t, run.ID); r.Approval.OpeningAt.IsZero() || r.Approval.Ref != "" {
		t.Fatalf("after the crash: %+v", r.Approval)
	}

	restarted := New(e.st, e.eng.opts)
	if err := restarted.Advance(context.Background(), run.ID); err != nil {
		t.Fatal(err)
	}
	r := e.run(t, run.ID)
	if len(c.keys) != 2 || c.keys[0] != run.ID || c.keys[1] != run.ID || len(c.changes) != 1 || r.Approval.Ref != "chg1" {
		t.Fatalf("keys %v, changes %v, ref %q", c.keys, c.changes, r.Approval.Ref)
	}
	if notes := e.notes(t, run.ID); !strings.Contains(notes, "opening the approval request in http:cab was interrupted at") {
		t.Fatalf("notes:\n%s", notes)
	}
}
