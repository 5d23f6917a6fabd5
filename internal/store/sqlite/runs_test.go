package sqlite_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/store/sqlite"
)

func createRun(t *testing.T, s *sqlite.Store, r store.Run) store.Run {
	t.Helper()
	got, created, err := s.CreateRun(context.Background(), r, store.RunEvent{At: r.CreatedAt, Actor: "alice", To: r.Status}, nil)
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

// TestRunsQueryPlans checks that the hot paths use their indexes and need
// no sort.
func TestRunsQueryPlans(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	tests := []struct {
		f     store.RunFilter
		index string
	}{
		{store.RunFilter{}, "runs_created"},
		{store.RunFilter{Active: true}, "runs_active"},
		{store.RunFilter{Active: true, Before: "x"}, "runs_active"},
		{store.RunFilter{ApprovalSystem: "github", ApprovalRef: "7"}, "runs_approval"},
		{store.RunFilter{WorkflowRunID: 9}, "runs_workflow_run"},
		{store.RunFilter{Action: "deploy"}, "runs_action"},
		{store.RunFilter{Action: "deploy", Before: "x"}, "runs_action"},
		{store.RunFilter{Entity: "api"}, "runs_entity"},
	}
	for _, tt := range tests {
		plan, err := s.RunsQueryPlan(ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(strings.Fields(plan), tt.index) {
			t.Errorf("Runs(%+v) does not use %s:\n%s", tt.f, tt.index, plan)
		}
		// One run at most carries an approval ref or a workflow run id.
		if tt.f.ApprovalRef == "" && tt.f.WorkflowRunID == 0 && strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("Runs(%+v) sorts:\n%s", tt.f, plan)
		}
	}
}

func TestRunsMigrateFromVersion4(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pier.db")
	if err := sqlite.CreateAtVersion(ctx, path, 4); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	if _, err := db.Exec(`INSERT INTO timer_expiries VALUES ('env', 'pr-1', 'ttl', '2026-01-01T00:00:00Z', '')`); err != nil {
		t.Fatal(err) // a version 4 table, with a row to keep
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'runs'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the version 4 database has a runs table (%d, %v)", n, err)
	}

	s := open(t, path)
	createRun(t, s, store.Run{ID: "r1", Action: "deploy", Status: store.RunApproved, CreatedAt: t0})
	if got, err := s.Runs(ctx, store.RunFilter{Active: true}); err != nil || len(got) != 1 {
		t.Errorf("Runs after migration = %v, %v", runIDs(got), err)
	}
	var v int
	if err := db.QueryRow(`SELECT max(version), (SELECT count(*) FROM timer_expiries) FROM schema_version`).Scan(&v, &n); err != nil || v < 5 || n != 1 {
		t.Errorf("after migration: version %d, %d timer expiries, %v; want at least 5, 1", v, n, err)
	}
}

// TestRunsClosing: migration 8 fills the closing column in for runs a
// version 7 pier stored, and the closing runs are read through their
// partial index (the contract suite checks that writes keep the column).
func TestRunsClosing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pier.db")
	if err := sqlite.CreateAtVersion(ctx, path, 7); err != nil {
		t.Fatal(err)
	}
	// Runs a version 7 pier left: declined with its pull request still
	// open, declined and closed, approved in pier itself.
	db := rawDB(t, path)
	for _, r := range []struct{ id, status, system, ref, json string }{
		{"old-open", "DECLINED", "github", "4", `{"approval": {"system": "github", "ref": "4"}}`},
		{"old-closed", "DECLINED", "github", "5", `{"approval": {"system": "github", "ref": "5", "finishedAt": "2026-01-01T00:00:00Z"}}`},
		{"old-in-app", "SUCCESS", "pier", "old-in-app", `{"approval": {"system": "pier", "ref": "old-in-app"}}`},
	} {
		js := strings.Replace(r.json, "{", `{"id": "`+r.id+`", "action": "deploy", "status": "`+r.status+`", "createdAt": "2025-01-01T00:00:00Z", `, 1)
		if _, err := db.Exec(`INSERT INTO runs (id, action, status, approval_system, approval_ref, created_at, version, json)
			VALUES (?, 'deploy', ?, ?, ?, '2025-01-01T00:00:00Z', 1, ?)`, r.id, r.status, r.system, r.ref, js); err != nil {
			t.Fatal(err)
		}
	}

	s := open(t, path)
	rs, err := s.Runs(ctx, store.RunFilter{Closing: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(runIDs(rs), ","); got != "old-open" {
		t.Fatalf("closing runs: %s", got)
	}
	plan, err := s.RunsQueryPlan(ctx, store.RunFilter{Closing: true})
	if err != nil || !strings.Contains(plan, "runs_closing") {
		t.Errorf("plan %q, %v", plan, err)
	}
}
