package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/store/postgres/pgtest"
)

// TestReplicasShareOnePostgres runs two pier serve on one PostgreSQL:
// exactly one leads; the other serves what the leader applies and what
// either writes within a second; when the leader stops, the other leads
// and applies the next revision.
func TestReplicasShareOnePostgres(t *testing.T) {
	catalog := copyDir(t, "../../catalog-example")
	url := pgtest.URL(t)
	serve := func(name string) *testDaemon {
		return startDaemon(t, append(writer(t), "--repo", catalog, "--db", url, "--cache-dir", filepath.Join(t.TempDir(), name),
			"--anonymous-reads", "--leader-lease", "1s")...)
	}
	within := func(d time.Duration, what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("not within %s: %s", d, what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	health := func(td *testDaemon) any {
		code, body := td.get(t, "/v1/blueprints/service/entities/payments-api")
		if code != 200 {
			return nil
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
	leader := func(td *testDaemon) map[string]any {
		_, body := td.get(t, "/readyz")
		r, _ := body["replica"].(map[string]any)
		return r
	}

	a := serve("a")
	within(10*time.Second, "a leads", func() bool { return a.d.leads() })
	a.waitFor(t, "the example catalog", func(st map[string]any) bool { r, _ := st["lastAppliedRevision"].(string); return r != "" })
	b := serve("b")
	within(2*time.Second, "b serves a's revision", func() bool { return b.d.holder.Load().Revision == a.d.holder.Load().Revision })
	if b.d.leads() {
		t.Fatal("two replicas lead")
	}
	within(time.Second, "both say a leads", func() bool {
		ra, rb := leader(a), leader(b)
		return ra["leads"] == true && rb["leads"] == false && rb["leader"] == ra["self"] && ra["epoch"] == rb["epoch"]
	})

	// A runtime write on either replica is served by the other within a
	// second.
	patch(b, "Warning")
	within(time.Second, "b's runtime write served by a", func() bool { return health(a) == "Warning" })
	patch(a, "Critical")
	within(time.Second, "a's runtime write served by b", func() bool { return health(b) == "Critical" })

	// A revision the leader applies is served by the follower.
	edit := func(from, to string) {
		t.Helper()
		matches, _ := filepath.Glob(filepath.Join(catalog, "entities", "service", "*.cue"))
		for _, f := range matches {
			src, _ := os.ReadFile(f)
			if strings.Contains(string(src), from) {
				os.WriteFile(f, []byte(strings.Replace(string(src), from, to, 1)), 0o644)
				return
			}
		}
		t.Fatalf("no service file holds %q", from)
	}
	title := func(td *testDaemon) any {
		_, body := td.get(t, "/v1/blueprints/service/entities/payments-api")
		e, _ := body["entity"].(map[string]any)
		return e["title"]
	}
	old := title(a)
	edit(`"Payments API"`, `"Payments API v2"`)
	within(10*time.Second, "a applies the edit", func() bool { return title(a) == "Payments API v2" })
	within(time.Second, "b serves it", func() bool { return title(b) == "Payments API v2" })
	if health(b) != "Critical" {
		t.Errorf("following a revision lost the runtime value: %v", health(b))
	}

	// The leader stops (and gives its lease up): b leads, and applies.
	epoch := leader(b)["epoch"]
	a.stop()
	within(3*time.Second, "b leads", func() bool { return b.d.leads() })
	if r := leader(b); r["epoch"] == epoch {
		t.Errorf("the epoch did not move on: %v", r)
	}
	edit(`"Payments API v2"`, `"Payments API v3"`)
	b.d.reconcileNow()
	within(10*time.Second, "b applies as the new leader", func() bool { return title(b) == "Payments API v3" })
	_ = old
}
