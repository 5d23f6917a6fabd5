package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/store/postgres/pgtest"
)

// The daemon's tests on PostgreSQL: each starts pier serve on a fresh
// database of the test binary's throwaway server (see pgtest).

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestMigrateThenServeOnPostgres is the move of issue 16: a pier on SQLite
// serves the example catalog and takes a runtime write; pier migrate
// copies its store into PostgreSQL; pier on PostgreSQL serves the same
// state before it reconciles, the runtime value included, takes another
// write and keeps it across a restart. A second copy into the same
// database is refused.
func TestMigrateThenServeOnPostgres(t *testing.T) {
	catalog := copyDir(t, "../../catalog-example")
	dir := t.TempDir()
	file, url := filepath.Join(dir, "pier.db"), pgtest.URL(t)
	serve := func(db string) *testDaemon {
		return startDaemon(t, "--repo", catalog, "--db", db, "--cache-dir", filepath.Join(dir, "git"),
			"--anonymous-reads", "--client-id", "ci", "--client-secret", "ci-secret")
	}
	health := func(td *testDaemon) any {
		t.Helper()
		code, body := td.get(t, "/v1/blueprints/service/entities/payments-api")
		if code != 200 {
			t.Fatalf("payments-api: %d %v", code, body)
		}
		return body["entity"].(map[string]any)["properties"].(map[string]any)["health_status"]
	}
	patch := func(td *testDaemon, value string) {
		t.Helper()
		_, tok := td.post(t, "/v1/auth/access_token", "", `{"clientId": "ci", "clientSecret": "ci-secret"}`)
		code, b := callURL(t, "PATCH", td.url+"/v1/blueprints/service/entities/payments-api", tok["accessToken"].(string),
			`{"properties": {"health_status": "`+value+`"}}`)
		if code != 200 {
			t.Fatalf("PATCH health_status: %d %s", code, b)
		}
	}

	td := serve(file)
	td.waitFor(t, "the example catalog", func(st map[string]any) bool { r, _ := st["lastAppliedRevision"].(string); return r != "" })
	patch(td, "Warning")
	revision := td.status(t)["lastAppliedRevision"]
	td.stop()

	code, out, errOut := runCLI(t, "migrate", "--from", file, "--to", url)
	if code != 0 {
		t.Fatalf("pier migrate: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"objects ", "revisions ", "runtime_properties   1", "audit_log "} {
		if !strings.Contains(out, want) {
			t.Errorf("pier migrate's report lacks %q:\n%s", want, out)
		}
	}
	// The target holds something now: a second copy would mix stores.
	if code, _, errOut := runCLI(t, "migrate", "--from", file, "--to", url); code != 1 || !strings.Contains(errOut, "not empty: it holds") {
		t.Errorf("a second pier migrate into the same database: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "migrate", "--from", filepath.Join(dir, "nope.db"), "--to", pgtest.URL(t)); code != 1 || !strings.Contains(errOut, "no SQLite store at") {
		t.Errorf("pier migrate from a file that does not exist: exit %d, %s", code, errOut)
	}

	td = serve(url)
	if snap := td.d.holder.Load(); snap.Revision != revision || snap.EntityCount() == 0 {
		t.Fatalf("on PostgreSQL the restored state is revision %s with %d entities, want %v", snap.Revision, snap.EntityCount(), revision)
	}
	if got := health(td); got != "Warning" {
		t.Fatalf("health_status after the move: %v", got)
	}
	patch(td, "Healthy")
	td.stop()
	td = serve(url)
	if got := health(td); got != "Healthy" {
		t.Fatalf("health_status after a restart on PostgreSQL: %v", got)
	}
	// The audit log holds both writes, numbered on from the copy.
	_, body := td.get(t, "/v1/audit-log")
	var writes []string
	for _, e := range body["entries"].([]any) {
		if e := e.(map[string]any); strings.HasSuffix(fmt.Sprint(e["resource"]), "/payments-api") && e["status"] == 200.0 {
			writes = append(writes, fmt.Sprint(e["id"]))
		}
	}
	if strings.Join(writes, " ") != "2 1" {
		js, _ := json.Marshal(body)
		t.Errorf("the audit log's writes of payments-api, newest first: ids %q, want 2 1\n%s", writes, js)
	}
}

// TestDaemonFollowsARepositoryOnPostgres runs the daemon's end-to-end
// test on PostgreSQL.
func TestDaemonFollowsARepositoryOnPostgres(t *testing.T) {
	testDaemonFollowsARepository(t, func(string) string { return pgtest.URL(t) })
}
