package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/store"
)

var outboxTests = []test{
	{"OutboxEnqueueDue", testOutboxEnqueueDue},
	{"OutboxEnqueueAllOrNone", testOutboxEnqueueAllOrNone},
	{"OutboxMark", testOutboxMark},
	{"OutboxDeliveriesPaging", testOutboxDeliveriesPaging},
	{"OutboxPrune", testOutboxPrune},
}

func delivery(id string, next time.Time) record.Delivery {
	return record.Delivery{
		ID:           id,
		Subscription: "sub-" + id,
		URL:          "https://example.com/hook",
		Event:        "ENTITY_CREATED",
		Body:         json.RawMessage(fmt.Sprintf(`{"deliveryId":%q}`, id)),
		State:        record.Pending,
		NextAt:       next,
		CreatedAt:    t0,
	}
}

func ids(ds []record.Delivery) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func testOutboxEnqueueDue(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)

	// c is due first although enqueued last; d is not due yet.
	err := s.Enqueue(ctx, []record.Delivery{
		delivery("a", t0.Add(2*time.Second)),
		delivery("b", t0.Add(time.Second)),
		delivery("d", t0.Add(time.Hour)),
		delivery("c", t0),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Enqueueing a known id again changes nothing.
	again := delivery("a", t0.Add(-time.Hour))
	again.Body = json.RawMessage(`{"other":true}`)
	if err := s.Enqueue(ctx, []record.Delivery{again}); err != nil {
		t.Fatal(err)
	}

	due, err := s.Due(ctx, t0.Add(2*time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(due), []string{"c", "b", "a"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Due = %v, want %v", got, want)
	}
	want := delivery("a", t0.Add(2*time.Second))
	want.NextAt, want.CreatedAt = h.at(want.NextAt), h.at(want.CreatedAt)
	if !reflect.DeepEqual(due[2], want) {
		t.Errorf("Due[2] = %+v, want %+v", due[2], want)
	}
	if due, err := s.Due(ctx, t0.Add(time.Hour), 2); err != nil || !reflect.DeepEqual(ids(due), []string{"c", "b"}) {
		t.Errorf("Due(limit 2) = %v, %v; want [c b]", ids(due), err)
	}
}

func testOutboxEnqueueAllOrNone(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	bad := delivery("", t0) // no id
	if err := s.Enqueue(ctx, []record.Delivery{delivery("a", t0), bad}); err == nil {
		t.Fatal("Enqueue with an empty id succeeded")
	}
	if ds, err := s.Deliveries(ctx, 10, ""); err != nil || len(ds) != 0 {
		t.Errorf("after failed Enqueue, Deliveries = %v, %v; want none", ids(ds), err)
	}
}

func testOutboxMark(t *testing.T, h *harness) {
	ctx := context.Background()
	where := h.Fresh(t)
	s := h.openUnclosed(t, where)
	if err := s.Enqueue(ctx, []record.Delivery{delivery("ok", t0), delivery("retry", t0), delivery("dead", t0)}); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Second)
	next := t0.Add(time.Minute)
	if err := s.MarkDelivered(ctx, "ok", at, 204); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed(ctx, "retry", at, 500, "boom", next); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed(ctx, "dead", at, 0, "refused", at); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDead(ctx, "dead", at, 503, "unavailable"); err != nil {
		t.Fatal(err)
	}
	// Only pending deliveries can be marked.
	if err := s.MarkDelivered(ctx, "ok", at, 200); !errors.Is(err, record.ErrNotPending) {
		t.Errorf("MarkDelivered on a delivered delivery: %v, want ErrNotPending", err)
	}
	if err := s.MarkFailed(ctx, "nope", at, 500, "", next); !errors.Is(err, record.ErrNotPending) {
		t.Errorf("MarkFailed on an unknown delivery: %v, want ErrNotPending", err)
	}

	// The outcome survives a reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = h.open(t, where)

	if due, err := s.Due(ctx, next.Add(-h.Precision), 10); err != nil || len(due) != 0 {
		t.Errorf("Due before the retry time = %v, %v; want none", ids(due), err)
	}
	if due, err := s.Due(ctx, next, 10); err != nil || !reflect.DeepEqual(ids(due), []string{"retry"}) {
		t.Errorf("Due at the retry time = %v, %v; want [retry]", ids(due), err)
	}

	ds, err := s.Deliveries(ctx, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]record.Delivery{}
	for _, d := range ds {
		got[d.ID] = d
	}
	check := func(id, state string, attempts, status int, lastErr string, deliveredAt time.Time) {
		t.Helper()
		d := got[id]
		if d.State != state || d.Attempts != attempts || d.LastStatus != status || d.LastError != lastErr || !d.DeliveredAt.Equal(h.at(deliveredAt)) {
			t.Errorf("%s = state %s, attempts %d, status %d, error %q, delivered at %v; want %s, %d, %d, %q, %v",
				id, d.State, d.Attempts, d.LastStatus, d.LastError, d.DeliveredAt, state, attempts, status, lastErr, deliveredAt)
		}
	}
	check("ok", record.Delivered, 1, 204, "", at)
	check("retry", record.Pending, 1, 500, "boom", time.Time{})
	check("dead", record.Dead, 2, 503, "unavailable", time.Time{})
}

func testOutboxDeliveriesPaging(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	for _, id := range []string{"1", "2", "3", "4", "5"} {
		if err := s.Enqueue(ctx, []record.Delivery{delivery(id, t0)}); err != nil {
			t.Fatal(err)
		}
	}
	var pages [][]string
	before := ""
	for {
		ds, err := s.Deliveries(ctx, 2, before)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			break
		}
		pages = append(pages, ids(ds))
		before = ds[len(ds)-1].ID
	}
	if want := [][]string{{"5", "4"}, {"3", "2"}, {"1"}}; !reflect.DeepEqual(pages, want) {
		t.Errorf("pages = %v, want %v", pages, want)
	}
	// A cursor that is no delivery has no place to page from.
	if ds, err := s.Deliveries(ctx, 2, "unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Deliveries(before unknown) = %v, %v; want ErrNotFound", ids(ds), err)
	}
}

func testOutboxPrune(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	if err := s.Enqueue(ctx, []record.Delivery{delivery("done", t0), delivery("dead", t0), delivery("pending", t0)}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDelivered(ctx, "done", t0, 200); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDead(ctx, "dead", t0, 500, "x"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneOutbox(ctx, t0); err != nil || n != 0 {
		t.Errorf("PruneOutbox(created time) = %d, %v; want 0", n, err)
	}
	if n, err := s.PruneOutbox(ctx, t0.Add(time.Second)); err != nil || n != 2 {
		t.Errorf("PruneOutbox = %d, %v; want 2", n, err)
	}
	if ds, err := s.Deliveries(ctx, 10, ""); err != nil || !reflect.DeepEqual(ids(ds), []string{"pending"}) {
		t.Errorf("after prune, Deliveries = %v, %v; want [pending]", ids(ds), err)
	}
}
