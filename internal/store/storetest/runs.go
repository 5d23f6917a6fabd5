package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/store"
)

var runTests = []test{
	{"RunRoundTrip", testRunRoundTrip},
	{"RunTimesUTC", testRunTimesUTC},
	{"CreateRunOnce", testCreateRunOnce},
	{"UpdateRun", testUpdateRun},
	{"RunsFilter", testRunsFilter},
	{"RunsLimit", testRunsLimit},
	{"RunsClosing", testRunsClosing},
	{"RunLogs", testRunLogs},
	{"LevelHistory", testLevelHistory},
}

// fullRun sets every field of a run, its times in loc.
func fullRun(loc *time.Location, inputs map[string]any) store.Run {
	at := func(d time.Duration) time.Time { return t0.Add(d).In(loc) }
	return store.Run{
		ID: "r1", Action: "deploy", Blueprint: "service", Entity: "api", Inputs: inputs,
		Status: store.RunDispatched, StatusLabel: "Deploying to eu-1", Requester: "alice", Source: "pull_request",
		RequestKey: "pr:acme/catalog#7",
		Approval: &store.RunApproval{System: "github", Ref: "7", URL: "https://github.com/acme/catalog/pull/7",
			Required: 2, ExpiresAt: at(time.Hour), HeadSHA: "abc123", Approvers: []string{"bob", "carol"},
			DecidedBy: "carol", Reason: "lgtm", DecidedAt: at(time.Minute), FinishedAt: at(5 * time.Minute),
			Votes: []store.RunVote{{User: "bob", Approve: true, Reason: "ok", At: at(30 * time.Second)}, {User: "dave", At: at(40 * time.Second)}}},
		Dispatch: store.RunDispatch{StartedAt: at(2 * time.Minute), At: at(3 * time.Minute),
			WorkflowRunID: 1<<53 + 1, Error: "retried once"},
		Link: "https://github.com/acme/deploy/actions/runs/9", ExternalRunID: "ext-9", Summary: "deployed",
		CreatedAt: at(0), UpdatedAt: at(3 * time.Minute), EndedAt: at(4 * time.Minute),
		Version: 7, // CreateRun starts at 1 whatever it is given
	}
}

func runEvent(at time.Time, from, to string) store.RunEvent {
	return store.RunEvent{Seq: 42, At: at, Actor: "alice", From: from, To: to, Note: from + "→" + to}
}

func createRun(t testing.TB, s store.RunStore, r store.Run, out ...record.Delivery) store.Run {
	t.Helper()
	got, created, err := s.CreateRun(context.Background(), r, runEvent(r.CreatedAt, "", r.Status), out)
	if err != nil || !created {
		t.Fatalf("CreateRun(%s) = %v, %v", r.ID, created, err)
	}
	return got
}

func runIDs(rs []store.Run) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func runEvents(t testing.TB, s store.RunStore, id string) []store.RunEvent {
	t.Helper()
	evs, err := s.RunEvents(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func testRunRoundTrip(t *testing.T, h *harness) {
	ctx := context.Background()
	minimal := store.Run{ID: "r2", Action: "scale", Inputs: map[string]any{}, Status: store.RunWaitingForApproval,
		Requester: "bob", Source: "api", CreatedAt: t0, UpdatedAt: t0}
	minimalWant := minimal
	minimalWant.CreatedAt, minimalWant.UpdatedAt, minimalWant.Version = t0.UTC(), t0.UTC(), 1

	fullWant := fullRun(time.UTC, map[string]any{
		"replicas": json.Number("10"), "ratio": json.Number("1.5"), "big": json.Number("12345678901234567890"),
		"name": "api", "tags": []any{json.Number("1"), "x"}, "nested": map[string]any{"n": json.Number("2")}})
	fullWant.Version = 1

	tests := []struct {
		name      string
		run, want store.Run
	}{
		{"every field", fullRun(t0.Location(), map[string]any{
			"replicas": 10, "ratio": 1.5, "big": json.Number("12345678901234567890"),
			"name": "api", "tags": []any{1, "x"}, "nested": map[string]any{"n": 2}}), fullWant},
		{"zero times and no approval", minimal, minimalWant},
	}
	where := h.Fresh(t)
	s := h.openUnclosed(t, where)
	for _, tt := range tests {
		if got := createRun(t, s, tt.run); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: CreateRun returned\n%+v\nwant\n%+v", tt.name, got, tt.want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = h.open(t, where) // everything survives a restart
	for _, tt := range tests {
		got, err := s.Run(ctx, tt.run.ID)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Run after reopen =\n%+v, %v\nwant\n%+v", tt.name, got, err, tt.want)
		}
		wantEv := []store.RunEvent{{Seq: 1, At: h.at(tt.run.CreatedAt), Actor: "alice", To: tt.run.Status, Note: "→" + tt.run.Status}}
		if evs := runEvents(t, s, tt.run.ID); !reflect.DeepEqual(evs, wantEv) {
			t.Errorf("%s: RunEvents = %+v, want %+v", tt.name, evs, wantEv)
		}
	}
	if _, err := s.Run(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Run(unknown) error = %v, want ErrNotFound", err)
	}
}

// eachTime calls f on every time.Time in v, following pointers and
// slices; with grow, it first fills nil pointers and empty slices (one
// element) so that no time is missed.
func eachTime(v reflect.Value, grow bool, f func(reflect.Value)) {
	if v.Type() == reflect.TypeFor[time.Time]() {
		f(v)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if grow && v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		if !v.IsNil() {
			eachTime(v.Elem(), grow, f)
		}
	case reflect.Slice:
		if grow && v.Len() == 0 {
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		}
		for i := range v.Len() {
			eachTime(v.Index(i), grow, f)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			eachTime(v.Field(i), grow, f)
		}
	}
}

// testRunTimesUTC guards encodeRun: every time in a run, including one
// added to store.Run later, is stored in UTC.
func testRunTimesUTC(t *testing.T, h *harness) {
	s := h.new(t)
	r := store.Run{ID: "r1", Action: "deploy", Status: store.RunApproved}
	set := 0
	eachTime(reflect.ValueOf(&r).Elem(), true, func(v reflect.Value) { set++; v.Set(reflect.ValueOf(t0)) })
	got := createRun(t, s, r)
	n := 0
	eachTime(reflect.ValueOf(&got).Elem(), false, func(v reflect.Value) {
		n++
		if tm := v.Interface().(time.Time); tm != t0.UTC() {
			t.Errorf("a time came back as %v, want %v", tm, t0.UTC())
		}
	})
	if n != set {
		t.Errorf("%d times came back, want %d", n, set)
	}
	if r.Approval.ExpiresAt != t0 || r.Approval.Votes[0].At != t0 {
		t.Error("CreateRun changed the caller's approval")
	}
}

func testCreateRunOnce(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	first := fullRun(time.UTC, map[string]any{"n": json.Number("1")})
	stored := createRun(t, s, first, delivery("d1", t0))

	// The same request again: the first run, and nothing written.
	again := first
	again.ID, again.Inputs = "r2", map[string]any{"n": json.Number("2")}
	got, created, err := s.CreateRun(ctx, again, runEvent(t0, "", first.Status), []record.Delivery{delivery("d2", t0)})
	if err != nil || created || !reflect.DeepEqual(got, stored) {
		t.Fatalf("CreateRun with a known request key = %+v, %v, %v; want the first run, false", got, created, err)
	}
	if _, err := s.Run(ctx, "r2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the second run was stored: %v", err)
	}

	// A known id, or none, is an error, and writes nothing either.
	for _, r := range []store.Run{{ID: "r1", Action: "x", CreatedAt: t0}, {Action: "x", CreatedAt: t0}} {
		if _, _, err := s.CreateRun(ctx, r, runEvent(t0, "", "x"), []record.Delivery{delivery("d3", t0)}); err == nil {
			t.Errorf("CreateRun(id %q) succeeded", r.ID)
		}
	}

	if evs := runEvents(t, s, "r1"); len(evs) != 1 {
		t.Errorf("r1 has %d events, want 1", len(evs))
	}
	if due, err := s.Due(ctx, t0, 10); err != nil || !reflect.DeepEqual(ids(due), []string{"d1"}) {
		t.Errorf("Due = %v, %v; want [d1]", ids(due), err)
	}
}

func testUpdateRun(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	createRun(t, s, store.Run{ID: "r1", Action: "deploy", Status: store.RunWaitingForApproval, CreatedAt: t0, UpdatedAt: t0},
		delivery("created", t0))
	read, err := s.Run(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}

	// Two writers move the same read: the approval wins, the expiry
	// conflicts and writes nothing.
	approve, expire := read, read
	approve.Status, approve.UpdatedAt = store.RunApproved, t0.Add(time.Minute)
	ev := runEvent(t0.Add(time.Minute), store.RunWaitingForApproval, store.RunApproved)
	got, err := s.UpdateRun(ctx, approve, &ev, []record.Delivery{delivery("approved", t0)})
	want := approve
	want.Version, want.UpdatedAt = 2, approve.UpdatedAt.UTC()
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("UpdateRun = %+v, %v; want %+v", got, err, want)
	}
	expire.Status = store.RunExpired
	ev2 := runEvent(t0.Add(2*time.Minute), store.RunWaitingForApproval, store.RunExpired)
	if _, err := s.UpdateRun(ctx, expire, &ev2, []record.Delivery{delivery("expired", t0)}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second UpdateRun from the same read: %v, want ErrConflict", err)
	}
	if got, err := s.Run(ctx, "r1"); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("after the conflict Run = %+v, %v; want %+v", got, err, want)
	}

	// No event; then one more: events are numbered 1, 2, 3.
	got.Summary = "quiet"
	if got, err = s.UpdateRun(ctx, got, nil, nil); err != nil || got.Version != 3 {
		t.Fatalf("UpdateRun without event = %+v, %v", got, err)
	}
	got.Status = store.RunDispatched
	ev3 := runEvent(t0.Add(3*time.Minute), store.RunApproved, store.RunDispatched)
	if got, err = s.UpdateRun(ctx, got, &ev3, nil); err != nil || got.Version != 4 {
		t.Fatalf("UpdateRun = %+v, %v", got, err)
	}
	var seqs, to []string
	for _, e := range runEvents(t, s, "r1") {
		seqs, to = append(seqs, fmt.Sprint(e.Seq)), append(to, e.To)
	}
	if want := "1 2 3"; strings.Join(seqs, " ") != want {
		t.Errorf("event seqs = %v, want %s", seqs, want)
	}
	if want := []string{store.RunWaitingForApproval, store.RunApproved, store.RunDispatched}; !reflect.DeepEqual(to, want) {
		t.Errorf("event statuses = %v, want %v", to, want)
	}

	// Each status change is in the audit log, written with it; the
	// conflicting expiry is not.
	entries, err := s.AuditLog(ctx, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var audited []string
	for _, e := range slices.Backward(entries) { // newest first
		if e.Resource == "actions/deploy/runs/r1" {
			audited = append(audited, e.Action)
		}
	}
	var wantAudit []string
	for _, s := range to {
		wantAudit = append(wantAudit, "run."+strings.ToLower(s))
	}
	if !reflect.DeepEqual(audited, wantAudit) {
		t.Errorf("audit log of the run = %v, want %v", audited, wantAudit)
	}

	if due, err := s.Due(ctx, t0, 10); err != nil || !reflect.DeepEqual(ids(due), []string{"created", "approved"}) {
		t.Errorf("Due = %v, %v; want [created approved]", ids(due), err)
	}
	unknown := got
	unknown.ID = "nope"
	if _, err := s.UpdateRun(ctx, unknown, &ev3, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateRun(unknown) error = %v, want ErrNotFound", err)
	}
}

// filterRuns stores a..i, one run in each status, a minute apart, and j at
// i's time.
func filterRuns(t *testing.T, s store.RunStore) {
	statuses := []string{store.RunWaitingForApproval, store.RunApproved, store.RunDispatched, store.RunInProgress,
		store.RunSuccess, store.RunFailure, store.RunDeclined, store.RunExpired, store.RunCancelled, store.RunSuccess}
	approvals := []*store.RunApproval{{System: "github", Ref: "7"}, {System: "github", Ref: "8"}, {System: "pier", Ref: "7"}}
	for i, status := range statuses {
		r := store.Run{ID: string(rune('a' + i)), Action: "scale", Blueprint: "service", Entity: "web", Status: status,
			Dispatch: store.RunDispatch{WorkflowRunID: int64(100 + i)}, CreatedAt: t0.Add(time.Duration(min(i, 8)) * time.Minute)}
		if i%2 == 0 || i == 9 {
			r.Action = "deploy"
		}
		if i < 3 {
			r.Entity, r.Approval = "api", approvals[i]
		}
		createRun(t, s, r)
	}
}

func testRunsFilter(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	filterRuns(t, s)
	tests := []struct {
		f    store.RunFilter
		want string
	}{
		{store.RunFilter{}, "j i h g f e d c b a"},
		{store.RunFilter{Active: true}, "d c b a"},
		{store.RunFilter{Status: store.RunSuccess}, "j e"},
		{store.RunFilter{Action: "deploy"}, "j i g e c a"},
		{store.RunFilter{Action: "deploy", Active: true}, "c a"},
		{store.RunFilter{Entity: "api"}, "c b a"},
		{store.RunFilter{Blueprint: "service", Entity: "api"}, "c b a"},
		{store.RunFilter{Blueprint: "other"}, ""},
		{store.RunFilter{ApprovalSystem: "github", ApprovalRef: "7"}, "a"},
		{store.RunFilter{ApprovalRef: "7"}, "c a"},
		{store.RunFilter{WorkflowRunID: 102}, "c"},
		{store.RunFilter{Limit: 3}, "j i h"},
		{store.RunFilter{Limit: 3, Before: "j"}, "i h g"}, // i ties with j, and its id is smaller
		{store.RunFilter{Limit: 3, Before: "i"}, "h g f"},
		{store.RunFilter{Active: true, Before: "c"}, "b a"},
		{store.RunFilter{Limit: 3, Before: "a"}, ""}, // the page after the oldest
	}
	for _, tt := range tests {
		got, err := s.Runs(ctx, tt.f)
		if err != nil || strings.Join(runIDs(got), " ") != tt.want {
			t.Errorf("Runs(%+v) = %v, %v; want [%s]", tt.f, runIDs(got), err, tt.want)
		}
	}

	// A cursor that is no run has no place to page from.
	if got, err := s.Runs(ctx, store.RunFilter{Before: "nope"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Runs before an unknown run = %v, %v; want ErrNotFound", runIDs(got), err)
	}

	// Paging through them all sees each once.
	var seen []string
	for before := ""; ; {
		page, err := s.Runs(ctx, store.RunFilter{Limit: 4, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		seen = append(seen, runIDs(page)...)
		before = page[len(page)-1].ID
	}
	if strings.Join(seen, " ") != tests[0].want {
		t.Errorf("paged = %v, want [%s]", seen, tests[0].want)
	}
}

func testRunsLimit(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	for i := range 1001 {
		createRun(t, s, store.Run{ID: fmt.Sprintf("r%04d", i), Action: "a", Status: store.RunSuccess, CreatedAt: t0})
	}
	for _, tt := range []struct{ limit, want int }{{0, 100}, {-1, 100}, {7, 7}, {1000, 1000}, {5000, 1000}} {
		if got, err := s.Runs(ctx, store.RunFilter{Limit: tt.limit}); err != nil || len(got) != tt.want {
			t.Errorf("Runs(Limit %d) = %d runs, %v; want %d", tt.limit, len(got), err, tt.want)
		}
	}
}

func testRunLogs(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	createRun(t, s, store.Run{ID: "r1", Action: "deploy", Status: store.RunInProgress, CreatedAt: t0})
	createRun(t, s, store.Run{ID: "r2", Action: "deploy", Status: store.RunInProgress, CreatedAt: t0})
	logs := []store.RunLog{
		{At: t0.Add(time.Second), Message: "starting", Actor: "ci"},
		{At: t0, Message: "clock skew: earlier, but logged later"},
		{At: t0.Add(2 * time.Second), Message: "done", TerminationStatus: store.RunSuccess},
	}
	for _, l := range logs {
		if err := s.AddRunLog(ctx, "r1", l); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddRunLog(ctx, "nope", logs[0]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddRunLog(unknown) error = %v, want ErrNotFound", err)
	}
	got, err := s.RunLogs(ctx, "r1")
	for i := range logs {
		logs[i].At = h.at(logs[i].At)
	}
	if err != nil || !reflect.DeepEqual(got, logs) {
		t.Errorf("RunLogs = %+v, %v; want %+v", got, err, logs)
	}
	if got, err := s.RunLogs(ctx, "r2"); err != nil || len(got) != 0 {
		t.Errorf("RunLogs(no logs) = %+v, %v; want none", got, err)
	}
	if _, err := s.RunLogs(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RunLogs(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.RunEvents(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RunEvents(unknown) error = %v, want ErrNotFound", err)
	}
}

func testLevelHistory(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	err := s.RecordLevels(ctx, []store.LevelChange{
		{Scorecard: "quality", Blueprint: "svc", Identifier: "a", From: "", To: "Basic", Revision: "r1", At: at},
		{Scorecard: "quality", Blueprint: "svc", Identifier: "b", From: "", To: "Gold", Revision: "r1", At: at},
		{Scorecard: "security", Blueprint: "svc", Identifier: "a", From: "", To: "Bronze", Revision: "r1", At: at},
		{Scorecard: "quality", Blueprint: "svc", Identifier: "a", From: "Basic", To: "Bronze", Revision: "r2", At: at.Add(time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		f    store.LevelFilter
		want string
	}{
		{store.LevelFilter{}, "a:Bronze a:Bronze b:Gold a:Basic"},
		{store.LevelFilter{Scorecard: "quality"}, "a:Bronze b:Gold a:Basic"},
		{store.LevelFilter{Blueprint: "svc", Identifier: "a", Scorecard: "quality"}, "a:Bronze a:Basic"},
		{store.LevelFilter{Limit: 2}, "a:Bronze a:Bronze"},
		{store.LevelFilter{Before: 3}, "b:Gold a:Basic"},
	}
	for _, tt := range tests {
		got, err := s.LevelHistory(ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, c := range got {
			parts = append(parts, c.Identifier+":"+c.To)
		}
		if strings.Join(parts, " ") != tt.want {
			t.Errorf("%+v: got %v, want %s", tt.f, parts, tt.want)
		}
	}
	last, _ := s.LevelHistory(ctx, store.LevelFilter{Limit: 1})
	if last[0].From != "Basic" || last[0].Revision != "r2" || !last[0].At.Equal(at.Add(time.Hour)) {
		t.Fatalf("newest %+v", last[0])
	}
}

// testRunsClosing: the sweep finds runs whose approval request is still
// to be closed (store.Run.Closing), kept by every write.
func testRunsClosing(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	mk := func(id, status, system, ref string, finished bool) store.Run {
		r := store.Run{ID: id, Action: "deploy", Status: status, CreatedAt: t0, Approval: &store.RunApproval{System: system, Ref: ref}}
		if finished {
			r.Approval.FinishedAt = t0
		}
		return createRun(t, s, r)
	}
	mk("waiting", store.RunWaitingForApproval, "github", "1", false)
	mk("declined", store.RunDeclined, "github", "2", false)
	mk("closed", store.RunDeclined, "github", "3", true)
	mk("never opened", store.RunExpired, "http:board", "", false)
	running := mk("running", store.RunDispatched, "http:board", "c-1", false)
	ids := func() string {
		t.Helper()
		rs, err := s.Runs(ctx, store.RunFilter{Closing: true})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(runIDs(rs), ",")
	}
	if got := ids(); got != "running,declined" {
		t.Fatalf("closing runs: %s", got)
	}
	running.Approval.FinishedAt = t0
	if _, err := s.UpdateRun(ctx, running, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := ids(); got != "declined" {
		t.Fatalf("after closing one: %s", got)
	}
}
