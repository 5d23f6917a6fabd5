package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// signInCatalog adds an action approved in pier itself by the platform
// team to the runs catalog (extend_ttl, approved on a pull request by the
// same team).
const signInCatalog = runsCatalog + `
actions: restart_preview: {
	trigger: {type: "self-service", operation: "DAY-2", blueprintIdentifier: "environment"}
	approval: {approvals: 1, approvers: teams: ["platform"], system: "pier"}
	invocationMethod: {type: "GITHUB", org: "acme", repo: "workflows", workflow: "extend.yml", workflowInputs: {pier_run_id: "{{ .run.id }}"}}
}
`

// browser is a person's browser: its cookies for pier and for GitHub.
type browser struct {
	t    *testing.T
	e    *runsEnv
	http *http.Client
	csrf string
}

// signIn is login signing in to pier with GitHub, in a browser of their
// own, through GitHub's OAuth web flow against the fake.
func (e *runsEnv) signIn(login string) *browser {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	gh, _ := url.Parse(e.fake.URL())
	jar.SetCookies(gh, []*http.Cookie{e.fake.SignInCookie(login)})
	b := &browser{t: e.t, e: e, http: &http.Client{Jar: jar}}
	code, me := b.do("GET", "/auth/github?next=/v1/me", nil, nil)
	if code != 200 || me["user"].(map[string]any)["login"] != login {
		e.t.Fatalf("%s signing in: %d %v", login, code, me)
	}
	b.csrf = me["user"].(map[string]any)["csrfToken"].(string)
	return b
}

func (b *browser) do(method, path string, body any, header map[string]string) (int, map[string]any) {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		js, _ := json.Marshal(body)
		rd = bytes.NewReader(js)
	}
	req, _ := http.NewRequest(method, b.e.td.url+path, rd)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// post is a state-changing request from pier's page: with the session's
// CSRF token.
func (b *browser) post(method, path string, body any) (int, map[string]any) {
	b.t.Helper()
	return b.do(method, path, body, map[string]string{"X-CSRF-Token": b.csrf})
}

func newSignInEnv(t *testing.T) *runsEnv {
	t.Helper()
	e := newRunsEnvWith(t, signInCatalog, "--github-oauth-client-id", "pier-oauth", "--github-oauth-client-secret", "oauth-secret")
	e.fake.AddOAuthApp("pier-oauth", "oauth-secret")
	e.fake.AddPerson("kim", "Kim Lee", "kim@acme.example")
	e.fake.AddPerson("pat", "Pat Doe", "pat@acme.example")
	return e
}

// Two people sign in through GitHub: one asks for runs, the other's
// approval dispatches them, and the requester's own approval — on GitHub
// and in pier — counts for nothing.
func TestPeopleSignInRequestAndApprove(t *testing.T) {
	e := newSignInEnv(t)
	kim, pat := e.signIn("kim"), e.signIn("pat")
	if _, me := pat.do("GET", "/v1/me", nil, nil); me["user"].(map[string]any)["email"] != "pat@acme.example" || me["user"].(map[string]any)["via"] != "session" {
		t.Fatalf("pat: %v", me)
	}

	// On a pull request.
	code, out := kim.post("POST", "/v1/actions/extend_ttl/runs", map[string]any{"entity": "preview-42", "properties": map[string]any{"days": 10}})
	if code != http.StatusAccepted {
		t.Fatalf("kim asks: %d %v", code, out)
	}
	id := out["run"].(map[string]any)["id"].(string)
	if by := out["run"].(map[string]any)["createdBy"]; by != "kim" {
		t.Fatalf("the run is %v's", by)
	}
	n := e.pullRequest(id)
	e.fake.AddTeamMember("acme", "platform", "kim", "active") // kim may approve others' runs, not her own
	e.review(n, "kim", "APPROVED")
	if code, out := kim.post("PATCH", "/v1/actions/runs/"+id+"/approval", map[string]any{"status": "APPROVE"}); code != http.StatusConflict {
		t.Fatalf("kim approving in pier a run approved on GitHub: %d %v", code, out)
	}
	settle()
	if got := e.run(id)["status"]; got != "WAITING_FOR_APPROVAL" || len(e.fake.Dispatches("acme", "workflows")) != 0 {
		t.Fatalf("kim's own approval counted: %v", got)
	}
	e.review(n, "pat", "APPROVED")
	e.waitStatus(id, "DISPATCHED")

	// In pier.
	code, out = kim.post("POST", "/v1/actions/restart_preview/runs", map[string]any{"entity": "preview-42"})
	if code != http.StatusAccepted {
		t.Fatalf("kim asks: %d %v", code, out)
	}
	id = out["run"].(map[string]any)["id"].(string)
	e.waitStatus(id, "WAITING_FOR_APPROVAL")
	if code, out := kim.post("PATCH", "/v1/actions/runs/"+id+"/approval", map[string]any{"status": "APPROVE"}); code != http.StatusForbidden || !strings.Contains(fmt.Sprint(out["message"]), "kim requested") {
		t.Fatalf("kim approving her own run: %d %v", code, out)
	}
	if code, out := pat.post("PATCH", "/v1/actions/runs/"+id+"/approval", map[string]any{"status": "APPROVE"}); code != 200 {
		t.Fatalf("pat approving: %d %v", code, out)
	}
	e.waitStatus(id, "DISPATCHED")
	if n := len(e.fake.Dispatches("acme", "workflows")); n != 2 {
		t.Fatalf("%d dispatches", n)
	}
}

// Sessions hold against what an attacker or a careless browser sends.
func TestSessionsRefuseWhatTheyShould(t *testing.T) {
	e := newSignInEnv(t)
	kim := e.signIn("kim")

	// A state-changing request without the CSRF token (a form on another
	// site posting with kim's cookie) is refused; with it, it goes.
	if code, out := kim.do("POST", "/v1/actions/restart_preview/runs", map[string]any{"entity": "preview-42"}, nil); code != http.StatusForbidden || out["error"] != "csrf" {
		t.Fatalf("without the CSRF token: %d %v", code, out)
	}
	if code, _ := kim.do("POST", "/v1/actions/restart_preview/runs", map[string]any{"entity": "preview-42"}, map[string]string{"Sec-Fetch-Site": "cross-site"}); code != http.StatusForbidden {
		t.Fatalf("cross-site: %d", code)
	}
	if code, out := kim.post("POST", "/v1/actions/restart_preview/runs", map[string]any{"entity": "preview-42"}); code != http.StatusAccepted {
		t.Fatalf("with the CSRF token: %d %v", code, out)
	}

	// A forged cookie.
	anon := &browser{t: t, e: e, http: &http.Client{}}
	for _, v := range []string{"forged", strings.Repeat("A", 43)} {
		if code, out := anon.do("GET", "/v1/me", nil, map[string]string{"Cookie": "pier_session=" + v}); code != http.StatusUnauthorized {
			t.Errorf("cookie %q: %d %v", v, code, out)
		}
	}

	// Signing out ends the session, for a copy of the cookie too.
	u, _ := url.Parse(e.td.url)
	var cookie []string
	for _, c := range kim.http.Jar.Cookies(u) {
		cookie = append(cookie, c.Name+"="+c.Value)
	}
	if code, _ := kim.post("POST", "/auth/logout", nil); code != 200 {
		t.Fatalf("sign out: %d", code)
	}
	if code, _ := anon.do("GET", "/v1/me", nil, map[string]string{"Cookie": strings.Join(cookie, "; ")}); code != http.StatusUnauthorized {
		t.Fatalf("a copy of a signed-out cookie: %d", code)
	}

	// The OAuth state and code: step by step, without following redirects.
	jar, _ := cookiejar.New(nil)
	gh, _ := url.Parse(e.fake.URL())
	jar.SetCookies(gh, []*http.Cookie{e.fake.SignInCookie("kim")})
	step := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) *http.Response {
		t.Helper()
		resp, err := step.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// to GitHub, and back to pier's callback with a code
	callbackOf := func(next string) string {
		t.Helper()
		toGitHub := get(e.td.url + "/auth/github?next=" + url.QueryEscape(next))
		return get(toGitHub.Header.Get("Location")).Header.Get("Location")
	}
	if resp, _ := http.Get(e.td.url + "/auth/github/callback?code=x&state=y"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a callback without the browser's state: %d", resp.StatusCode)
	}
	cb, _ := url.Parse(callbackOf("/"))
	q := cb.Query()
	q.Set("state", "not-the-state")
	cb.RawQuery = q.Encode()
	if resp := get(cb.String()); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("another state: %d", resp.StatusCode)
	}
	used := callbackOf("//evil.example/steal")
	if done := get(used); done.StatusCode != http.StatusFound || done.Header.Get("Location") != "/" {
		t.Fatalf("sign-in returned to %q (%d), want / for a next that leaves pier", done.Header.Get("Location"), done.StatusCode)
	}
	// The used code, with a state this browser holds now: GitHub refuses
	// the code.
	fresh, _ := url.Parse(callbackOf("/"))
	replay, _ := url.Parse(used)
	rq := replay.Query()
	rq.Set("state", fresh.Query().Get("state"))
	replay.RawQuery = rq.Encode()
	if resp := get(replay.String()); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a used code: %d", resp.StatusCode)
	}
	// Someone who refuses to authorize pier on GitHub.
	e.fake.Deny("pier-oauth", "kim")
	if resp := get(callbackOf("/")); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("denied on GitHub: %d", resp.StatusCode)
	}

	// Refused sign-ins are audited.
	_, log := e.call("GET", "/v1/audit-log", e.token, nil)
	refused := 0
	for _, en := range log["entries"].([]any) {
		if en.(map[string]any)["action"] == "session.refused" {
			refused++
		}
	}
	if refused < 4 {
		t.Errorf("%d refused sign-ins audited, want 4", refused)
	}
}

// A person mints a personal token, uses it as themselves, sees it listed
// without its secret, and revokes it; a token cannot mint tokens.
func TestPersonalTokens(t *testing.T) {
	e := newSignInEnv(t)
	kim := e.signIn("kim")
	code, out := kim.post("POST", "/v1/me/tokens", map[string]any{"name": "laptop", "expiresIn": "24h"})
	if code != http.StatusCreated {
		t.Fatalf("mint: %d %v", code, out)
	}
	secret := out["secret"].(string)
	tokID := out["token"].(map[string]any)["id"].(string)
	if !strings.HasPrefix(secret, "pier_pat_") {
		t.Fatalf("secret %q", secret)
	}
	code, me := e.call("GET", "/v1/me", secret, nil)
	if code != 200 || me["user"].(map[string]any)["login"] != "kim" || me["user"].(map[string]any)["via"] != "personal token" {
		t.Fatalf("me with the token: %d %v", code, me)
	}
	if code, out := e.call("POST", "/v1/me/tokens", secret, map[string]any{"name": "more"}); code != http.StatusForbidden {
		t.Fatalf("a token minting tokens: %d %v", code, out)
	}
	_, list := kim.do("GET", "/v1/me/tokens", nil, nil)
	tokens := list["tokens"].([]any)
	if len(tokens) != 1 || tokens[0].(map[string]any)["name"] != "laptop" || strings.Contains(fmt.Sprint(list), secret) {
		t.Fatalf("list %v", list)
	}
	// A run asked for with the token is kim's.
	code, out = e.call("POST", "/v1/actions/restart_preview/runs", secret, map[string]any{"entity": "preview-42"})
	if code != http.StatusAccepted || out["run"].(map[string]any)["createdBy"] != "kim" {
		t.Fatalf("run with the token: %d %v", code, out)
	}
	if code, _ := kim.post("DELETE", "/v1/me/tokens/"+tokID, nil); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	if code, _ := e.call("GET", "/v1/me", secret, nil); code != http.StatusUnauthorized {
		t.Fatalf("a revoked token: %d", code)
	}
	// The store holds a hash, never the secret.
	var n int
	rows, err := e.td.d.store.Tokens(t.Context(), "kim")
	for _, tk := range rows {
		if strings.Contains(tk.Hash, secret) {
			n++
		}
	}
	if err != nil || n != 0 {
		t.Fatalf("stored tokens %+v, %v", rows, err)
	}
}

// Someone removed from a GitHub team loses what the team gave them when
// GitHub's membership webhook arrives, while signed in.
func TestMembershipWebhookRefreshesTeams(t *testing.T) {
	catalogSrc := signInCatalog + `
blueprints: team: {title: "Team", schema: properties: github_team: {type: "string"}}
entities: team: platform: properties: github_team: "acme/platform"
roles: [{identifier: "platform_admin", permissions: [{action: "*", resource: "*"}]}]
roleBindings: platform_admin: teams: ["platform"]
`
	e := newRunsEnvWith(t, catalogSrc, "--github-oauth-client-id", "pier-oauth", "--github-oauth-client-secret", "oauth-secret")
	e.fake.AddOAuthApp("pier-oauth", "oauth-secret")
	pat := e.signIn("pat")
	if code, _ := pat.do("GET", "/v1/audit-log", nil, nil); code != 200 {
		t.Fatalf("pat, in the platform team, reads the audit log: %d", code)
	}
	e.fake.RemoveTeamMember("acme", "platform", "pat")
	e.deliverHook("membership", []byte(`{"action": "removed", "scope": "team", "member": {"login": "pat"}, "team": {"slug": "platform"}, "organization": {"login": "acme"}, "sender": {"login": "octocat"}}`))
	if code, out := pat.do("GET", "/v1/audit-log", nil, nil); code != http.StatusForbidden {
		t.Fatalf("pat, out of the team: %d %v", code, out)
	}
}
