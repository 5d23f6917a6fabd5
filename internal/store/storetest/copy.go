package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/store"
)

var copyTests = []test{
	{"Copy", func(t *testing.T, h *harness) { CheckCopy(t, h.new(t), h.new(t)) }},
	{"CopyRefusesNonEmpty", testCopyRefusesNonEmpty},
	{"ImportAllOrNone", testImportAllOrNone},
}

// Fill writes records of every table through the store's interface:
// applied and failed revisions, history with every op, runtime values,
// audit entries, delivery ids, deliveries in every state, fired timers,
// runs with events and logs, level changes, a session, tokens with and
// without an expiry, a person. Its times are whole
// microseconds, which every store keeps exactly (so should be the
// store's clock, for the objects' timestamps).
func Fill(t testing.TB, s store.Backend) {
	t.Helper()
	ctx := context.Background()
	at := t0.Truncate(time.Microsecond)
	dl := func(id string) record.Delivery {
		d := delivery(id, at)
		d.CreatedAt = at
		return d
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	v1, v2 := doc(`{"identifier":"a","v":1}`), doc(`{"identifier":"a","v":2}`)
	rev := func(name string) store.Revision {
		r := applied(name)
		r.StartedAt = at
		r.Settings = json.RawMessage(`{"deletionGuard":{"allow":true}}`)
		r.Counts = store.Counts{Created: 2, Entities: 2}
		return r
	}
	r1 := rev("r1")
	r1.Outbox = []record.Delivery{dl("with-r1")}
	must(s.Apply(ctx, r1, []store.Change{create(bpService, doc(`{"identifier":"service"}`)), create(svcA, v1), create(svcB, v1), create(actDeploy, doc(`{}`))}))
	must(s.RecordFailure(ctx, store.Revision{Revision: "bad", StartedAt: at, Duration: time.Second,
		Errors: catalog.Diagnostics{{Pos: catalog.Pos{File: "a.cue", Line: 1, Col: 2}, Kind: catalog.KindParse, Message: "unexpected EOF"}}}))
	must(s.Apply(ctx, rev("r2"), []store.Change{update(svcA, v1, v2), del(svcB, v1), create(svcC, v1)}))
	must(s.SetRuntime(ctx, store.Runtime{Blueprint: "service", Identifier: "a",
		Properties: map[string]any{"health": "Healthy", "replicas": json.Number("3")}, UpdatedAt: at, UpdatedBy: "bot"}))
	for i := range 3 {
		must(s.Audit(ctx, store.AuditEntry{At: at.Add(time.Duration(i) * time.Second), Actor: "ci", Action: "entity.upsert",
			Resource: "service/a", Status: 200, Details: json.RawMessage(`{"n":1}`)}))
	}
	must(s.Audit(ctx, store.AuditEntry{At: at, Actor: "ci", Action: "reconcile.trigger", Status: 202}))
	for _, id := range []string{"gh-1", "gh-2"} {
		if _, err := s.Seen(ctx, id, at); err != nil {
			t.Fatal(err)
		}
	}
	must(s.Enqueue(ctx, []record.Delivery{dl("done"), dl("retry"), dl("dead")}))
	must(s.MarkDelivered(ctx, "done", at, 204))
	must(s.MarkFailed(ctx, "retry", at, 500, "boom", at.Add(time.Minute)))
	must(s.MarkDead(ctx, "dead", at, 0, "refused"))
	_, err := s.FireTimers(ctx, []store.Timer{{Blueprint: "service", Identifier: "a", Property: "ttl", ExpiresAt: "2026-03-14T00:00:00Z"}}, at,
		func(fired []store.Timer) ([]record.Delivery, error) {
			return []record.Delivery{dl("timer")}, nil
		})
	must(err)
	full := fullRun(time.UTC, map[string]any{"n": json.Number("1.50"), "s": "x"})
	full.CreatedAt = at
	stored := createRun(t, s, full, dl("run-created"))
	stored.Status = store.RunSuccess
	ev := runEvent(at.Add(time.Second), store.RunDispatched, store.RunSuccess)
	_, err = s.UpdateRun(ctx, stored, &ev, nil)
	must(err)
	createRun(t, s, store.Run{ID: "r2", Action: "scale", Status: store.RunWaitingForApproval, CreatedAt: at.Add(time.Minute)})
	must(s.AddRunLog(ctx, "r1", store.RunLog{At: at, Message: "starting"}))
	must(s.AddRunLog(ctx, "r1", store.RunLog{At: at, Message: "done", TerminationStatus: store.RunSuccess}))
	far := at.AddDate(100, 0, 0) // sessions expire, and expired ones are swept
	must(s.CreateSession(ctx, store.Session{IDHash: "h1", Login: "alice", Person: json.RawMessage(`{"name": "Alice"}`), CSRF: "c1", CreatedAt: at, ExpiresAt: far}))
	must(s.CreateToken(ctx, store.APIToken{ID: "t1", Hash: "x1", Login: "alice", Name: "laptop", CreatedAt: at}))
	must(s.CreateToken(ctx, store.APIToken{ID: "t2", Hash: "x2", Login: "alice", Name: "ci", CreatedAt: at, ExpiresAt: far}))
	must(s.RecordPerson(ctx, store.Person{Login: "alice", Person: json.RawMessage(`{"name": "Alice"}`), SignedIn: at}))
	must(s.RecordLevels(ctx, []store.LevelChange{
		{Scorecard: "quality", Blueprint: "service", Identifier: "a", To: "Basic", Revision: "r1", At: at},
		{Scorecard: "quality", Blueprint: "service", Identifier: "a", From: "Basic", To: "Gold", Revision: "r2", At: at},
	}))
}

// Dump is every record of a store, by table, in Export's order.
func Dump(t testing.TB, s store.Exporter) map[store.Table][]any {
	t.Helper()
	out := map[store.Table][]any{}
	err := s.Export(context.Background(), func(tb store.Table, rec any) error {
		out[tb] = append(out[tb], rec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// CheckCopy fills from, copies it into to, which must be empty, and
// checks that to holds what from does, record for record, and numbers
// on after it.
func CheckCopy(t *testing.T, from, to store.Backend) {
	ctx := context.Background()
	Fill(t, from)
	src := Dump(t, from)
	counts, err := store.Copy(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range store.Tables {
		if len(src[tb]) == 0 {
			t.Errorf("Fill leaves %s empty: the copy of it is not tested", tb)
		}
		if counts[tb] != int64(len(src[tb])) {
			t.Errorf("Copy counted %d %s, the source holds %d", counts[tb], tb, len(src[tb]))
		}
	}
	got := Dump(t, to)
	for _, tb := range store.Tables {
		if !reflect.DeepEqual(got[tb], src[tb]) {
			t.Errorf("%s after the copy:\n%s\nwant\n%s", tb, dumpString(got[tb]), dumpString(src[tb]))
		}
	}
	if !reflect.DeepEqual(state(t, to), state(t, from)) {
		t.Errorf("State() after the copy differs")
	}

	// What the target numbers next comes after what it was given, and a
	// copied run is written on from its copied version.
	if err := to.Audit(ctx, store.AuditEntry{At: t0, Actor: "x", Action: "after.copy", Status: 200}); err != nil {
		t.Fatal(err)
	}
	if log, err := to.AuditLog(ctx, 1, 0); err != nil || len(log) != 1 || log[0].Action != "after.copy" || log[0].ID <= src[store.TableAudit][len(src[store.TableAudit])-1].(store.AuditEntry).ID {
		t.Errorf("the audit entry after the copy: %+v, %v", log, err)
	}
	apply(t, to, applied("r3"))
	if last, err := to.LastApplied(ctx); err != nil || last.Revision != "r3" || last.Seq <= src[store.TableRevisions][len(src[store.TableRevisions])-1].(store.Revision).Seq {
		t.Errorf("the revision after the copy: %+v, %v", last, err)
	}
	if err := to.RecordLevels(ctx, []store.LevelChange{{Scorecard: "quality", Blueprint: "service", Identifier: "c", To: "Basic", Revision: "r3", At: t0}}); err != nil {
		t.Fatal(err)
	}
	if lv, err := to.LevelHistory(ctx, store.LevelFilter{Limit: 1}); err != nil || len(lv) != 1 || lv[0].Identifier != "c" {
		t.Errorf("the level change after the copy: %+v, %v", lv, err)
	}
	if err := to.Enqueue(ctx, []record.Delivery{delivery("after-copy", t0)}); err != nil {
		t.Fatal(err)
	}
	if ds, err := to.Deliveries(ctx, 1, ""); err != nil || len(ds) != 1 || ds[0].ID != "after-copy" {
		t.Errorf("the delivery after the copy: %v, %v", ids(ds), err)
	}
	if err := to.AddRunLog(ctx, "r1", store.RunLog{At: t0, Message: "after the copy"}); err != nil {
		t.Fatal(err)
	}
	if logs, err := to.RunLogs(ctx, "r1"); err != nil || len(logs) != 3 || logs[2].Message != "after the copy" {
		t.Errorf("run logs after the copy: %+v, %v", logs, err)
	}
	run, err := to.Run(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	ev := runEvent(t0, run.Status, run.Status)
	if _, err := to.UpdateRun(ctx, run, &ev, nil); err != nil {
		t.Errorf("UpdateRun of a copied run: %v", err)
	}
	if evs, err := to.RunEvents(ctx, "r1"); err != nil || len(evs) != 3 || evs[2].Seq != 3 {
		t.Errorf("run events after the copy: %+v, %v", evs, err)
	}
}

func dumpString(recs []any) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "  %+v\n", r)
	}
	return b.String()
}

func testCopyRefusesNonEmpty(t *testing.T, h *harness) {
	ctx := context.Background()
	from, to := h.new(t), h.new(t)
	Fill(t, from)
	apply(t, to, applied("mine"), create(svcA, doc(`{}`)))
	before := Dump(t, to)
	_, err := store.Copy(ctx, from, to)
	if !errors.Is(err, store.ErrNotEmpty) {
		t.Fatalf("Copy into a non-empty store: %v, want ErrNotEmpty", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "1 revisions") || !strings.Contains(msg, "1 objects") {
		t.Errorf("the refusal does not say what the target holds: %s", msg)
	}
	if !reflect.DeepEqual(Dump(t, to), before) {
		t.Error("the refused copy changed the target")
	}
	// Import checks too, in its own transaction.
	if err := to.Import(ctx, from.Export); !errors.Is(err, store.ErrNotEmpty) {
		t.Errorf("Import into a non-empty store: %v, want ErrNotEmpty", err)
	}
}

// testImportAllOrNone: an import that fails part-way leaves the target
// empty, so that the copy can be made again.
func testImportAllOrNone(t *testing.T, h *harness) {
	ctx := context.Background()
	from := h.new(t)
	Fill(t, from)
	tests := []struct {
		name string
		// after emits this, or fails, once n records went through.
		n    int
		fail func(emit func(store.Table, any) error) error
	}{
		{"the export fails", 20, func(func(store.Table, any) error) error { return errors.New("disk on fire") }},
		{"a record of the wrong type", 5, func(emit func(store.Table, any) error) error {
			return emit(store.TableRuns, store.AuditEntry{ID: 99})
		}},
		{"an unknown table", 5, func(emit func(store.Table, any) error) error {
			return emit("nope", store.AuditEntry{ID: 99})
		}},
		{"a duplicate", 30, func(emit func(store.Table, any) error) error {
			return emit(store.TableDeliveryIDs, store.DeliveryID{ID: "gh-1", At: t0})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			to := h.new(t)
			n := 0
			err := to.Import(ctx, func(ctx context.Context, emit func(store.Table, any) error) error {
				return from.Export(ctx, func(tb store.Table, rec any) error {
					if n++; n == tt.n {
						if err := tt.fail(emit); err != nil {
							return err
						}
					}
					return emit(tb, rec)
				})
			})
			if err == nil {
				t.Fatal("Import succeeded")
			}
			t.Logf("Import error: %v", err)
			counts, err := to.Counts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := store.CheckEmpty(counts); err != nil {
				t.Errorf("after a failed import: %v", err)
			}
			// The failed import left the store usable.
			CheckCopy(t, h.new(t), to)
		})
	}
}
