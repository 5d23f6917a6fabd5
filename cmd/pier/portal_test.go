package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// portalCatalog is the catalog of the browser tests: teams mapped to
// GitHub teams, services (one titled like markup), environments to pick,
// and an action whose form has an entity picker and a field shown only
// for production, approved in pier by pat.
const portalCatalog = `
blueprints: team: {title: "Team", schema: properties: github_team: {type: "string"}}
blueprints: environment: {title: "Environment", schema: properties: region: {type: "string"}}
blueprints: service: {
	title: "Service"
	schema: properties: {
		lifecycle: {type: "string", title: "Lifecycle", enum: ["Production", "Staging"], enumColors: {Production: "green", Staging: "yellow"}}
		language: {type: "string", title: "Language"}
	}
	relations: team: {target: "team", required: false, many: false}
}
entities: team: payments: {title: "Payments", properties: github_team: "acme/payments"}
entities: environment: "env-prod": {title: "Production EU", properties: region: "eu"}
entities: environment: "env-stage": {title: "Staging EU", properties: region: "eu"}
entities: service: "payments-api": {title: "Payments API", properties: {lifecycle: "Production", language: "Go"}, relations: team: "payments"}
entities: service: "markup": {title: "<script>window.pwned=1</script>", properties: {lifecycle: "Staging", language: "<b>bold</b>"}, relations: team: "payments"}
actions: deploy: {
	title: "Deploy"
	trigger: {
		type: "self-service", operation: "DAY-2", blueprintIdentifier: "service"
		userInputs: {
			properties: {
				stage: {title: "Stage", type: "string", enum: ["staging", "production"], default: "staging"}
				target: {title: "Target environment", type: "string", format: "entity", blueprint: "environment"}
				change: {title: "Change ticket", type: "string", minLength: 5, visible: {jqQuery: ".form.stage == \"production\""}}
			}
			required: ["target"]
			order: ["stage", "target", "change"]
		}
	}
	approval: {approvals: 1, approvers: users: ["pat"], system: "pier"}
	invocationMethod: {type: "GITHUB", org: "acme", repo: "workflows", workflow: "extend.yml", workflowInputs: {pier_run_id: "{{ .run.id }}"}}
}
`

// chromium returns the browser binary, or skips the test when there is
// none and PIER_REQUIRE_BROWSER is unset (CI sets it after installing
// Debian's chromium, so that a missing browser fails there).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("PIER_REQUIRE_BROWSER") != "" {
		t.Fatal("no chromium on PATH, and PIER_REQUIRE_BROWSER is set")
	}
	t.Skip("no chromium on PATH (apt-get install chromium); set PIER_REQUIRE_BROWSER=1 to make this a failure")
	return ""
}

// newPortalEnv starts a daemon on loopback over the GitHub fake with the
// development sign-in (marco, payments) and sign-in with GitHub (pat).
func newPortalEnv(t *testing.T) *runsEnv {
	t.Helper()
	e := newRunsFixture(t, portalCatalog, "--github-oauth-client-id", "pier-oauth", "--github-oauth-client-secret", "oauth-secret", "--dev-sign-in")
	e.fake.AddOAuthApp("pier-oauth", "oauth-secret")
	e.fake.AddPerson("pat", "Pat Doe", "pat@acme.example")
	e.fake.AddTeamMember("acme", "payments", "marco", "active")
	cfg := "clients:\n  - clientId: alice\n    clientSecret: " + runsClientSecret + "\n    login: alice\n" +
		"people:\n  - login: marco\n    name: Marco Rossi\n    email: marco@acme.example\n    teams: [payments]\n"
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.fake.RequireToken("ghs_runs")
	e.auth = []string{"--github-token", "ghs_runs"}
	e.start()
	return e
}

// newBrowser starts a headless chromium of its own (its own cookies):
// one person's browser.
func newBrowser(t *testing.T, bin string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// do runs steps in a browser, each step within 30 s; a failure says
// where the browser was and what the page showed.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		c2, cancel2 := context.WithTimeout(ctx, 5*time.Second)
		defer cancel2()
		loc, _ := chromedp.Run(c2, chromedp.Location())
		html, _ := chromedp.Run(c2, chromedp.OuterHTML(chromedp.CSS("main")))
		t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, html)
	}
}

// get runs one step that reads something.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// The scenario in a real browser: marco signs in (the
// development sign-in), browses to a service, fills its action's form —
// an entity picked, a field that appears only for production — and sees
// the run wait for approval; pat, in a browser of his own, signs in with
// GitHub and approves; marco's page shows DISPATCHED, then the log lines
// the workflow reports, without a reload.
func TestPortalRequestApproveFollow(t *testing.T) {
	bin := chromium(t)
	e := newPortalEnv(t)
	base := e.td.url
	marco := newBrowser(t, bin)
	do(t, marco, "marco signs in", chromedp.Navigate(base+"/"),
		chromedp.Click(chromedp.CSS(`a[href^="/auth/login"]`)),
		chromedp.Click(chromedp.Search(`//button[contains(., "marco")]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-login="marco"]`)))
	do(t, marco, "to the service", chromedp.Click(chromedp.CSS(`a[href="/catalog/service"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/catalog/service/payments-api"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/catalog/service/payments-api"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href^="/actions/deploy"]`)),
		chromedp.Click(chromedp.CSS(`a[href^="/actions/deploy"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#in-stage`)))
	// The change ticket is asked for production only: hidden at first
	// (staging), shown once production is chosen.
	do(t, marco, "the conditional field hides", chromedp.WaitNotVisible(chromedp.CSS(`#in-change`)))
	do(t, marco, "fill the form",
		chromedp.SetValue(chromedp.CSS(`#in-stage`), "production"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("in-stage").dispatchEvent(new Event("change", {bubbles: true}))`),
		chromedp.WaitVisible(chromedp.CSS(`#in-change`)),
		chromedp.SendKeys(chromedp.CSS(`#in-target`), "env-prod"),
		chromedp.SendKeys(chromedp.CSS(`#in-change`), "CHG-1234"),
		chromedp.Click(chromedp.CSS(`form[data-visible] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#run-status[data-status="WAITING_FOR_APPROVAL"]`)))
	runURL := get(t, marco, "the run page", chromedp.Location())
	inputs := get(t, marco, "the run's inputs", chromedp.Text(chromedp.CSS(`dl.props`)))
	for _, want := range []string{"env-prod", "CHG-1234", "production"} {
		if !strings.Contains(inputs, want) {
			t.Errorf("run inputs %q lack %q", inputs, want)
		}
	}

	pat := newBrowser(t, bin)
	gh, _ := url.Parse(e.fake.URL())
	c := e.fake.SignInCookie("pat")
	do(t, pat, "pat signs in with GitHub",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: c.Name, Value: c.Value, Domain: gh.Hostname(), Path: "/"})
			return err
		}),
		chromedp.Navigate(base+"/auth/github?next="+url.QueryEscape(strings.TrimPrefix(runURL, base))),
		chromedp.WaitVisible(chromedp.CSS(`[data-login="pat"]`)),
		chromedp.Click(chromedp.CSS(`#approve`)),
		chromedp.WaitVisible(chromedp.CSS(`#timeline`)))

	do(t, marco, "marco sees the run dispatched",
		chromedp.WaitVisible(chromedp.CSS(`#run-status[data-status="DISPATCHED"]`)))
	id := runURL[strings.LastIndex(runURL, "/")+1:]
	for _, line := range []string{"building image", "rolled out to env-prod"} {
		if code, out := e.call("POST", "/v1/actions/runs/"+id+"/logs", e.token, map[string]any{"message": line}); code != http.StatusCreated {
			t.Fatalf("report a log line: %d %v", code, out)
		}
	}
	do(t, marco, "the log lines appear without a reload",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](`document.getElementById("logs").textContent.includes("rolled out to env-prod")`, chromedp.WithPollingTimeout(15*time.Second))(ctx, tg)
			return err
		}))
	logs := get(t, marco, "read the logs", chromedp.Text(chromedp.CSS(`#logs`)))
	if !strings.Contains(logs, "building image") {
		t.Errorf("logs %q", logs)
	}
}

// An entity titled like markup renders as text on every page that shows
// it: no script of its runs, and the title reads as written.
func TestPortalEscapesValues(t *testing.T) {
	bin := chromium(t)
	e := newPortalEnv(t)
	b := newBrowser(t, bin)
	do(t, b, "sign in", chromedp.Navigate(e.td.url+"/auth/login?next=/catalog/service/markup"),
		chromedp.Click(chromedp.Search(`//button[contains(., "marco")]`)),
		// The signed-in page, not the sign-in page's own h1: navigating
		// on while the redirect is still loading aborts it (ERR_ABORTED).
		chromedp.WaitVisible(chromedp.CSS(`[data-login="marco"]`)))
	for _, path := range []string{"/catalog/service/markup", "/catalog/service", "/search?q=window", "/", "/catalog/team/payments"} {
		do(t, b, path, chromedp.Navigate(e.td.url+path), chromedp.WaitVisible(chromedp.CSS(`main`)))
		pwned := get(t, b, path, chromedp.Evaluate[bool](`window.pwned === 1`))
		text := get(t, b, path, chromedp.Text(chromedp.CSS(`main`)))
		if pwned {
			t.Errorf("%s ran the title's script", path)
		}
		if path != "/" && !strings.Contains(text, "<script>window.pwned=1</script>") {
			t.Errorf("%s does not show the title as text: %q", path, text)
		}
	}
}

// Every page passes axe-core (vendored from the npm registry in
// testdata/axe) without a serious or critical violation.
func TestPortalAccessibility(t *testing.T) {
	bin := chromium(t)
	axe, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	e := newPortalEnv(t)
	// A run, for the run pages.
	code, out := e.call("POST", "/v1/actions/deploy/runs", e.token, map[string]any{"entity": "payments-api", "properties": map[string]any{"target": "env-stage"}})
	if code != http.StatusAccepted {
		t.Fatalf("run: %d %v", code, out)
	}
	runID := out["run"].(map[string]any)["id"].(string)
	b := newBrowser(t, bin)
	do(t, b, "sign in", chromedp.Navigate(e.td.url+"/auth/login?next=/"),
		chromedp.Click(chromedp.Search(`//button[contains(., "marco")]`)), chromedp.WaitVisible(chromedp.CSS(`[data-login="marco"]`)))
	pages := []string{"/", "/search?q=pay", "/catalog/service", "/catalog/service?sort=lifecycle&dir=desc&f.lifecycle=Production",
		"/catalog/service/payments-api", "/actions/deploy?entity=payments-api", "/runs", "/runs/" + runID,
		"/scorecards", "/dashboards", "/status", "/audit", "/nowhere"}
	for _, p := range pages {
		type violation struct {
			ID     string `json:"id"`
			Impact string `json:"impact"`
			Help   string `json:"help"`
			Nodes  []struct {
				Target []any `json:"target"`
			} `json:"nodes"`
		}
		do(t, b, p, chromedp.Navigate(e.td.url+p), chromedp.WaitVisible(chromedp.CSS(`main`)),
			chromedp.Evaluate[chromedp.Void](string(axe)))
		violations := get(t, b, p, chromedp.Evaluate[[]violation](`axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations)`, chromedp.EvalAwaitPromise))
		for _, v := range violations {
			if v.Impact == "serious" || v.Impact == "critical" {
				t.Errorf("%s: %s (%s): %s at %v", p, v.ID, v.Impact, v.Help, v.Nodes)
			}
		}
	}
}

// The portal's doors without a browser: the security headers on every
// page, a form without the session's CSRF token refused, filters in the
// URL, and the seed's dashboards.
func TestPortalPages(t *testing.T) {
	e := newPortalEnv(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) (int, string, http.Header) {
		t.Helper()
		resp, err := c.Get(e.td.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	resp, err := c.PostForm(e.td.url+"/auth/dev", url.Values{"login": {"marco"}, "next": {"/"}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("sign in: %v %v", err, resp)
	}
	resp.Body.Close()
	tests := []struct {
		path       string
		code       int
		want, lack []string
	}{
		{"/", 200, []string{"Payments API", "Payments"}, nil},
		{"/catalog/service", 200, []string{"2 entities", `class="badge c-green"`, `href="/catalog/team/payments"`}, nil},
		{"/catalog/service?f.lifecycle=Staging", 200, []string{"1 entities", "&lt;script&gt;window.pwned=1&lt;/script&gt;"}, []string{"Payments API</a>"}},
		{"/catalog/service?query=" + url.QueryEscape(`{"combinator":"and","rules":[{"property":"language","operator":"=","value":"Go"}]}`), 200, []string{"1 entities", "Payments API"}, nil},
		{"/catalog/service?query=" + url.QueryEscape(`{"combinator":"and","rules":[{"property":"language","operator":"~","value":"Go"}]}`), 200, []string{"does not compile"}, nil},
		{"/catalog/service/payments-api", 200, []string{"catalog.cue:", `href="` + e.fake.URL() + `/acme/catalog/blob/`, "Deploy"}, nil},
		{"/catalog/service/nope", 404, nil, nil},
		{"/v1/nope", 404, []string{`"ok":false`}, nil},
	}
	for _, tt := range tests {
		code, body, h := get(tt.path)
		if code != tt.code {
			t.Errorf("%s: %d, want %d", tt.path, code, tt.code)
		}
		if !strings.HasPrefix(tt.path, "/v1/") && !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("%s: CSP %q", tt.path, h.Get("Content-Security-Policy"))
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q", tt.path, w)
			}
		}
		for _, w := range tt.lack {
			if strings.Contains(body, w) {
				t.Errorf("%s has %q", tt.path, w)
			}
		}
	}
	// A form without the session's token (another site's) is refused,
	// and no run is made.
	resp, err = c.PostForm(e.td.url+"/actions/deploy", url.Values{"entity": {"payments-api"}, "target": {"env-prod"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("form without CSRF token: %d", resp.StatusCode)
	}
	if code, out := e.call("GET", "/v1/actions/runs", e.token, nil); code != 200 || len(out["runs"].([]any)) != 0 {
		t.Errorf("runs after a refused form: %d %v", code, out)
	}
}

// TestScreenshots writes a PNG of every page of catalog-example, signed
// in as marco, into $PIER_SCREENSHOTS (make screenshots; the README shows
// them). Without the variable it does nothing.
func TestScreenshots(t *testing.T) {
	out := os.Getenv("PIER_SCREENSHOTS")
	if out == "" {
		t.Skip("make screenshots sets PIER_SCREENSHOTS")
	}
	bin := chromium(t)
	repo, err := filepath.Abs(filepath.Join("..", "..", "catalog-example"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "pier.yaml")
	os.WriteFile(cfg, []byte("anonymous-reads: true\ndev-sign-in: true\npeople:\n  - login: marco\n    name: Marco Rossi\n    teams: [payments]\n"), 0o600)
	td := startDaemon(t, "--repo", repo, "--db", filepath.Join(dir, "pier.db"), "--config", cfg)
	td.waitFor(t, "the catalog", func(st map[string]any) bool {
		return st["lastAppliedRevision"] != nil && st["lastAppliedRevision"] != ""
	})
	b := newBrowser(t, bin)
	do(t, b, "sign in", chromedp.Navigate(td.url+"/auth/login?next=/"),
		chromedp.Click(chromedp.Search(`//button[contains(., "marco")]`)), chromedp.WaitVisible(chromedp.CSS(`[data-login="marco"]`)))
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ name, path string }{
		{"home", "/"}, {"catalog", "/catalog/service"}, {"entity", "/catalog/service/payments-api"},
		{"action", "/actions/request_database_access?entity=ledger-db-prod"}, {"runs", "/runs"},
		{"scorecard", "/scorecards/production_readiness"}, {"dashboard", "/dashboards/engineering_overview"},
		{"team-dashboard", "/dashboards/team_dashboard"},
	} {
		do(t, b, p.path, chromedp.Navigate(td.url+p.path), chromedp.WaitVisible(chromedp.CSS(`main`)))
		png := get(t, b, p.path, chromedp.FullScreenshot(90))
		if err := os.WriteFile(filepath.Join(out, p.name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
