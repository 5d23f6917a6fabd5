package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/store/sqlite"
	"github.com/pierhq/pier/reconciler"
)

type fixture struct {
	srv    *httptest.Server
	st     *sqlite.Store
	holder *state.Holder
	rec    *reconciler.Reconciler
	token  string
}

// newFixture reconciles catalog-example into a real SQLite file and
// serves it on loopback; with sets more server options.
func newFixture(t *testing.T, anonymous bool, with ...func(*fixture, *Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, err := loader.New(2)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, holder: state.NewHolder(), rec: reconciler.New(l, st, nil, reconciler.Options{})}
	f.holder.OnMoves = func(rev string, at time.Time, moves []state.LevelMove) {
		if err := st.RecordLevels(ctx, state.LevelChanges(rev, at, moves)); err != nil {
			t.Errorf("record levels: %v", err)
		}
	}
	f.reconcile(t, "rev1")
	opts := Options{
		State: f.holder, Store: st,
		// ci holds pier's built-in admin role: the tests of what the API does
		// are not about who may; access_test.go is.
		Auth: &Auth{Clients: []Client{{ID: "ci", Secret: "s3cret", Roles: []string{"admin"}}}, AnonymousReads: anonymous},
	}
	for _, fn := range with {
		fn(f, &opts)
	}
	f.srv = httptest.NewServer(New(opts))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) reconcile(t *testing.T, rev string) {
	t.Helper()
	res, err := f.rec.Reconcile(context.Background(), reconciler.Revision{ID: rev, FS: os.DirFS("../../catalog-example")})
	if err != nil || res.Outcome == reconciler.Failed {
		t.Fatalf("reconcile: %v %v", err, res.Diagnostics)
	}
	f.holder.Publish(state.FromResult(res))
}

func (f *fixture) do(t *testing.T, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	return f.send(t, method, path, token, rd)
}

// send makes a request with body as it is, and decodes the JSON answer.
func (f *fixture) send(t *testing.T, method, path, token string, body io.Reader) (int, map[string]any) {
	t.Helper()
	resp, b := f.raw(t, method, path, token, body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", method, path, err)
	}
	return resp.StatusCode, out
}

// raw makes a request and returns the answer, its body read.
func (f *fixture) raw(t *testing.T, method, path, token string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func (f *fixture) login(t *testing.T) string {
	t.Helper()
	code, body := f.do(t, "POST", "/v1/auth/access_token", "", map[string]string{"clientId": "ci", "clientSecret": "s3cret"})
	if code != 200 || body["accessToken"] == "" || body["tokenType"] != "Bearer" {
		t.Fatalf("token exchange: %d %v", code, body)
	}
	return body["accessToken"].(string)
}

func TestReads(t *testing.T) {
	f := newFixture(t, true)
	code, body := f.do(t, "GET", "/v1/blueprints", "", nil)
	if code != 200 || len(body["blueprints"].([]any)) != 7 || body["ok"] != true {
		t.Fatalf("blueprints: %d %v", code, body)
	}
	code, body = f.do(t, "GET", "/v1/blueprints/service", "", nil)
	if code != 200 || body["blueprint"].(map[string]any)["identifier"] != "service" {
		t.Fatalf("blueprint: %d %v", code, body)
	}

	// Pages of two, in identifier order, until there is no next.
	var ids []string
	from := ""
	for page := 0; page < 20; page++ {
		code, body = f.do(t, "GET", "/v1/blueprints/service/entities?limit=2&from="+from, "", nil)
		if code != 200 {
			t.Fatalf("page %d: %d %v", page, code, body)
		}
		for _, e := range body["entities"].([]any) {
			ids = append(ids, e.(map[string]any)["identifier"].(string))
		}
		next, ok := body["next"].(string)
		if !ok {
			break
		}
		from = next
	}
	snapIDs := f.holder.Load().IDs("service")
	if strings.Join(ids, ",") != strings.Join(snapIDs, ",") || len(ids) < 10 {
		t.Fatalf("paged ids %v, want %v", ids, snapIDs)
	}

	code, body = f.do(t, "GET", "/v1/blueprints/service/entities/payments-api", "", nil)
	if code != 200 {
		t.Fatalf("entity: %d %v", code, body)
	}
	team := body["relatedEntities"].(map[string]any)["team"].([]any)[0].(map[string]any)
	if team["identifier"] != "payments" || team["exists"] != true || team["title"] == "" {
		t.Fatalf("resolved team relation: %v", team)
	}
	if e := body["entity"].(map[string]any); e["createdAt"] == "" || e["blueprint"] != "service" {
		t.Fatalf("entity shape: %v", e)
	}

	code, body = f.do(t, "GET", "/v1/entities/service/payments-api/history", "", nil)
	if code != 200 || len(body["history"].([]any)) != 1 {
		t.Fatalf("history: %d %v", code, body)
	}

	for path, want := range map[string]int{
		"/v1/blueprints/nope":                       404,
		"/v1/blueprints/service/entities/nope":      404,
		"/v1/blueprints/nope/entities":              404,
		"/v1/nothing-here":                          404,
		"/v1/blueprints/service/entities?limit=abc": 400,
	} {
		code, body := f.do(t, "GET", path, "", nil)
		if code != want || body["ok"] != false || body["message"] == "" {
			t.Errorf("GET %s: %d %v, want %d with a JSON error", path, code, body, want)
		}
	}
	methodNotAllowed(t, f, "DELETE", "/v1/blueprints/service", "GET")
}

func TestSearch(t *testing.T) {
	f := newFixture(t, true)
	q := map[string]any{"combinator": "and", "rules": []any{
		map[string]any{"property": "$blueprint", "operator": "=", "value": "service"},
		map[string]any{"property": "lifecycle", "operator": "=", "value": "Production"},
		map[string]any{"property": "team", "operator": "=", "value": "payments"},
	}}
	code, body := f.do(t, "POST", "/v1/entities/search", "", q)
	if code != 200 {
		t.Fatalf("search: %d %v", code, body)
	}
	got := body["entities"].([]any)
	snap := f.holder.Load()
	want := 0
	for _, e := range snap.Entities["service"] {
		if e.Properties["lifecycle"] == "Production" && e.Relations["team"] == "payments" {
			want++
		}
	}
	if len(got) != want || want == 0 {
		t.Fatalf("search found %d, want %d", len(got), want)
	}
	// The same query, wrapped as Port's newer body.
	code, body = f.do(t, "POST", "/v1/entities/search", "", map[string]any{"query": q, "limit": 1})
	if code != 200 || len(body["entities"].([]any)) != 1 {
		t.Fatalf("wrapped search with limit: %d %v", code, body)
	}
	bad := map[string]any{"combinator": "and", "rules": []any{map[string]any{"property": "x", "operator": "~=", "value": 1}}}
	code, body = f.do(t, "POST", "/v1/entities/search", "", bad)
	if code != 400 || body["rule"] != "rules[0]" || !strings.Contains(body["message"].(string), "~=") {
		t.Fatalf("bad query: %d %v", code, body)
	}
}

func TestAuth(t *testing.T) {
	f := newFixture(t, false)
	if code, _ := f.do(t, "GET", "/v1/blueprints", "", nil); code != 401 {
		t.Fatalf("anonymous read without anonymous reads: %d", code)
	}
	if code, _ := f.do(t, "POST", "/v1/auth/access_token", "", map[string]string{"clientId": "ci", "clientSecret": "wrong"}); code != 401 {
		t.Fatalf("wrong secret: %d", code)
	}
	tok := f.login(t)
	if code, _ := f.do(t, "GET", "/v1/blueprints", tok, nil); code != 200 {
		t.Fatalf("read with a token: %d", code)
	}
	if code, _ := f.do(t, "GET", "/v1/blueprints", tok+"x", nil); code != 401 {
		t.Fatalf("read with a forged token: %d", code)
	}
	if code, _ := f.do(t, "GET", "/healthz", "", nil); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	if code, _ := f.do(t, "GET", "/readyz", "", nil); code != 200 {
		t.Fatalf("readyz: %d", code)
	}
}

func TestRuntimePropertiesThroughTheAPI(t *testing.T) {
	f := newFixture(t, true)
	path := "/v1/blueprints/service/entities/payments-api"
	patch := map[string]any{"properties": map[string]any{"health_status": "Healthy", "last_deployment": "2026-11-22T10:00:00Z"}}

	if code, body := f.do(t, "PATCH", path, "", patch); code != 401 {
		t.Fatalf("unauthenticated write: %d %v", code, body)
	}
	tok := f.login(t)
	code, body := f.do(t, "PATCH", path, tok, patch)
	if code != 200 || body["entity"].(map[string]any)["properties"].(map[string]any)["health_status"] != "Healthy" {
		t.Fatalf("patch: %d %v", code, body)
	}
	if e := body["entity"].(map[string]any); e["updatedBy"] != "ci" {
		t.Fatalf("updatedBy: %v", e["updatedBy"])
	}

	// Port's upsert with merge, sending a git-owned value unchanged.
	up := map[string]any{"identifier": "payments-api", "title": "Payments API", "properties": map[string]any{"health_status": "Warning"}}
	code, body = f.do(t, "POST", "/v1/blueprints/service/entities?upsert=true&merge=true", tok, up)
	if code != 201 {
		t.Fatalf("upsert: %d %v", code, body)
	}
	props := body["entity"].(map[string]any)["properties"].(map[string]any)
	if props["health_status"] != "Warning" || props["last_deployment"] != "2026-11-22T10:00:00Z" {
		t.Fatalf("merge lost a value: %v", props)
	}

	// A git-owned property is refused, naming the file that owns it.
	code, body = f.do(t, "PATCH", path, tok, map[string]any{"properties": map[string]any{"lifecycle": "Deprecated"}})
	if code != 409 || body["file"] != "entities/service/payments-api.cue" || !strings.Contains(body["message"].(string), "entities/service/payments-api.cue:") {
		t.Fatalf("git-owned write: %d %v", code, body)
	}
	// A bad value is refused with the field named.
	code, body = f.do(t, "PATCH", path, tok, map[string]any{"properties": map[string]any{"health_status": "Fine"}})
	if code != 422 || body["field"] != "properties.health_status" || !strings.Contains(body["message"].(string), "must be one of") {
		t.Fatalf("invalid runtime value: %d %v", code, body)
	}
	// Entities come from git.
	if code, _ := f.do(t, "PATCH", "/v1/blueprints/service/entities/ghost", tok, patch); code != 404 {
		t.Fatalf("write to a missing entity: %d", code)
	}

	// The runtime value survives a reconcile, in the store and the state.
	f.reconcile(t, "rev2")
	if e := f.holder.Load().Entity("service", "payments-api"); e.Properties["health_status"] != "Warning" {
		t.Fatalf("runtime value lost by reconcile: %v", e.Properties["health_status"])
	}
	rts, err := f.st.Runtimes(context.Background())
	if err != nil || len(rts) != 1 {
		t.Fatalf("stored runtimes: %v %v", rts, err)
	}
	restored := state.NewHolder()
	st, _ := f.st.State(context.Background())
	if err := restored.Restore(st, rts, time.Now()); err != nil {
		t.Fatal(err)
	}
	if e := restored.Load().Entity("service", "payments-api"); e.Properties["health_status"] != "Warning" || e.Properties["lifecycle"] == nil {
		t.Fatalf("restored entity: %v", e.Properties)
	}

	code, body = f.do(t, "GET", "/v1/audit-log", "", nil)
	entries := body["entries"].([]any)
	if code != 200 || len(entries) < 5 {
		t.Fatalf("audit log: %d %v", code, body)
	}
	last := entries[0].(map[string]any)
	if last["actor"] != "ci" || last["action"] != "PATCH /v1/blueprints/{bp}/entities/{id}" || last["status"].(float64) != 404 {
		t.Fatalf("newest audit entry: %v", last)
	}
}

func TestScorecards(t *testing.T) {
	f := newFixture(t, true)
	code, body := f.do(t, "GET", "/v1/scorecards/production_readiness", "", nil)
	if code != 200 {
		t.Fatalf("scorecard: %d %v", code, body)
	}
	levels := map[string]float64{}
	for _, l := range body["summary"].(map[string]any)["levels"].([]any) {
		lm := l.(map[string]any)
		levels[lm["title"].(string)] = lm["entities"].(float64)
	}
	// catalog-example's expected spread (checked by hand when it was written).
	if levels["Gold"] != 5 || levels["Silver"] != 1 || levels["Bronze"] != 5 || levels["Basic"] != 1 {
		t.Fatalf("production_readiness levels: %v", levels)
	}
	code, body = f.do(t, "GET", "/v1/blueprints/service/entities/payments-api/scorecards", "", nil)
	if code != 200 || body["scorecards"].(map[string]any)["security_compliance"] == nil {
		t.Fatalf("entity scorecards: %d %v", code, body)
	}
	// Every rule's outcome is spelled out, in the scorecard's order, and
	// agrees with the level.
	sec := body["scorecards"].(map[string]any)["security_compliance"].(map[string]any)
	var ids []string
	passedAll := true
	for _, r := range sec["rules"].([]any) {
		rm := r.(map[string]any)
		ids = append(ids, rm["identifier"].(string)+"@"+rm["level"].(string))
		switch rm["status"] {
		case "SUCCESS":
		case "FAILURE":
			passedAll = false
		default:
			t.Fatalf("rule status %v", rm)
		}
	}
	if want := "vulnerability_scan@Bronze secrets_management@Silver security_review@Gold"; strings.Join(ids, " ") != want {
		t.Fatalf("rules %v, want %s", ids, want)
	}
	if passedAll != (sec["level"] == "Gold") || sec["levelIndex"] == nil {
		t.Fatalf("level %v with rules %v", sec["level"], sec["rules"])
	}
	// The history has every entity's first level, and follows a runtime
	// write that changes one.
	code, body = f.do(t, "GET", "/v1/scorecards/production_readiness/history?limit=1000", "", nil)
	if code != 200 || len(body["history"].([]any)) != 12 {
		t.Fatalf("history: %d, %v", code, body)
	}
	first := body["history"].([]any)[0].(map[string]any)
	if first["from"] != "" || first["revision"] != "rev1" || first["to"] == "" {
		t.Fatalf("first level %v", first)
	}
	// An unknown scorecard's history is refused as the scorecard is.
	for _, path := range []string{"/v1/scorecards/nope", "/v1/scorecards/nope/history"} {
		if code, body = f.do(t, "GET", path, "", nil); code != 404 || body["error"] != "scorecard_not_found" || body["message"] != `no scorecard "nope"` {
			t.Fatalf("%s: %d %v", path, code, body)
		}
	}
	// $scorecard in search agrees with the summary.
	q := map[string]any{"combinator": "and", "rules": []any{
		map[string]any{"property": "$scorecard.production_readiness.level", "operator": "=", "value": "Gold"},
	}}
	code, body = f.do(t, "POST", "/v1/entities/search", "", q)
	if code != 200 || len(body["entities"].([]any)) != 5 {
		t.Fatalf("search by scorecard level: %d, %d entities", code, len(body["entities"].([]any)))
	}
}

// methodNotAllowed checks that a known path answers another method with
// a JSON 405 naming the methods it takes.
func methodNotAllowed(t *testing.T, f *fixture, method, path, allow string) {
	t.Helper()
	code, body := f.do(t, method, path, "", nil)
	if msg, _ := body["message"].(string); code != 405 || body["ok"] != false || !strings.HasSuffix(msg, "allowed methods are "+allow) {
		t.Errorf("%s %s: %d %v, want 405 allowing %s", method, path, code, body, allow)
	}
}

// TestUncleanPaths: a path with "." or ".." segments or doubled slashes
// is a JSON 400 naming the clean path, not the mux's redirect with an
// HTML body, whatever the route and method.
func TestUncleanPaths(t *testing.T) {
	f := newFixture(t, true)
	for _, tt := range []struct{ method, path, clean string }{
		{"GET", "/v1/blueprints/../status", "/v1/status"},
		{"GET", "/v1/blueprints/%2e%2e/status", "/v1/status"},
		{"GET", "/v1//blueprints", "/v1/blueprints"},
		{"GET", "/v1/./blueprints/", "/v1/blueprints/"},
		{"PATCH", "/v1/blueprints/service/entities/../entities/payments-api", "/v1/blueprints/service/entities/payments-api"},
		{"GET", "/../metrics", "/metrics"},
	} {
		code, body := f.send(t, tt.method, tt.path, "", nil)
		if msg, _ := body["message"].(string); code != http.StatusBadRequest || body["error"] != "invalid_path" || !strings.HasSuffix(msg, "the clean path is "+tt.clean) {
			t.Errorf("%s %s: %d %v, want a 400 naming %s", tt.method, tt.path, code, body, tt.clean)
		}
	}
}

// unreachable is a store whose database went away: every call fails as
// store.ErrUnavailable.
type unreachable struct{ Store }

var errGone = fmt.Errorf("postgres at db:5432/pier as pier: %w: connection refused", store.ErrUnavailable)

func (unreachable) SetRuntime(context.Context, store.Runtime) error { return errGone }
func (unreachable) History(context.Context, string, string) ([]store.HistoryEntry, error) {
	return nil, errGone
}
func (unreachable) AuditLog(context.Context, int, int64) ([]store.AuditEntry, error) {
	return nil, errGone
}

// TestStoreUnavailable: while the store cannot be reached, what needs it
// answers 503 with Retry-After and says why, and what the state in memory
// holds keeps serving.
func TestStoreUnavailable(t *testing.T) {
	f := newFixture(t, true, func(f *fixture, o *Options) { o.Store = unreachable{f.st} })
	_, tok := f.do(t, "POST", "/v1/auth/access_token", "", map[string]any{"clientId": "ci", "clientSecret": "s3cret"})
	token := tok["accessToken"].(string)
	for _, tt := range []struct{ method, path string }{
		{"PATCH", "/v1/blueprints/service/entities/payments-api"},
		{"GET", "/v1/entities/service/payments-api/history"},
		{"GET", "/v1/audit-log"},
	} {
		var body any
		if tt.method == "PATCH" {
			body = map[string]any{"properties": map[string]any{"health_status": "Healthy"}}
		}
		resp, b := f.raw(t, tt.method, tt.path, token, bytes.NewReader(mustJSON(body)))
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "store_unavailable") || !strings.Contains(string(b), "connection refused") {
			t.Errorf("%s %s: %d (Retry-After %q) %s", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Retry-After"), b)
		}
	}
	if code, body := f.do(t, "GET", "/v1/blueprints/service/entities/payments-api", "", nil); code != 200 {
		t.Errorf("a read from memory while the store is away: %d %v", code, body)
	}
}
