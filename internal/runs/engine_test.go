package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/approval"
	"github.com/pierhq/pier/internal/approval/httpcap"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/outbox"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/store/sqlite"
	"github.com/pierhq/pier/reconciler"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder is a Dispatcher that records dispatches and can be told to
// fail or to leave the outcome unknown.
type recorder struct {
	mu         sync.Mutex
	dispatched []Dispatch
	// fail makes the next dispatches fail: refuse (definite) or unknown.
	fail    string
	visible bool // whether dispatches made are found by Find
}

func (r *recorder) Dispatch(_ context.Context, d Dispatch) (Started, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.fail {
	case "refuse":
		return Started{}, errors.New("422 workflow does not exist")
	case "unknown-before":
		return Started{}, unknownError{errors.New("connection reset")}
	case "unknown-after":
		r.dispatched = append(r.dispatched, d)
		return Started{}, unknownError{errors.New("timeout awaiting headers")}
	}
	r.dispatched = append(r.dispatched, d)
	return Started{WorkflowRunID: int64(100 + len(r.dispatched)), Link: "https://github.com/acme/workflows/actions/runs/1"}, nil
}

func (r *recorder) Find(_ context.Context, d Dispatch, _ time.Time) (Started, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, x := range r.dispatched {
		if x.Run.ID == d.Run.ID && r.visible {
			return Started{WorkflowRunID: int64(101 + i)}, true, nil
		}
	}
	return Started{}, false, nil
}

func (r *recorder) count(runID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, d := range r.dispatched {
		if d.Run.ID == runID {
			n++
		}
	}
	return n
}

type env struct {
	st    *sqlite.Store
	eng   *Engine
	gh    *recorder
	clock *clock
}

func newEnv(t testing.TB, opts ...func(*Options)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, err := loader.New(1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := reconciler.New(l, st, nil, reconciler.Options{}).Reconcile(ctx, reconciler.Revision{ID: "r1", FS: os.DirFS("testdata/catalog")})
	if err != nil || res.Outcome == reconciler.Failed {
		t.Fatalf("reconcile: %v %v", err, res.Diagnostics)
	}
	h := state.NewHolder()
	h.Publish(state.FromResult(res))
	e := &env{st: st, gh: &recorder{visible: true}, clock: &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}}
	notifier := Notifier{RunURL: func(id string) string { return "http://pier/v1/actions/runs/" + id }, Now: e.clock.Now}
	o := Options{
		Catalog: h.Load,
		Systems: func(name string) (approval.System, error) {
			if name == approval.InApp {
				return approval.InAppSystem{RunURL: notifier.RunURL, Now: e.clock.Now}, nil
			}
			return nil, errors.New("no system " + name)
		},
		Dispatchers: map[string]Dispatcher{"GITHUB": e.gh},
		Notify:      notifier.Deliveries,
		Now:         e.clock.Now,
		BaseURL:     "http://pier",
	}
	for _, f := range opts {
		f(&o)
	}
	e.eng = New(st, o)
	return e
}

// request asks for a run and waits for the engine to settle.
func (e *env) request(t *testing.T, req Request) store.Run {
	t.Helper()
	if req.Requester == "" {
		req.Requester = "alice"
	}
	run, err := e.eng.Request(context.Background(), req)
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	return e.advance(t, run.ID)
}

func (e *env) advance(t *testing.T, id string) store.Run {
	t.Helper()
	if err := e.eng.Advance(context.Background(), id); err != nil {
		t.Fatalf("Advance: %v", err)
	}
	run, err := e.st.Run(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func (e *env) statuses(t *testing.T, id string) []string {
	t.Helper()
	evs, err := e.st.RunEvents(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if ev.To != "" {
			out = append(out, ev.To)
		}
	}
	return out
}

func TestRequestValidation(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name  string
		req   Request
		code  int
		field string
		msg   string
	}{
		{"unknown action", Request{Action: "nope"}, 404, "", `action "nope" does not exist`},
		{"DAY-2 without entity", Request{Action: "extend_ttl"}, 422, "entity", "name the entity"},
		{"missing entity", Request{Action: "extend_ttl", Entity: "ghost"}, 422, "entity", "environment/ghost does not exist"},
		{"condition not met", Request{Action: "extend_ttl", Entity: "production"}, 422, "entity", "does not meet the condition"},
		{"CREATE with entity", Request{Action: "two_approvers", Entity: "production"}, 422, "entity", "runs on none"},
		{"unknown input", Request{Action: "extend_ttl", Entity: "preview-42", Inputs: map[string]any{"dayz": 3}}, 422, "dayz", `no input "dayz"`},
		{"wrong type", Request{Action: "extend_ttl", Entity: "preview-42", Inputs: map[string]any{"days": "ten"}}, 422, "days", "number"},
		{"above maximum", Request{Action: "extend_ttl", Entity: "preview-42", Inputs: map[string]any{"days": json.Number("31")}}, 422, "days", "30"},
		{"too long", Request{Action: "extend_ttl", Entity: "preview-42", Inputs: map[string]any{"reason": strings.Repeat("x", 21)}}, 422, "reason", "20"},
		{"approval system out of reach", Request{Action: "needs_github"}, 503, "", "needs approval through github: no system github"},
		{"entity input must exist", Request{Action: "extend_ttl", Entity: "preview-42", Inputs: map[string]any{"owner": "ghosts"}}, 422, "owner", "team/ghosts does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Requester = "alice"
			_, err := e.eng.Request(context.Background(), tt.req)
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a refusal", err)
			}
			if re.Code != tt.code || re.Field != tt.field || !strings.Contains(re.Message, tt.msg) {
				t.Fatalf("got %d %q %q, want %d %q containing %q", re.Code, re.Field, re.Message, tt.code, tt.field, tt.msg)
			}
		})
	}
	runs, _ := e.st.Runs(context.Background(), store.RunFilter{})
	if len(runs) != 0 {
		t.Fatalf("refused requests stored %d runs", len(runs))
	}
}

func TestNoApprovalDispatchesOnceAndFollowsTheWorkflow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	run := e.request(t, Request{Action: "extend_ttl", Entity: "preview-42", Inputs: map[string]any{"days": json.Number("2"), "owner": "platform"}})
	if run.Status != store.RunDispatched || e.gh.count(run.ID) != 1 {
		t.Fatalf("status %s, %d dispatches", run.Status, e.gh.count(run.ID))
	}
	in, err := GitHubDispatcher{}.Inputs(ctx, e.gh.dispatched[0])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"pier_run_id": run.ID, "environment": "preview-42", "days": "2", "by": "alice", "link": "http://pier/v1/actions/runs/" + run.ID}
	for k, v := range want {
		if in[k] != v {
			t.Errorf("input %s = %q, want %q (all: %v)", k, in[k], v, in)
		}
	}
	if _, extra := in[RunIDInput]; extra {
		t.Errorf("port_run_id added although pier_run_id carries the run id")
	}
	// More advancing never dispatches again.
	for range 3 {
		e.advance(t, run.ID)
	}
	if err := e.eng.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.gh.count(run.ID); n != 1 {
		t.Fatalf("%d dispatches", n)
	}
	ok, err := e.eng.WorkflowRunUpdated(ctx, WorkflowRun{ID: run.Dispatch.WorkflowRunID, Status: "in_progress"})
	if err != nil || !ok {
		t.Fatalf("in_progress: %v %v", ok, err)
	}
	ok, err = e.eng.WorkflowRunUpdated(ctx, WorkflowRun{ID: 999, DisplayTitle: "Extend TTL " + run.ID, Status: "completed", Conclusion: "success", HTMLURL: "https://github.com/x"})
	if err != nil || !ok {
		t.Fatalf("completed: %v %v", ok, err)
	}
	got := e.statuses(t, run.ID)
	if strings.Join(got, ",") != "APPROVED,DISPATCHED,IN_PROGRESS,SUCCESS" {
		t.Fatalf("statuses %v", got)
	}
	_, err = e.eng.Report(ctx, run.ID, Report{Status: store.RunFailure})
	var re *Error
	if !errors.As(err, &re) || re.Code != 409 {
		t.Fatalf("report on a finished run: %v", err)
	}
	if ok, _ := e.eng.WorkflowRunUpdated(ctx, WorkflowRun{ID: 5, DisplayTitle: "someone else's run"}); ok {
		t.Fatal("matched a foreign workflow run")
	}
}

func TestInAppApproval(t *testing.T) {
	ctx := context.Background()
	t.Run("conditional approval approved by an allowed approver", func(t *testing.T) {
		e := newEnv(t)
		run := e.request(t, Request{Action: "extend_ttl", Entity: "preview-42", Inputs: map[string]any{"days": json.Number("10")}})
		if run.Status != store.RunWaitingForApproval || run.Approval.Ref != run.ID || run.Approval.Required != 1 {
			t.Fatalf("run %+v approval %+v", run.Status, run.Approval)
		}
		if !run.Approval.ExpiresAt.Equal(e.clock.Now().Add(48 * time.Hour)) {
			t.Fatalf("expires %v", run.Approval.ExpiresAt)
		}
		for _, tt := range []struct {
			user string
			code int
		}{{"alice", 403}, {"mallory", 403}} {
			_, err := e.eng.Vote(ctx, run.ID, tt.user, true, "")
			var re *Error
			if !errors.As(err, &re) || re.Code != tt.code {
				t.Fatalf("vote by %s: %v", tt.user, err)
			}
		}
		if e.gh.count(run.ID) != 0 {
			t.Fatal("dispatched before approval")
		}
		run, err := e.eng.Vote(ctx, run.ID, "Pat", true, "")
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != store.RunDispatched || e.gh.count(run.ID) != 1 || run.Approval.DecidedBy != "Pat" {
			t.Fatalf("after approval: %s, %d dispatches, %+v", run.Status, e.gh.count(run.ID), run.Approval)
		}
		if got := strings.Join(e.statuses(t, run.ID), ","); got != "WAITING_FOR_APPROVAL,APPROVED,DISPATCHED" {
			t.Fatalf("statuses %s", got)
		}
	})
	t.Run("decline needs a reason", func(t *testing.T) {
		e := newEnv(t)
		run := e.request(t, Request{Action: "extend_ttl", Entity: "preview-42", Inputs: map[string]any{"days": json.Number("10")}})
		_, err := e.eng.Vote(ctx, run.ID, "sam", false, " ")
		var re *Error
		if !errors.As(err, &re) || re.Code != 422 || re.Field != "description" {
			t.Fatalf("decline without reason: %v", err)
		}
		run, err = e.eng.Vote(ctx, run.ID, "sam", false, "too long")
		if err != nil || run.Status != store.RunDeclined || run.Approval.Reason != "too long" {
			t.Fatalf("declined: %v %s %+v", err, run.Status, run.Approval)
		}
		if e.gh.count(run.ID) != 0 {
			t.Fatal("a declined run was dispatched")
		}
		if _, err := e.eng.Vote(ctx, run.ID, "pat", true, ""); err == nil {
			t.Fatal("voted on a declined run")
		}
	})
	t.Run("two approvals needed", func(t *testing.T) {
		e := newEnv(t)
		run := e.request(t, Request{Action: "two_approvers"})
		run, _ = e.eng.Vote(ctx, run.ID, "pat", true, "")
		run, _ = e.eng.Vote(ctx, run.ID, "PAT", true, "")
		if run.Status != store.RunWaitingForApproval {
			t.Fatalf("one person twice approved it: %s", run.Status)
		}
		run, _ = e.eng.Vote(ctx, run.ID, "sam", true, "")
		if run.Status != store.RunDispatched {
			t.Fatalf("status %s", run.Status)
		}
	})
	t.Run("expiry", func(t *testing.T) {
		e := newEnv(t)
		run := e.request(t, Request{Action: "extend_ttl", Entity: "preview-42", Inputs: map[string]any{"days": json.Number("10")}})
		e.clock.Add(47 * time.Hour)
		if err := e.eng.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if r, _ := e.st.Run(ctx, run.ID); r.Status != store.RunWaitingForApproval {
			t.Fatalf("expired early: %s", r.Status)
		}
		e.clock.Add(time.Hour)
		if err := e.eng.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		r, _ := e.st.Run(ctx, run.ID)
		if r.Status != store.RunExpired || e.gh.count(run.ID) != 0 {
			t.Fatalf("status %s, %d dispatches", r.Status, e.gh.count(run.ID))
		}
		if _, err := e.eng.Vote(ctx, run.ID, "pat", true, ""); err == nil {
			t.Fatal("approved an expired run")
		}
	})
	t.Run("cancel", func(t *testing.T) {
		e := newEnv(t)
		run := e.request(t, Request{Action: "extend_ttl", Entity: "preview-42", Inputs: map[string]any{"days": json.Number("10")}})
		if _, err := e.eng.Cancel(ctx, run.ID, "pat"); err == nil {
			t.Fatal("someone else cancelled the run")
		}
		run, err := e.eng.Cancel(ctx, run.ID, "alice")
		if err != nil || run.Status != store.RunCancelled {
			t.Fatalf("cancel: %v %s", err, run.Status)
		}
	})
}

func TestInterruptedDispatch(t *testing.T) {
	ctx := context.Background()
	t.Run("the workflow run is found: not dispatched again", func(t *testing.T) {
		e := newEnv(t)
		e.gh.fail = "unknown-after" // GitHub took it, the answer was lost
		run, err := e.eng.Request(ctx, Request{Action: "two_approvers", Requester: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		e.eng.Vote(ctx, run.ID, "pat", true, "")
		run, _ = e.eng.Vote(ctx, run.ID, "sam", true, "")
		if run.Status != store.RunApproved || run.Dispatch.StartedAt.IsZero() || !run.Dispatch.At.IsZero() {
			t.Fatalf("after an unknown outcome: %s %+v", run.Status, run.Dispatch)
		}
		e.gh.fail = ""
		run = e.advance(t, run.ID)
		if run.Status != store.RunDispatched || e.gh.count(run.ID) != 1 {
			t.Fatalf("status %s, %d dispatches", run.Status, e.gh.count(run.ID))
		}
	})
	t.Run("nothing found: dispatched again only after the grace period", func(t *testing.T) {
		e := newEnv(t)
		e.gh.fail = "unknown-before" // never reached GitHub
		run, _ := e.eng.Request(ctx, Request{Action: "two_approvers", Requester: "alice"})
		e.eng.Vote(ctx, run.ID, "pat", true, "")
		e.eng.Vote(ctx, run.ID, "sam", true, "")
		e.gh.fail = ""
		run = e.advance(t, run.ID)
		if run.Status != store.RunApproved || e.gh.count(run.ID) != 0 {
			t.Fatalf("re-dispatched at once: %s %d", run.Status, e.gh.count(run.ID))
		}
		e.clock.Add(3 * time.Minute)
		run = e.advance(t, run.ID)
		if run.Status != store.RunDispatched || e.gh.count(run.ID) != 1 {
			t.Fatalf("status %s, %d dispatches", run.Status, e.gh.count(run.ID))
		}
	})
	t.Run("a refused dispatch fails the run", func(t *testing.T) {
		e := newEnv(t)
		e.gh.fail = "refuse"
		run := e.request(t, Request{Action: "extend_ttl", Entity: "preview-42"})
		if run.Status != store.RunFailure || !strings.Contains(run.Dispatch.Error, "422") {
			t.Fatalf("status %s %+v", run.Status, run.Dispatch)
		}
	})
}

func TestConcurrentAdvanceDispatchesOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	run, err := e.eng.Request(ctx, Request{Action: "two_approvers", Requester: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	e.eng.Vote(ctx, run.ID, "pat", true, "")
	// Two engines over one store stand in for two processes racing: each
	// has its own locks, only the store's compare-and-swap is shared.
	other := New(e.st, e.eng.opts)
	other.opts.Dispatchers = map[string]Dispatcher{"GITHUB": e.gh}
	var wg sync.WaitGroup
	var errs atomic.Int32
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := e.eng.Vote(ctx, run.ID, "sam", true, ""); err != nil {
			errs.Add(1)
		}
	}()
	for _, eng := range []*Engine{e.eng, other, e.eng, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				eng.Advance(ctx, run.ID)
			}
		}()
	}
	wg.Wait()
	e.advance(t, run.ID)
	if n := e.gh.count(run.ID); n != 1 {
		t.Fatalf("%d dispatches", n)
	}
}

func TestWebhookInvocation(t *testing.T) {
	ctx := context.Background()
	var got struct {
		body      []byte
		header    http.Header
		callCount atomic.Int32
	}
	var answer atomic.Int32
	answer.Store(200)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.callCount.Add(1)
		got.body, _ = io.ReadAll(r.Body)
		got.header = r.Header.Clone()
		w.WriteHeader(int(answer.Load()))
		io.WriteString(w, `{"deployed": true}`)
	}))
	defer hook.Close()
	e := newEnv(t, func(o *Options) {
		o.Dispatchers = map[string]Dispatcher{"WEBHOOK": WebhookDispatcher{Client: hook.Client()}}
		o.Secrets = map[string]string{"HOOK_URL": hook.URL, "HOOK_SECRET": "shh"}
	})
	run := e.request(t, Request{Action: "notify", Inputs: map[string]any{"message": "hello"}})
	if run.Status != store.RunSuccess || run.Summary != `{"deployed": true}` {
		t.Fatalf("synchronized webhook: %s %q", run.Status, run.Summary)
	}
	var body map[string]any
	json.Unmarshal(got.body, &body)
	if body["text"] != "hello" || body["run"] != run.ID || body["link"] != "http://pier/v1/actions/runs/"+run.ID || got.header.Get("X-Run") != run.ID {
		t.Fatalf("body %s headers %v", got.body, got.header)
	}
	// Port's scheme: v1,base64(HMAC-SHA256(secret, timestamp.body)).
	err := outbox.Verify("shh", got.header.Get(HeaderPortTimestamp), got.header.Get(HeaderPortSignature), got.body, time.Now(), time.Minute)
	if err != nil {
		t.Fatalf("signature: %v", err)
	}

	answer.Store(500)
	run = e.request(t, Request{Action: "notify", Inputs: map[string]any{"message": "again"}})
	if run.Status != store.RunFailure || !strings.Contains(run.Dispatch.Error, "500") {
		t.Fatalf("refused webhook: %s %+v", run.Status, run.Dispatch)
	}

	// An interrupted webhook dispatch is never sent again.
	run, err = e.eng.Request(ctx, Request{Action: "notify", Requester: "alice", Inputs: map[string]any{"message": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := e.st.Run(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Status != store.RunApproved {
		t.Fatalf("a run not yet advanced is %s, want %s", cur.Status, store.RunApproved)
	}
	cur.Dispatch.StartedAt = e.clock.Now()
	if _, err := e.st.UpdateRun(ctx, cur, nil, nil); err != nil {
		t.Fatal(err)
	}
	before := got.callCount.Load()
	run = e.advance(t, run.ID)
	if run.Status != store.RunFailure || got.callCount.Load() != before {
		t.Fatalf("interrupted webhook: status %s, %d more requests; want FAILURE and none", run.Status, got.callCount.Load()-before)
	}
}

func TestNotifications(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	run := e.request(t, Request{Action: "extend_ttl", Entity: "preview-42", Inputs: map[string]any{"days": json.Number("10")}})
	e.eng.Vote(ctx, run.ID, "pat", true, "")
	ds, err := e.st.Due(ctx, e.clock.Now().Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, d := range ds {
		if d.Subscription != "action:extend_ttl" {
			t.Fatalf("delivery to %s", d.Subscription)
		}
		var m map[string]string
		if err := json.Unmarshal(d.Body, &m); err != nil {
			t.Fatalf("slack body %s: %v", d.Body, err)
		}
		texts = append(texts, m["text"])
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{"waiting for approval", "asks to run", "approved", "dispatched"} {
		if !strings.Contains(all, want) {
			t.Errorf("no notification saying %q in:\n%s", want, all)
		}
	}
}

// board is a ServiceNow-like change board: change requests with an
// approval field a test sets. POST to the table creates a change and
// names it; PUT creates the change the path names.
type board struct {
	mu       sync.Mutex
	approval map[string]string // sys_id -> requested|approved|rejected
	bodies   []map[string]any
	calls    []string
}

func (b *board) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer board-token" {
		http.Error(w, `{"error": "unauthorized"}`, http.StatusUnauthorized)
		return
	}
	id := strings.TrimPrefix(r.URL.Path, "/api/now/table/change_request/")
	switch {
	case r.Method == "POST" || r.Method == "PUT":
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		b.bodies = append(b.bodies, body)
		if r.Method == "POST" {
			id = "chg" + strings.Repeat("0", 3) + string(rune('0'+len(b.bodies)))
		}
		b.approval[id] = "requested"
	case r.Method == "GET" && b.approval[id] == "":
		http.Error(w, `{"error": "no such change"}`, http.StatusNotFound)
		return
	case r.Method == "PATCH" || r.Method == "DELETE":
		w.WriteHeader(http.StatusNoContent)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"result": map[string]any{"sys_id": id, "number": "CHG" + id, "approval": b.approval[id]}})
}

func (b *board) set(id, approval string) {
	b.mu.Lock()
	b.approval[id] = approval
	b.mu.Unlock()
}

// count counts the calls made so far.
func (b *board) count(call string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.calls {
		if c == call {
			n++
		}
	}
	return n
}

func (b *board) last() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.calls) == 0 {
		return ""
	}
	return b.calls[len(b.calls)-1]
}

// declaredSystems resolves http:NAME to the approval systems the test
// catalog declares, reaching the board (http://board.test in the
// catalog) at boardURL.
func declaredSystems(e **env, boardURL string) func(*Options) {
	board := strings.TrimPrefix(boardURL, "http://")
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, board)
		},
	}}
	return func(o *Options) {
		o.Secrets = map[string]string{"BOARD_TOKEN": "board-token"}
		inapp := o.Systems
		o.Systems = func(name string) (approval.System, error) {
			id, ok := strings.CutPrefix(name, "http:")
			if !ok {
				return inapp(name)
			}
			def := o.Catalog().ApprovalSystems[id]
			if def == nil {
				return nil, errors.New("no system " + name)
			}
			c, err := httpcap.New(def, httpcap.Options{HTTPClient: client, Secrets: func(n string) (string, bool) { v, ok := o.Secrets[n]; return v, ok }})
			if err != nil {
				return nil, err
			}
			return approval.HTTPSystem{Client: c, Name: name, Data: (*e).eng.TemplateData}, nil
		}
	}
}

func TestDeclaredHTTPApprovalSystem(t *testing.T) {
	const table = "/api/now/table/change_request"
	tests := []struct {
		name   string
		action string
		inputs map[string]any
		// creation is the request that opens run's approval; ref the
		// reference pier keeps (the nth change created), which the later
		// requests address; url where people see it.
		creation func(run store.Run) string
		ref      func(run store.Run, n int) string
		url      func(ref, base string) string
		body     func(run store.Run) map[string]any
	}{
		{
			name: "the creation answer names the approval", action: "board_change", inputs: map[string]any{"days": json.Number("4")},
			creation: func(store.Run) string { return "POST " + table },
			ref:      func(_ store.Run, n int) string { return fmt.Sprintf("chg%04d", n) },
			url:      func(ref, _ string) string { return "http://board.test/change/" + ref },
			body: func(run store.Run) map[string]any {
				return map[string]any{"correlation_id": run.ID, "short_description": "board_change requested by alice", "days": float64(4)}
			},
		},
		{
			name: "no approvalId: the requests address the run's id", action: "desk_change",
			creation: func(run store.Run) string { return "PUT " + table + "/" + run.ID },
			ref:      func(run store.Run, _ int) string { return run.ID },
			url:      func(string, string) string { return "" },
			body: func(store.Run) map[string]any {
				return map[string]any{"short_description": "desk_change requested by alice"}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			bd := &board{approval: map[string]string{}}
			srv := httptest.NewServer(bd)
			defer srv.Close()
			var e *env
			e = newEnv(t, declaredSystems(&e, srv.URL))
			system := "http:" + map[string]string{"board_change": "change-board", "desk_change": "ticket-desk"}[tt.action]
			// request opens the approval: once, however often the run is
			// advanced.
			request := func(n int) store.Run {
				t.Helper()
				run, err := e.eng.Request(ctx, Request{Action: tt.action, Requester: "alice", Inputs: tt.inputs})
				if err != nil {
					t.Fatal(err)
				}
				before := bd.count(tt.creation(run))
				for range 3 {
					if err := e.eng.Advance(ctx, run.ID); err != nil {
						t.Fatalf("Advance: %v (calls %v)", err, bd.calls)
					}
				}
				if got := bd.count(tt.creation(run)) - before; got != 1 {
					t.Fatalf("%d creation requests %q, want 1 (calls %v)", got, tt.creation(run), bd.calls)
				}
				run, _ = e.st.Run(ctx, run.ID)
				if run.Status != store.RunWaitingForApproval || run.Approval.Ref != tt.ref(run, n) || run.Approval.URL != tt.url(tt.ref(run, n), srv.URL) {
					t.Fatalf("run %s approval %+v", run.Status, run.Approval)
				}
				return run
			}
			run := request(1)
			for k, v := range tt.body(run) {
				if bd.bodies[0][k] != v {
					t.Fatalf("creation body %v, want %s = %v", bd.bodies[0], k, v)
				}
			}
			ref := run.Approval.Ref
			// The schedule polls; still requested.
			if err := e.eng.PollSystem(ctx, system); err != nil {
				t.Fatal(err)
			}
			if r, _ := e.st.Run(ctx, run.ID); r.Status != store.RunWaitingForApproval {
				t.Fatalf("status %s", r.Status)
			}
			if bd.count("GET "+table+"/"+ref) == 0 {
				t.Fatalf("no status request for %s: calls %v", ref, bd.calls)
			}
			bd.set(ref, "approved")
			if err := e.eng.PollSystem(ctx, system); err != nil {
				t.Fatal(err)
			}
			run, _ = e.st.Run(ctx, run.ID)
			if run.Status != store.RunDispatched || e.gh.count(run.ID) != 1 || run.Approval.Reason != "CHG"+ref {
				t.Fatalf("after approval: %s %+v", run.Status, run.Approval)
			}
			// Post-apply told the board.
			if last := bd.last(); last != "PATCH "+table+"/"+ref || run.Approval.FinishedAt.IsZero() {
				t.Fatalf("calls %v, approval %+v", bd.calls, run.Approval)
			}

			rejected := request(2)
			bd.set(rejected.Approval.Ref, "rejected")
			if err := e.eng.PollSystem(ctx, system); err != nil {
				t.Fatal(err)
			}
			rejected, _ = e.st.Run(ctx, rejected.ID)
			if rejected.Status != store.RunDeclined || e.gh.count(rejected.ID) != 0 {
				t.Fatalf("rejected change: %s", rejected.Status)
			}
			if last := bd.last(); last != "DELETE "+table+"/"+rejected.Approval.Ref {
				t.Fatalf("calls %v", bd.calls)
			}
		})
	}
}

// refless is an approval system that opens requests and names none.
type refless struct{ opened atomic.Int32 }

func (s *refless) Open(context.Context, store.Run, *catalog.Action, approval.Rule) (approval.Request, error) {
	s.opened.Add(1)
	return approval.Request{URL: "https://approvals.example/pending"}, nil
}

func (s *refless) Check(context.Context, store.Run, *catalog.Action, approval.Rule) (approval.Decision, error) {
	return approval.Decision{}, nil
}

func (s *refless) Decided(context.Context, store.Run, *catalog.Action, approval.Decision) error {
	return nil
}

func (s *refless) Finish(context.Context, store.Run, *catalog.Action) error { return nil }

func TestApprovalSystemThatNamesNoRequest(t *testing.T) {
	ctx := context.Background()
	sys := &refless{}
	e := newEnv(t, func(o *Options) {
		inapp := o.Systems
		o.Systems = func(name string) (approval.System, error) {
			if name == approval.GitHub {
				return sys, nil
			}
			return inapp(name)
		}
	})
	run, err := e.eng.Request(ctx, Request{Action: "needs_github", Requester: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	err = e.eng.Advance(ctx, run.ID)
	if err == nil || !strings.Contains(err.Error(), "github") || !strings.Contains(err.Error(), "no reference") {
		t.Fatalf("Advance: %v, want an error naming the system", err)
	}
	if n := sys.opened.Load(); n != 1 {
		t.Fatalf("%d requests opened, want 1", n)
	}
	run, _ = e.st.Run(ctx, run.ID)
	if run.Status != store.RunWaitingForApproval || run.Approval.Ref != "" || run.Approval.URL != "" {
		t.Fatalf("run %s approval %+v: an unnamed request was recorded", run.Status, run.Approval)
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestPollSystemAndSweepPastTheirLimit(t *testing.T) {
	ctx := context.Background()
	bd := &board{approval: map[string]string{}}
	srv := httptest.NewServer(bd)
	defer srv.Close()
	var logs syncBuffer
	var e *env
	e = newEnv(t, declaredSystems(&e, srv.URL), func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	run := e.request(t, Request{Action: "board_change"})
	// As many runs as a sweep looks at, newer, wait on another system.
	for i := range sweepLimit {
		at := e.clock.Now().Add(time.Duration(i+1) * time.Second)
		id := fmt.Sprintf("r_crowd%09d", i)
		crowd := store.Run{ID: id, Action: "two_approvers", Blueprint: "environment", Requester: "bob", Source: "api",
			Status: store.RunWaitingForApproval, CreatedAt: at, UpdatedAt: at,
			Approval: &store.RunApproval{System: approval.InApp, Ref: id, Required: 2, ExpiresAt: at.Add(time.Hour)}}
		if _, _, err := e.st.CreateRun(ctx, crowd, store.RunEvent{At: at, Actor: "bob", To: store.RunWaitingForApproval}, nil); err != nil {
			t.Fatal(err)
		}
	}
	bd.set(run.Approval.Ref, "approved")
	if err := e.eng.PollSystem(ctx, "http:change-board"); err != nil {
		t.Fatal(err)
	}
	if run, _ = e.st.Run(ctx, run.ID); run.Status != store.RunDispatched {
		t.Fatalf("the board's run behind %d others is %s after polling the board, want %s", sweepLimit, run.Status, store.RunDispatched)
	}
	if strings.Contains(logs.String(), "looked at only") {
		t.Fatalf("polling one run warned of the limit:\n%s", logs.String())
	}
	if err := e.eng.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "sweep looked at only the newest runs") {
		t.Fatalf("a sweep at its limit did not warn:\n%s", logs.String())
	}
}

func TestLog(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// fail is how the dispatch goes (recorder.fail); approval asks
		// for a run that waits for approval.
		fail     string
		approval bool
		log      store.RunLog
		label    string
		code     int // the refusal; 0 for none
		status   string
		want     string // the status label
		lines    int
	}{
		{name: "a line", log: store.RunLog{Message: "extending"}, status: store.RunDispatched, lines: 1},
		{name: "termination and label in one write", log: store.RunLog{Message: "done", TerminationStatus: store.RunSuccess}, label: "Extended",
			status: store.RunSuccess, want: "Extended", lines: 1},
		{name: "a label alone", log: store.RunLog{Message: "halfway"}, label: "Halfway", status: store.RunInProgress, want: "Halfway", lines: 1},
		{name: "a line while dispatching", fail: "unknown-after", log: store.RunLog{Message: "started"}, status: store.RunApproved, lines: 1},
		{name: "no termination before the dispatch is recorded", fail: "unknown-after", log: store.RunLog{Message: "done", TerminationStatus: store.RunSuccess},
			code: 409, status: store.RunApproved},
		{name: "no line while waiting for approval", approval: true, log: store.RunLog{Message: "hello"}, code: 409, status: store.RunWaitingForApproval},
		{name: "an unknown termination", log: store.RunLog{Message: "done", TerminationStatus: "DONE"}, code: 422, status: store.RunDispatched},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.gh.fail = tt.fail
			days := json.Number("2")
			if tt.approval {
				days = json.Number("10")
			}
			run, err := e.eng.Request(ctx, Request{Action: "extend_ttl", Entity: "preview-42", Requester: "alice", Inputs: map[string]any{"days": days}})
			if err != nil {
				t.Fatal(err)
			}
			e.eng.Advance(ctx, run.ID) // an unknown dispatch outcome is an error
			_, err = e.eng.Log(ctx, run.ID, tt.log, tt.label, "ci")
			code := 0
			if re := (*Error)(nil); errors.As(err, &re) {
				code = re.Code
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Fatalf("Log: %v, want refusal %d", err, tt.code)
			}
			run, _ = e.st.Run(ctx, run.ID)
			lines, _ := e.st.RunLogs(ctx, run.ID)
			if run.Status != tt.status || run.StatusLabel != tt.want || len(lines) != tt.lines {
				t.Fatalf("run %s %q with %d lines, want %s %q with %d", run.Status, run.StatusLabel, len(lines), tt.status, tt.want, tt.lines)
			}
		})
	}
}

// A request carries its requester's grants: the roles must let them
// execute the action and read the entity it runs on, whichever door the
// request came through.
func TestRequestsFollowTheRoles(t *testing.T) {
	e := newEnv(t)
	cat := catalog.New()
	cat.Roles["ttl"] = &catalog.Role{Identifier: "ttl", Permissions: []catalog.Permission{
		{Action: access.Execute, Resource: access.Action, Condition: []byte(`{"property": "identifier", "operator": "=", "value": "extend_ttl"}`)},
		{Action: access.Read, Resource: access.Entity, Condition: []byte(`{"property": "type", "operator": "=", "value": "ephemeral"}`)},
	}}
	cat.Roles["prod"] = &catalog.Role{Identifier: "prod", Permissions: []catalog.Permission{
		{Action: access.Execute, Resource: access.Action},
		{Action: access.Read, Resource: access.Entity, Condition: []byte(`{"property": "type", "operator": "=", "value": "production"}`)},
	}}
	cat.RoleBindings["ttl"] = &catalog.RoleBinding{Users: []string{"alice"}}
	cat.RoleBindings["prod"] = &catalog.RoleBinding{Users: []string{"carol"}}
	p, ps := access.Compile(cat)
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	alice, bob, carol := p.For(access.Subject{Login: "alice"}), p.For(access.Subject{Login: "bob"}), p.For(access.Subject{Login: "carol"})
	for _, tc := range []struct {
		name           string
		grants         *access.Grants
		action, entity string
		code           int
		field          string
	}{
		{"allowed", alice, "extend_ttl", "preview-42", 0, ""},
		{"an entity she may not read", carol, "extend_ttl", "preview-42", 403, "entity"},
		{"an action she may not execute", alice, "notify", "", 403, ""},
		{"no role", bob, "extend_ttl", "preview-42", 403, ""},
		{"pier's own request", nil, "extend_ttl", "preview-42", 0, ""},
	} {
		_, err := e.eng.Request(context.Background(), Request{Action: tc.action, Entity: tc.entity, Inputs: map[string]any{"days": json.Number("2")}, Requester: "alice", Grants: tc.grants})
		var re *Error
		switch {
		case tc.code == 0 && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.code != 0 && (!errors.As(err, &re) || re.Code != tc.code || re.Field != tc.field || re.Denied == nil):
			t.Errorf("%s: %v, want %d on %q with the permission", tc.name, err, tc.code, tc.field)
		}
	}
}
