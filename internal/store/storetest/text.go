package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/store"
)

var textTests = []test{{"FreeText", testFreeText}}

// testFreeText: free text from outside (a workflow's log line, a
// receiver's error answer cut mid-character, a token's name) is stored,
// NUL and invalid UTF-8 read back as U+FFFD, rather than failing the
// write: PostgreSQL's text holds nothing else, and both stores agree.
func testFreeText(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	const odd, clean = "a\x00b \xe2\x82 ok é", "a\uFFFDb \uFFFD ok é"
	if got := store.Text(odd); got != clean {
		t.Fatalf("store.Text(%q) = %q, want %q", odd, got, clean)
	}
	createRun(t, s, store.Run{ID: "r1", Action: "deploy", Status: store.RunInProgress, CreatedAt: t0})
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("AddRunLog", s.AddRunLog(ctx, "r1", store.RunLog{At: t0, Message: odd, TerminationStatus: odd}))
	run, err := s.Run(ctx, "r1")
	must("Run", err)
	ev := store.RunEvent{At: t0, Actor: odd, From: run.Status, To: run.Status, Note: odd}
	_, err = s.UpdateRun(ctx, run, &ev, nil)
	must("UpdateRun", err)
	must("Audit", s.Audit(ctx, store.AuditEntry{At: t0, Actor: odd, Action: odd, Resource: odd, Status: 500}))
	must("Enqueue", s.Enqueue(ctx, []record.Delivery{delivery("d1", t0), delivery("d2", t0)}))
	must("MarkFailed", s.MarkFailed(ctx, "d1", t0, 500, odd, t0.Add(time.Minute)))
	must("MarkDead", s.MarkDead(ctx, "d2", t0, 500, odd))
	must("CreateToken", s.CreateToken(ctx, store.APIToken{ID: "t1", Hash: "x1", Login: "alice", Name: odd, CreatedAt: t0}))
	seen, err := s.Seen(ctx, odd, t0)
	must("Seen", err)
	if again, err := s.Seen(ctx, odd, t0); seen || !again || err != nil {
		t.Errorf("Seen of an odd id: %v then %v, %v; want false then true", seen, again, err)
	}
	must("Forget", s.Forget(ctx, odd))
	if again, err := s.Seen(ctx, odd, t0); again || err != nil {
		t.Errorf("Seen after Forget: %v, %v", again, err)
	}

	logs, err := s.RunLogs(ctx, "r1")
	if err != nil || len(logs) != 1 || logs[0].Message != clean || logs[0].TerminationStatus != clean {
		t.Errorf("RunLogs = %+v, %v", logs, err)
	}
	evs := runEvents(t, s, "r1")
	if last := evs[len(evs)-1]; last.Actor != clean || last.Note != clean {
		t.Errorf("event = %+v", last)
	}
	if log, err := s.AuditLog(ctx, 1, 0); err != nil || len(log) != 1 || log[0].Actor != clean || log[0].Action != clean || log[0].Resource != clean {
		t.Errorf("AuditLog = %+v, %v", log, err)
	}
	ds, err := s.Deliveries(ctx, 10, "")
	if err != nil || len(ds) != 2 || ds[0].LastError != clean || ds[1].LastError != clean {
		t.Errorf("Deliveries = %+v, %v", ds, err)
	}
	if ts, err := s.Tokens(ctx, "alice"); err != nil || len(ts) != 1 || ts[0].Name != clean {
		t.Errorf("Tokens = %+v, %v", ts, err)
	}
	if _, err := s.Token(ctx, "x1"); err != nil {
		t.Errorf("Token: %v", err)
	}
}
