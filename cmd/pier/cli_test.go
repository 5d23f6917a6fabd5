package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/client"
)

// cliEnv is the runs environment with two API clients, alice (who asks
// for runs) and pat (a platform lead, who approves them in pier), and a
// CLI config file of its own.
type cliEnv struct {
	*runsEnv
	config string // the CLI's config file
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	e := newRunsFixture(t, signInCatalog, "--runs-poll", "@every 1s")
	clients := "clients:\n" +
		"  - clientId: alice\n    clientSecret: " + runsClientSecret + "\n    login: alice\n" +
		"  - clientId: pat\n    clientSecret: pat-secret\n    login: pat\n"
	if err := os.WriteFile(e.config, []byte(clients), 0o600); err != nil {
		t.Fatal(err)
	}
	e.fake.RequireToken("ghs_runs")
	e.auth = []string{"--github-token", "ghs_runs"}
	e.start()
	c := &cliEnv{runsEnv: e, config: filepath.Join(t.TempDir(), "pier", "config")}
	t.Setenv("PIER_CLI_CONFIG", c.config)
	for _, k := range []string{"PIER_URL", "PIER_CONTEXT", "PIER_API_CLIENT_ID", "PIER_API_CLIENT_SECRET"} {
		t.Setenv(k, "")
	}
	return c
}

// pier runs the CLI in process; stdin is empty.
func (c *cliEnv) pier(args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	code := run(c.t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func (c *cliEnv) login(context, id, secret string) {
	c.t.Helper()
	c.t.Setenv("PIER_API_CLIENT_SECRET", secret)
	defer c.t.Setenv("PIER_API_CLIENT_SECRET", "")
	code, out, errb := c.pier("login", "--server", c.td.url, "--context", context, "--client-id", id)
	if code != 0 || !strings.Contains(out, "logged in to "+c.td.url+" as "+id+" (context "+context) {
		c.t.Fatalf("login %s: exit %d\n%s%s", id, code, out, errb)
	}
}

// A person requests, follows, approves and inspects a run with the CLI
// alone; every step is the API's, with its permission checks.
func TestCLIRequestApproveFollow(t *testing.T) {
	c := newCLIEnv(t)

	// A wrong secret is refused and saves nothing.
	t.Setenv("PIER_API_CLIENT_SECRET", "wrong")
	code, _, errb := c.pier("login", "--server", c.td.url, "--client-id", "alice")
	if code != 1 || !strings.Contains(errb, "log in as alice: Unauthorized") {
		t.Fatalf("wrong secret: exit %d, %s", code, errb)
	}
	if _, err := os.Stat(c.config); !os.IsNotExist(err) {
		t.Fatalf("a refused login wrote the config file: %v", err)
	}
	c.login("lead", "pat", "pat-secret")
	c.login("dev", "alice", runsClientSecret)
	if fi, err := os.Stat(c.config); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", fi.Mode(), err)
	}
	code, out, _ := c.pier("context")
	if code != 0 || !strings.Contains(out, "*         dev ") || !strings.Contains(out, "lead") {
		t.Fatalf("contexts: exit %d\n%s", code, out)
	}

	// A cached token the server refuses (revoked, or a server that
	// forgot it) is replaced by logging in again, once.
	b, _ := os.ReadFile(c.config)
	cfg := string(b)
	i := strings.Index(cfg, "name: dev")
	j := i + strings.Index(cfg[i:], "token: ") + len("token: ")
	k := j + strings.Index(cfg[j:], "\n")
	os.WriteFile(c.config, []byte(cfg[:j]+"forgotten"+cfg[k:]), 0o600)
	if code, out, errb := c.pier("get", "blueprints"); code != 0 || !strings.Contains(out, "environment") {
		t.Fatalf("with a refused token: exit %d\n%s%s", code, out, errb)
	}
	if b, _ := os.ReadFile(c.config); strings.Contains(string(b), "forgotten") {
		t.Fatalf("the refused token stayed in the config file:\n%s", b)
	}

	// Reading: tables, one object as YAML, filters.
	code, out, errb = c.pier("get", "blueprints")
	if code != 0 || !strings.Contains(out, "IDENTIFIER") || !strings.Contains(out, "environment") {
		t.Fatalf("get blueprints: exit %d\n%s%s", code, out, errb)
	}
	code, out, _ = c.pier("get", "entities", "environment", "preview-42", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "identifier: preview-42") || !strings.Contains(out, "type: ephemeral") {
		t.Fatalf("get entity -o yaml: exit %d\n%s", code, out)
	}
	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"--where", "type=ephemeral"}, 1},
		{[]string{"--where", "type=production"}, 0},
		{[]string{"--query", `{"property":"type","operator":"!=","value":"ephemeral"}`}, 0},
		{nil, 1},
	} {
		code, out, errb := c.pier(append([]string{"get", "entities", "environment", "-o", "json"}, tt.args...)...)
		var list []map[string]any
		if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != tt.want {
			t.Errorf("get entities %v: exit %d, %d entities, want %d (%v)\n%s%s", tt.args, code, len(list), tt.want, err, out, errb)
		}
	}
	code, _, errb = c.pier("get", "entities", "nope")
	if code != 1 || !strings.Contains(errb, `no blueprint "nope"`) {
		t.Fatalf("unknown blueprint: exit %d, %s", code, errb)
	}

	// alice asks; she may not approve her own run; pat may.
	code, out, errb = c.pier("run", "restart_preview", "--entity", "preview-42")
	if code != 0 || !strings.Contains(out, "WAITING_FOR_APPROVAL") {
		t.Fatalf("run: exit %d\n%s%s", code, out, errb)
	}
	id := strings.Fields(out)[1]
	code, out, _ = c.pier("get", "runs", "--status", "WAITING_FOR_APPROVAL")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "restart_preview") || !strings.Contains(out, "alice") {
		t.Fatalf("get runs: exit %d\n%s", code, out)
	}
	code, _, errb = c.pier("approve", id)
	if code != 1 || !strings.Contains(errb, "Forbidden") || !strings.Contains(errb, "alice requested") {
		t.Fatalf("alice approving her own run: exit %d, %s", code, errb)
	}
	if got := c.run(id)["status"]; got != "WAITING_FOR_APPROVAL" {
		t.Fatalf("a refused approval moved the run to %v", got)
	}
	code, out, errb = c.pier("approve", id, "--context", "lead", "--reason", "fine")
	if code != 0 || !strings.Contains(out, "run "+id+": ") {
		t.Fatalf("pat approving: exit %d\n%s%s", code, out, errb)
	}
	c.waitStatus(id, "DISPATCHED")

	// The workflow logs and finishes; runs logs -f prints every line and
	// ends with the run.
	if code, body := c.call("POST", "/v1/actions/runs/"+id+"/logs", c.token, map[string]any{"message": "restarting preview-42"}); code != 201 {
		t.Fatalf("log: %d %v", code, body)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		c.call("POST", "/v1/actions/runs/"+id+"/logs", c.token, map[string]any{"message": "done", "terminationStatus": "SUCCESS"})
	}()
	code, out, errb = c.pier("runs", "logs", id, "-f", "--interval", "100ms")
	if code != 0 || out != "restarting preview-42\ndone\n" || !strings.Contains(errb, "SUCCESS") {
		t.Fatalf("runs logs -f: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errb)
	}
	code, out, _ = c.pier("runs", "show", id)
	for _, want := range []string{"run " + id + " of restart_preview on environment/preview-42: SUCCESS", "requested by alice", "approved by pat"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("runs show lacks %q: exit %d\n%s", want, code, out)
		}
	}
	code, out, errb = c.pier("describe", "entity", "environment/preview-42")
	for _, want := range []string{"entity:     environment/preview-42", "properties:\n  type   ephemeral   git catalog.cue:6:50\n", "recent runs:\n  " + id + "   restart_preview   SUCCESS   alice"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("describe lacks %q: exit %d\n%s%s", want, code, out, errb)
		}
	}
	if code, _, errb = c.pier("describe", "entity", "environment/nope"); code != 1 || !strings.Contains(errb, `no environment entity "nope"`) {
		t.Errorf("describe of nothing: exit %d, %s", code, errb)
	}
	code, out, _ = c.pier("runs")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "SUCCESS") {
		t.Fatalf("runs: exit %d\n%s", code, out)
	}

	// pier diff --server: the work tree's edit against what pier applied,
	// which a local commit after it does not change.
	c.repo.git(c.repo.work, "commit", "-q", "--allow-empty", "-m", "local only")
	more := filepath.Join(c.repo.work, "more.cue")
	os.WriteFile(more, []byte(`entities: environment: "preview-43": properties: type: "ephemeral"`+"\n"), 0o644)
	code, out, errb = c.pier("diff", "--repo", c.repo.work, "--server")
	if code != 0 || !strings.Contains(out, "+ entity environment/preview-43") || !strings.Contains(out, "Plan: 1 to create, 0 to update, 0 to delete.") {
		t.Fatalf("diff --server: exit %d\n%s%s", code, out, errb)
	}
	os.Remove(more)

	// runs --watch prints a run once per change, until interrupted.
	ctx, cancel := context.WithTimeout(t.Context(), 600*time.Millisecond)
	var wout, werr bytes.Buffer
	code = run(ctx, []string{"runs", "--watch", "--interval", "100ms"}, &wout, &werr)
	cancel()
	if code != 0 || strings.Count(wout.String(), id) != 1 || !strings.Contains(wout.String(), "SUCCESS") {
		t.Fatalf("runs --watch: exit %d\n%s%s", code, wout.String(), werr.String())
	}

	// Status: the applied revision, Ready.
	code, out, errb = c.pier("status")
	if code != 0 || !strings.Contains(out, "applied:   "+c.repo.lastPushSHA) || !strings.Contains(out, "Ready") {
		t.Fatalf("status: exit %d\n%s%s", code, out, errb)
	}
}

// A refused revision: pier status names each error at its position and
// exits 1, while the last good revision keeps serving.
func TestCLIStatusOfARefusedRevision(t *testing.T) {
	c := newCLIEnv(t)
	good := c.repo.lastPushSHA
	bad := c.repo.commit("break", map[string]string{"more.cue": "entities: environment: \"preview-43\": properties: type: \"staging\"\n"})
	c.td.push(t, bad, runsWebhookSecret)
	c.td.waitFor(t, "the bad revision", func(st map[string]any) bool { return st["lastAttemptedRevision"] == bad })
	code, out, errb := c.pier("status", "--server", c.td.url)
	for _, want := range []string{"applied:   " + good, "attempted: " + bad, "Ready", "False", "more.cue:1:", `"preview-43".properties.type`} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("status lacks %q: exit %d\n%s%s", want, code, out, errb)
		}
	}
}

// Every client command keeps one convention: --help on stdout, exit 0;
// a usage error is one line and a pointer to --help, exit 2.
func TestCLIHelpAndUsageErrors(t *testing.T) {
	for _, cmd := range [][]string{{"login"}, {"context"}, {"get"}, {"runs"}, {"runs", "logs"}, {"runs", "show"}, {"approve"}, {"decline"}, {"status"}, {"run"}, {"describe"}, {"diff"}, {"serve"}, {"validate"}, {"schema"}, {"receive"}, {"migrate"}} {
		name := strings.Join(cmd, " ")
		code, out, errb := runCLI(t, append(cmd, "--help")...)
		if code != 0 || !strings.HasPrefix(out, "usage: pier ") || errb != "" {
			t.Errorf("pier %s --help: exit %d, stderr %q\n%s", name, code, errb, out)
		}
		code, out, errb = runCLI(t, append(cmd, "--bogus")...)
		lines := strings.Split(strings.TrimSuffix(errb, "\n"), "\n")
		if code != 2 || out != "" || len(lines) != 2 || !strings.Contains(lines[0], "flag provided but not defined: -bogus") || lines[1] != "run 'pier "+name+" --help' for usage" {
			t.Errorf("pier %s --bogus: exit %d\nstdout %q\nstderr:\n%s", name, code, out, errb)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"get"}, "which kind?"},
		{[]string{"get", "pods"}, `unknown kind "pods"`},
		{[]string{"get", "entities"}, "entities of which blueprint?"},
		{[]string{"get", "blueprints", "-o", "xml"}, `-o "xml"`},
		{[]string{"decline", "r_1"}, "--reason is required"},
		{[]string{"approve"}, "want one run id"},
		{[]string{"login"}, "--client-id is required"},
		{[]string{"describe", "entity", "x"}, "want describe entity BLUEPRINT/ID"},
	} {
		code, _, errb := runCLI(t, tt.args...)
		if code != 2 || !strings.Contains(errb, tt.want) || strings.Count(errb, "\n") != 2 {
			t.Errorf("pier %v: exit %d, want 2 and %q in one line:\n%s", tt.args, code, tt.want, errb)
		}
	}
}

func TestCompletionAndVersion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		code, out, errb := runCLI(t, "completion", sh)
		if code != 0 || !strings.Contains(out, "approve") || !strings.Contains(out, "scorecards") {
			t.Errorf("completion %s: exit %d, %s\n%s", sh, code, errb, out)
		}
	}
	if code, _, _ := runCLI(t, "completion", "tcsh"); code != 2 {
		t.Errorf("completion tcsh: exit %d", code)
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		_, script, _ := runCLI(t, "completion", "bash")
		cmd := exec.Command(bash, "-c", script+`
COMP_WORDS=(pier get sc); COMP_CWORD=2; _pier; echo "${COMPREPLY[@]}"
COMP_WORDS=(pier de); COMP_CWORD=1; _pier; echo "${COMPREPLY[@]}"`)
		out, err := cmd.CombinedOutput()
		if err != nil || string(out) != "scorecards\ndescribe decline\n" {
			t.Errorf("bash completion: %v\n%s", err, out)
		}
	}
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "pier ") || strings.TrimSpace(out) == "pier dev" || !strings.Contains(out, "go1.") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

// The CLI reads what the API lets its client read, and no more: on the
// example catalog with its roles, marco's client gets the API's 403 for
// the daemon's status and sees only the runs and entities his roles
// allow, where pat (an admin) sees everything.
func TestCLIReadsThroughThePermissionCheck(t *testing.T) {
	dir := copyDir(t, "../../catalog-example")
	td := startDaemon(t, "--repo", dir, "--db", filepath.Join(t.TempDir(), "pier.db"), "--config", "../../dev/pier.yaml", "--anonymous-reads=false")
	t.Setenv("PIER_CLI_CONFIG", filepath.Join(t.TempDir(), "config"))
	t.Setenv("PIER_URL", td.url)
	t.Setenv("PIER_CONTEXT", "")
	t.Setenv("PIER_API_CLIENT_ID", "")
	t.Setenv("PIER_API_CLIENT_SECRET", "")

	// Without credentials: the API's 401, said as such.
	code, _, errb := runCLI(t, "get", "blueprints")
	if code != 1 || !strings.Contains(errb, "Unauthorized") {
		t.Fatalf("anonymous get: exit %d, %s", code, errb)
	}
	for _, who := range []struct{ id, secret, ctx string }{{"pier-dev", "pier-dev-secret", "marco"}, {"platform-lead", "platform-lead-secret", "pat"}} {
		t.Setenv("PIER_API_CLIENT_SECRET", who.secret)
		if code, out, errb := runCLI(t, "login", "--client-id", who.id, "--context", who.ctx); code != 0 {
			t.Fatalf("login %s: exit %d\n%s%s", who.id, code, out, errb)
		}
	}
	t.Setenv("PIER_API_CLIENT_SECRET", "")
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, out, errb := runCLI(t, "status", "--context", "pat")
		if code == 0 && strings.Contains(out, "Ready") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pat's status: exit %d\n%s%s", code, out, errb)
		}
	}
	code, _, errb = runCLI(t, "status", "--context", "marco")
	if code != 1 || !strings.Contains(errb, "Forbidden: marco may not read") {
		t.Fatalf("marco's status: exit %d, %s", code, errb)
	}
	count := func(ctx string) int {
		code, out, errb := runCLI(t, "get", "entities", "cloud_resource", "-o", "json", "--context", ctx)
		var list []any
		if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil {
			t.Fatalf("%s: get entities: exit %d, %v\n%s", ctx, code, err, errb)
		}
		return len(list)
	}
	if m, p := count("marco"), count("pat"); m == 0 || m >= p {
		t.Errorf("marco reads %d cloud resources, pat %d: want marco fewer, by his roles", m, p)
	}

	// A write of a property git owns: the 409 names the property's own
	// line, not the entity's (line 12).
	cl := client.New(td.url)
	if err := cl.Login(t.Context(), "pier-dev", "pier-dev-secret"); err != nil {
		t.Fatal(err)
	}
	err := cl.Do(t.Context(), "PATCH", "/v1/blueprints/service/entities/payments-api", map[string]any{"properties": map[string]any{"lifecycle": "Deprecated"}}, nil)
	if ae, ok := errors.AsType[*client.Error](err); !ok || ae.Status != 409 || !strings.Contains(ae.Message, "entities/service/payments-api.cue:17:") {
		t.Errorf("git-owned write: %v", err)
	}
}
