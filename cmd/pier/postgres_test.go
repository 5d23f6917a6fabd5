package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/config"
	"github.com/pierhq/pier/internal/store/postgres/pgtest"
)

// The daemon's tests on PostgreSQL: each starts pier serve on a fresh
// database of the test binary's throwaway server (see pgtest; TestMain
// stops it).

// writer is a config file with the API client ci, acting for an
// administrator of pier, so that it may write any entity's runtime
// properties whatever the catalog's roles.
func writer(t *testing.T) []string {
	path := filepath.Join(t.TempDir(), "pier.yaml")
	cfg := "admins: pat\nclients:\n  - {clientId: ci, clientSecret: ci-secret, login: pat}\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--config", path}
}

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
		return startDaemon(t, append(writer(t), "--repo", catalog, "--db", db, "--cache-dir", filepath.Join(dir, "git"),
			"--anonymous-reads")...)
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
	t.Logf("pier migrate:\n%s", out)
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

// pgProxy stands between the daemon and the test server on a loopback
// port: down closes its listener and every connection, as a server that
// stops or restarts does, and up listens again on the same port.
type pgProxy struct {
	t      *testing.T
	addr   string // 127.0.0.1:PORT
	socket string // the server's Unix socket
	url    string // the database, through the proxy

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

func newPGProxy(t *testing.T, dbURL string) *pgProxy {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	p := &pgProxy{t: t, socket: filepath.Join(q.Get("host"), ".s.PGSQL."+q.Get("port")), conns: map[net.Conn]bool{}}
	p.addr = freeAddr(t)
	host, port, _ := net.SplitHostPort(p.addr)
	q.Set("host", host)
	q.Set("port", port)
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	p.url = u.String()
	t.Cleanup(p.down)
	return p
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (p *pgProxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("unix", p.socket)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[s] = true, true
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
}

func (p *pgProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// TestDaemonOutlivesItsDatabase: a PostgreSQL that cannot be reached at
// start is waited for, the address answering /readyz 503 with the
// reason; once it answers, the daemon starts. When it goes away while
// serving, reads keep serving the last state, writes answer 503 saying
// to try again, and once it is back writes land; nothing acknowledged
// is lost across a restart.
func TestDaemonOutlivesItsDatabase(t *testing.T) {
	proxy := newPGProxy(t, pgtest.URL(t))
	catalog, dir := copyDir(t, "../../catalog-example"), t.TempDir()
	listen := freeAddr(t)
	args := append(writer(t), "--repo", catalog, "--db", proxy.url, "--cache-dir", filepath.Join(dir, "git"), "--listen", listen,
		"--anonymous-reads", "--poll", "@every 1h")
	cfg, err := config.Parse(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(testLogWriter(t), nil))
	started := make(chan error, 1)
	var d *daemon
	go func() {
		var err error
		d, err = newDaemon(ctx, cfg, log)
		started <- err
	}()

	base := "http://" + listen
	// A listener nobody accepts on takes the connection and never answers.
	client := &http.Client{Timeout: 2 * time.Second}
	get := func(path string) (int, string, http.Header) {
		resp, err := client.Get(base + path)
		if err != nil {
			return 0, err.Error(), nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	var body string
	eventually("readyz to say what the daemon waits for", func() bool {
		var code int
		code, body, _ = get("/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "attempts")
	})
	if !strings.Contains(body, `"starting"`) || !strings.Contains(body, proxy.addr) {
		t.Errorf("readyz while waiting: %s", body)
	}
	if code, _, _ := get("/healthz"); code != 200 {
		t.Errorf("healthz while waiting: %d", code)
	}
	select {
	case err := <-started:
		t.Fatalf("newDaemon returned without its database: %v", err)
	default:
	}

	proxy.up()
	select {
	case err := <-started:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the daemon did not start once its database answered")
	}
	td := &testDaemon{d: d, url: base, cancel: cancel, done: make(chan error, 1)}
	go func() { td.done <- d.run(ctx) }()
	t.Cleanup(td.stop)
	eventually("the first reconcile", func() bool { code, _, _ := get("/readyz"); return code == 200 })

	_, tok := td.post(t, "/v1/auth/access_token", "", `{"clientId": "ci", "clientSecret": "ci-secret"}`)
	token := tok["accessToken"].(string)
	patch := func(value string) (int, string) {
		code, b := callURL(t, "PATCH", base+"/v1/blueprints/service/entities/payments-api", token, `{"properties": {"health_status": "`+value+`"}}`)
		return code, string(b)
	}
	if code, b := patch("Healthy"); code != 200 {
		t.Fatalf("PATCH with the database up: %d %s", code, b)
	}

	proxy.down()
	if code, b, _ := get("/v1/blueprints/service/entities/payments-api"); code != 200 || !strings.Contains(b, `"health_status":"Healthy"`) {
		t.Errorf("a read with the database down: %d %s", code, b)
	}
	code, b := patch("Warning")
	if code != http.StatusServiceUnavailable || !strings.Contains(b, "store_unavailable") {
		t.Errorf("a write with the database down: %d %s", code, b)
	}

	proxy.up()
	eventually("a write to land once the database is back", func() bool { code, _ := patch("Critical"); return code == 200 })
	td.stop()

	// What was acknowledged is there for the next daemon.
	startDaemon(t, args...) // on the same address
	if code, b, _ := get("/v1/blueprints/service/entities/payments-api"); code != 200 || !strings.Contains(b, `"health_status":"Critical"`) {
		t.Errorf("after a restart: %d %s", code, b)
	}
}
