package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/outbox"
	"github.com/pierhq/pier/internal/store/sqlite"
	"github.com/pierhq/pier/reconciler"
)

const secret = "s3cr3t-do-not-leak"

var _ outbox.Store = (*sqlite.Store)(nil)

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// receiver is a webhook endpoint that checks signatures and counts
// requests and successful deliveries by X-Pier-Delivery.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	fail   int  // answer 500 to the first fail requests of each delivery
	hang   bool // block until the request is cancelled
	hits   map[string]int
	oks    map[string]int
	bodies map[string][]byte
	active map[string]int
	maxAct int // most requests in flight at once
	dup    bool
	total  int
}

func newReceiver(t *testing.T, fail int) *receiver {
	rc := &receiver{t: t, fail: fail, hits: map[string]int{}, oks: map[string]int{}, bodies: map[string][]byte{}, active: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.Header.Get(outbox.HeaderDelivery)
	if err := outbox.Verify(secret, r.Header.Get(outbox.HeaderTimestamp), r.Header.Get(outbox.HeaderSignature), body, time.Now(), 0); err != nil {
		rc.t.Errorf("delivery %s: %v", id, err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var p outbox.Payload
	if err := json.Unmarshal(body, &p); err != nil || p.DeliveryID != id || p.EventType != r.Header.Get(outbox.HeaderEvent) {
		rc.t.Errorf("delivery %s: body %s (%v) does not match the headers", id, body, err)
	}

	rc.mu.Lock()
	rc.hits[id]++
	rc.total++
	n := rc.hits[id]
	rc.active[id]++
	if rc.active[id] > 1 {
		rc.dup = true
	}
	act := 0
	for _, a := range rc.active {
		act += a
	}
	rc.maxAct = max(rc.maxAct, act)
	hang := rc.hang
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		rc.active[id]--
		rc.mu.Unlock()
	}()

	if hang {
		<-r.Context().Done()
		return
	}
	time.Sleep(time.Millisecond) // let concurrent sends overlap
	if n <= rc.fail {
		http.Error(w, "not yet", http.StatusInternalServerError)
		return
	}
	rc.mu.Lock()
	rc.oks[id]++
	rc.bodies[id] = body
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) setHang(h bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.hang = h
}

func (rc *receiver) snapshot() (hits, oks map[string]int, total int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return clone(rc.hits), clone(rc.oks), rc.total
}

func clone(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func subs(list ...outbox.Subscription) func() []outbox.Subscription {
	return func() []outbox.Subscription { return list }
}

// fastOptions keep retries in milliseconds.
func fastOptions() outbox.Options {
	return outbox.Options{
		PollInterval: 5 * time.Millisecond,
		MinBackoff:   5 * time.Millisecond,
		MaxBackoff:   20 * time.Millisecond,
		Timeout:      2 * time.Second,
	}
}

// start runs w until the test ends or the returned stop is called; stop
// waits for Run to return.
func start(t *testing.T, w *outbox.Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return stop
}

var at = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func events(rev string, n int) []reconciler.Event {
	var es []reconciler.Event
	for i := range n {
		id := fmt.Sprintf("svc-%d", i)
		e := reconciler.Event{Type: reconciler.EntityCreated, Blueprint: "service", Identifier: id, Revision: rev, At: at,
			After: json.RawMessage(fmt.Sprintf(`{"identifier":%q,"title":"Service %d"}`, id, i))}
		switch i % 3 {
		case 1:
			e.Type, e.Before = reconciler.EntityUpdated, json.RawMessage(fmt.Sprintf(`{"identifier":%q}`, id))
		case 2:
			e.Type, e.Before, e.After = reconciler.EntityDeleted, e.After, nil
		}
		es = append(es, e)
	}
	return es
}

// waitSettled waits until no delivery in s is pending and returns them all.
func waitSettled(t *testing.T, s outbox.Store, want int) []outbox.Delivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ds, err := s.Deliveries(context.Background(), 1000, "")
		if err != nil {
			t.Fatal(err)
		}
		settled := len(ds) == want
		for _, d := range ds {
			settled = settled && d.State != outbox.Pending
		}
		if settled {
			return ds
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries not settled: %+v", ds)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type resultLog struct {
	mu  sync.Mutex
	got map[string]int // "subscription result" → count
}

func (l *resultLog) record(sub, result string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.got == nil {
		l.got = map[string]int{}
	}
	l.got[sub+" "+result]++
}

func TestDeliveryRetriesExactlyOnceByID(t *testing.T) {
	rc := newReceiver(t, 2) // every delivery fails twice, then succeeds
	st := openStore(t, filepath.Join(t.TempDir(), "pier.db"))
	sub := outbox.Subscription{ID: "hook", URL: rc.srv.URL, Secret: secret}

	var log resultLog
	opts := fastOptions()
	opts.OnResult = log.record
	w := outbox.NewWorker(st, subs(sub), opts)
	sink := outbox.NewSink(st, subs(sub), outbox.SinkOptions{Notify: w.Notify})
	start(t, w)

	evs := events("rev1", 12)
	if err := sink.Emit(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	ds := waitSettled(t, st, len(evs))

	hits, oks, _ := rc.snapshot()
	for _, d := range ds {
		if d.State != outbox.Delivered || d.Attempts != 3 || d.LastStatus != http.StatusNoContent || d.LastError != "" {
			t.Errorf("delivery %s: state %s, attempts %d, status %d, error %q; want delivered after 3 attempts",
				d.ID, d.State, d.Attempts, d.LastStatus, d.LastError)
		}
		if oks[d.ID] != 1 || hits[d.ID] != 3 {
			t.Errorf("delivery %s: received %d times, accepted %d; want 3 and 1", d.ID, hits[d.ID], oks[d.ID])
		}
	}
	if len(oks) != len(evs) {
		t.Errorf("receiver accepted %d distinct deliveries, want %d", len(oks), len(evs))
	}
	rc.mu.Lock()
	if rc.dup {
		t.Error("a delivery was sent twice concurrently")
	}
	if rc.maxAct > 4 {
		t.Errorf("%d requests in flight at once, want at most 4", rc.maxAct)
	}
	rc.mu.Unlock()
	log.mu.Lock()
	if want := map[string]int{"hook retry": 2 * len(evs), "hook delivered": len(evs)}; fmt.Sprint(log.got) != fmt.Sprint(want) {
		t.Errorf("OnResult counts = %v, want %v", log.got, want)
	}
	log.mu.Unlock()

	// The body of a deletion carries the entity as it was.
	del := evs[2]
	id := outbox.DeliveryID(del, "hook")
	rc.mu.Lock()
	body := rc.bodies[id]
	rc.mu.Unlock()
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	want := map[string]any{
		"eventType":  "ENTITY_DELETED",
		"blueprint":  map[string]any{"identifier": "service"},
		"entity":     map[string]any{"identifier": "svc-2", "title": "Service 2"},
		"diff":       map[string]any{"before": map[string]any{"identifier": "svc-2", "title": "Service 2"}, "after": nil},
		"revision":   "rev1",
		"deliveryId": id,
		"timestamp":  "2026-05-01T12:00:00Z",
	}
	if fmt.Sprint(p) != fmt.Sprint(want) {
		t.Errorf("body = %v\nwant %v", p, want)
	}
}

func TestRestartContinuesPending(t *testing.T) {
	rc := newReceiver(t, 0)
	rc.setHang(true)
	path := filepath.Join(t.TempDir(), "pier.db")
	st := openStore(t, path)
	sub := outbox.Subscription{ID: "hook", URL: rc.srv.URL, Secret: secret}

	w1 := outbox.NewWorker(st, subs(sub), fastOptions())
	stop1 := start(t, w1)
	evs := events("rev1", 8)
	if err := outbox.NewSink(st, subs(sub), outbox.SinkOptions{Notify: w1.Notify}).Emit(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	// Wait until sends are in flight, then "stop the daemon" mid-send.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, _, total := rc.snapshot(); total > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no request reached the receiver")
		}
		time.Sleep(time.Millisecond)
	}
	stop1()
	ds, err := st.Deliveries(context.Background(), 100, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.State != outbox.Pending || d.Attempts != 0 {
			t.Errorf("after stop, delivery %s is %s after %d attempts; want pending, 0 (a cut-short send is no attempt)", d.ID, d.State, d.Attempts)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// A new process: reopen the file, new worker.
	rc.setHang(false)
	st2 := openStore(t, path)
	start(t, outbox.NewWorker(st2, subs(sub), fastOptions()))
	ds = waitSettled(t, st2, len(evs))
	_, oks, _ := rc.snapshot()
	for _, d := range ds {
		if d.State != outbox.Delivered || oks[d.ID] != 1 {
			t.Errorf("delivery %s: %s, accepted %d times; want delivered once", d.ID, d.State, oks[d.ID])
		}
	}
	if len(oks) != len(evs) {
		t.Errorf("receiver accepted %d distinct deliveries, want %d", len(oks), len(evs))
	}
}

func TestDeadAfterMaxAttempts(t *testing.T) {
	rc := newReceiver(t, 1000)
	st := openStore(t, filepath.Join(t.TempDir(), "pier.db"))
	sub := outbox.Subscription{ID: "hook", URL: rc.srv.URL + "/path?token=hidden", Secret: secret}
	var log resultLog
	opts := fastOptions()
	opts.MaxAttempts = 3
	opts.OnResult = log.record
	w := outbox.NewWorker(st, subs(sub), opts)
	start(t, w)
	if err := outbox.NewSink(st, subs(sub), outbox.SinkOptions{Notify: w.Notify}).Emit(context.Background(), events("rev1", 1)); err != nil {
		t.Fatal(err)
	}
	ds := waitSettled(t, st, 1)
	d := ds[0]
	if d.State != outbox.Dead || d.Attempts != 3 || d.LastStatus != 500 || !strings.Contains(d.LastError, "500") {
		t.Errorf("delivery = %s after %d attempts, status %d, error %q; want dead after 3, 500", d.State, d.Attempts, d.LastStatus, d.LastError)
	}
	if strings.Contains(d.LastError, "hidden") {
		t.Errorf("error %q shows the URL's query", d.LastError)
	}
	if hits, _, _ := rc.snapshot(); hits[d.ID] != 3 {
		t.Errorf("receiver saw %d attempts, want 3", hits[d.ID])
	}
	time.Sleep(30 * time.Millisecond) // a dead delivery is not retried
	if hits, _, _ := rc.snapshot(); hits[d.ID] != 3 {
		t.Errorf("receiver saw %d attempts after death, want 3", hits[d.ID])
	}
	log.mu.Lock()
	if want := map[string]int{"hook retry": 2, "hook dead": 1}; fmt.Sprint(log.got) != fmt.Sprint(want) {
		t.Errorf("OnResult counts = %v, want %v", log.got, want)
	}
	log.mu.Unlock()
}

func TestUnreachableAndUnknownSubscriptionRetry(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "pier.db"))
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	down := outbox.Subscription{ID: "down", URL: url}
	gone := outbox.Subscription{ID: "gone", URL: url}
	if err := outbox.NewSink(st, subs(down, gone), outbox.SinkOptions{}).Emit(context.Background(), events("rev1", 1)); err != nil {
		t.Fatal(err)
	}
	opts := fastOptions()
	opts.MaxAttempts = 2
	start(t, outbox.NewWorker(st, subs(down), opts)) // "gone" was removed from the catalog
	for _, d := range waitSettled(t, st, 2) {
		if d.State != outbox.Dead || d.Attempts != 2 || d.LastStatus != 0 || d.LastError == "" {
			t.Errorf("delivery to %s: %s after %d attempts, status %d, error %q; want dead after 2 with an error",
				d.Subscription, d.State, d.Attempts, d.LastStatus, d.LastError)
		}
	}
}

func TestFilters(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "pier.db"))
	all := outbox.Subscription{ID: "all", URL: "http://127.0.0.1:1/all", Secret: secret}
	created := outbox.Subscription{ID: "created", URL: "http://127.0.0.1:1/c", Events: []string{reconciler.EntityCreated}}
	teams := outbox.Subscription{ID: "teams", URL: "http://127.0.0.1:1/t", Blueprints: []string{"team"}}
	both := outbox.Subscription{ID: "team-deletions", URL: "http://127.0.0.1:1/td",
		Events: []string{reconciler.EntityDeleted}, Blueprints: []string{"team", "domain"}}
	sink := outbox.NewSink(st, subs(all, created, teams, both), outbox.SinkOptions{})

	evs := []reconciler.Event{
		{Type: reconciler.EntityCreated, Blueprint: "service", Identifier: "a", Revision: "r", At: at, After: json.RawMessage(`{}`)},
		{Type: reconciler.EntityUpdated, Blueprint: "team", Identifier: "b", Revision: "r", At: at, After: json.RawMessage(`{}`)},
		{Type: reconciler.EntityDeleted, Blueprint: "team", Identifier: "c", Revision: "r", At: at, Before: json.RawMessage(`{}`)},
		{Type: reconciler.EntityDeleted, Blueprint: "service", Identifier: "d", Revision: "r", At: at, Before: json.RawMessage(`{}`)},
	}
	// Emitting the same events twice enqueues them once.
	for range 2 {
		if err := sink.Emit(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := st.Deliveries(ctx, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, d := range ds {
		var p outbox.Payload
		if err := json.Unmarshal(d.Body, &p); err != nil {
			t.Fatal(err)
		}
		got[d.Subscription] = append(got[d.Subscription], p.Blueprint.Identifier+"/"+p.EventType)
	}
	for _, l := range got {
		slices.Sort(l)
	}
	want := map[string][]string{
		"all":            {"service/ENTITY_CREATED", "service/ENTITY_DELETED", "team/ENTITY_DELETED", "team/ENTITY_UPDATED"},
		"created":        {"service/ENTITY_CREATED"},
		"teams":          {"team/ENTITY_DELETED", "team/ENTITY_UPDATED"},
		"team-deletions": {"team/ENTITY_DELETED"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("deliveries by subscription = %v\nwant %v", got, want)
	}

	// The same revision applied again later is new events.
	later := slices.Clone(evs[:1])
	later[0].At = at.Add(time.Hour)
	if err := sink.Emit(ctx, later); err != nil {
		t.Fatal(err)
	}
	if ds2, err := st.Deliveries(ctx, 100, ""); err != nil || len(ds2) != len(ds)+2 {
		t.Errorf("after re-applying, %d deliveries (%v), want %d", len(ds2), err, len(ds)+2)
	}
}

func TestDeliveriesNewestFirstWithoutSecrets(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "pier.db"))
	sub := outbox.Subscription{ID: "hook", URL: "http://127.0.0.1:1/hook", Secret: secret}
	sink := outbox.NewSink(st, subs(sub), outbox.SinkOptions{})
	var want []string
	for i := range 3 {
		evs := events(fmt.Sprintf("rev%d", i), 1)
		if err := sink.Emit(ctx, evs); err != nil {
			t.Fatal(err)
		}
		want = append([]string{outbox.DeliveryID(evs[0], "hook")}, want...)
	}
	ds, err := st.Deliveries(ctx, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, d.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Deliveries = %v, want newest first %v", got, want)
	}
	js, err := json.Marshal(ds)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), secret) {
		t.Errorf("Deliveries shows the secret: %s", js)
	}
}

type failingStore struct{ outbox.Store }

func (failingStore) Enqueue(context.Context, []outbox.Delivery) error { return errors.New("disk full") }

func TestEmitReportsStoreErrors(t *testing.T) {
	notified := false
	sink := outbox.NewSink(failingStore{}, subs(outbox.Subscription{ID: "hook", URL: "http://127.0.0.1:1/"}),
		outbox.SinkOptions{Notify: func() { notified = true }})
	err := sink.Emit(context.Background(), events("rev1", 2))
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "rev1") {
		t.Errorf("Emit = %v, want the store's error with the revision", err)
	}
	if notified {
		t.Error("Emit notified the worker of deliveries it did not enqueue")
	}
}

func TestSignVerify(t *testing.T) {
	body := []byte(`{"eventType":"ENTITY_CREATED"}`)
	now := time.Unix(1_700_000_000, 0)
	ts := fmt.Sprint(now.Unix())
	sig := outbox.Sign(secret, now.Unix(), body)
	if !strings.HasPrefix(sig, "v1,") {
		t.Errorf("signature %q lacks the v1, prefix", sig)
	}
	if err := outbox.Verify(secret, ts, sig, body, now.Add(time.Minute), 0); err != nil {
		t.Errorf("Verify: %v", err)
	}
	for name, err := range map[string]error{
		"wrong secret": outbox.Verify("other", ts, sig, body, now, 0),
		"changed body": outbox.Verify(secret, ts, sig, append(body, ' '), now, 0),
		"other time":   outbox.Verify(secret, fmt.Sprint(now.Unix()+1), sig, body, now, 0),
		"stale":        outbox.Verify(secret, ts, sig, body, now.Add(time.Hour), 0),
		"bad time":     outbox.Verify(secret, "soon", sig, body, now, 0),
		"no signature": outbox.Verify(secret, ts, "", body, now, 0),
	} {
		if !errors.Is(err, outbox.ErrBadSignature) {
			t.Errorf("%s: Verify = %v, want ErrBadSignature", name, err)
		}
	}
}

func TestSubscriptionMatches(t *testing.T) {
	tests := []struct {
		sub       outbox.Subscription
		event, bp string
		want      bool
	}{
		{outbox.Subscription{}, "ENTITY_CREATED", "service", true},
		{outbox.Subscription{Events: []string{"ENTITY_DELETED"}}, "ENTITY_CREATED", "service", false},
		{outbox.Subscription{Blueprints: []string{"team"}}, "ENTITY_CREATED", "service", false},
		{outbox.Subscription{Events: []string{"RUN_UPDATED"}}, "RUN_UPDATED", "", true},
		{outbox.Subscription{Addressed: true}, "ENTITY_CREATED", "service", false},
		{outbox.Subscription{Addressed: true, Events: []string{"RUN_UPDATED"}}, "RUN_UPDATED", "", false},
	}
	for i, tt := range tests {
		if got := tt.sub.Matches(tt.event, tt.bp); got != tt.want {
			t.Errorf("%d: Matches(%s, %s) = %v", i, tt.event, tt.bp, got)
		}
	}
}
