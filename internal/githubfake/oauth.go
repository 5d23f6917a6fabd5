package githubfake

import (
	"crypto/rand"
	"encoding/hex"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// GitHub's OAuth web application flow, as a browser and a server go
// through it (https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps):
// the browser visits /login/oauth/authorize on GitHub's web host, where
// the person is signed in to GitHub (the user_session cookie); GitHub
// sends it back to the application's callback with a code, which the
// application exchanges at /login/oauth/access_token for the person's
// token. The fake serves the web host's paths on the same server as the
// API, outside the API's authentication and rate limit.

// SessionCookie is GitHub's session cookie on its web host: who the
// browser is signed in to GitHub as. A test sets it in its browser's
// cookie jar (see SignInCookie).
const SessionCookie = "user_session"

// codeTTL is how long an authorization code may be exchanged.
const codeTTL = 10 * time.Minute

type oauthApp struct {
	id, secret string
	denied     map[string]bool // logins who click "Cancel"
}

type oauthCode struct {
	app, login, redirect string
	at                   time.Time
	used                 bool
}

// person is what GitHub shows of someone: their profile.
type person struct {
	name, email string
}

// AddOAuthApp registers an OAuth application with its client id and
// secret.
func (f *Fake) AddOAuthApp(clientID, clientSecret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.oauthApps == nil {
		f.oauthApps = map[string]*oauthApp{}
	}
	f.oauthApps[clientID] = &oauthApp{id: clientID, secret: clientSecret, denied: map[string]bool{}}
}

// AddPerson gives login a profile: the name and (public, primary,
// verified) email GitHub answers for them.
func (f *Fake) AddPerson(login, name, email string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.people == nil {
		f.people = map[string]person{}
	}
	f.people[strings.ToLower(login)] = person{name: name, email: email}
}

// Deny makes login refuse to authorize the OAuth application clientID
// (the "Cancel" button): GitHub sends them back with error=access_denied.
func (f *Fake) Deny(clientID, login string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.oauthApps[clientID].denied[strings.ToLower(login)] = true
}

// SignInCookie is the cookie of a browser signed in to GitHub as login,
// for the fake's host.
func (f *Fake) SignInCookie(login string) *http.Cookie {
	return &http.Cookie{Name: SessionCookie, Value: login, Path: "/"}
}

// webPath reports whether p is on GitHub's web host rather than its API.
func webPath(p string) bool { return strings.HasPrefix(p, "/login/") }

// authorize implements GET /login/oauth/authorize.
func (f *Fake) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	app := f.oauthApps[q.Get("client_id")]
	if app == nil {
		page(w, http.StatusNotFound, "Not Found")
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Scheme == "" {
		page(w, http.StatusBadRequest, "The redirect_uri MUST match the registered callback URL for this application.")
		return
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		page(w, http.StatusOK, "Sign in to GitHub to continue to "+app.id)
		return
	}
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	if app.denied[strings.ToLower(c.Value)] {
		back.Set("error", "access_denied")
		back.Set("error_description", "The user has denied your application access.")
		back.Set("error_uri", "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied")
	} else {
		b := make([]byte, 10)
		rand.Read(b)
		code := hex.EncodeToString(b)
		if f.codes == nil {
			f.codes = map[string]*oauthCode{}
		}
		f.codes[code] = &oauthCode{app: app.id, login: c.Value, redirect: q.Get("redirect_uri"), at: f.now()}
		back.Set("code", code)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// accessToken implements POST /login/oauth/access_token. As on GitHub, a
// refusal is a 200 whose body names the error; the answer is JSON when
// the request accepts it, form-encoded otherwise.
func (f *Fake) accessToken(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	get := func(k string) string { return r.Form.Get(k) }
	f.mu.Lock()
	defer f.mu.Unlock()
	answer := func(v url.Values) {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			out := map[string]string{}
			for k := range v {
				out[k] = v.Get(k)
			}
			writeJSON(w, http.StatusOK, out)
			return
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		w.Write([]byte(v.Encode()))
	}
	refuse := func(code, desc, doc string) {
		answer(url.Values{"error": {code}, "error_description": {desc}, "error_uri": {"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#" + doc}})
	}
	app := f.oauthApps[get("client_id")]
	if app == nil || app.secret != get("client_secret") {
		refuse("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.", "incorrect-client-credentials")
		return
	}
	c := f.codes[get("code")]
	if c == nil || c.used || c.app != app.id || !f.now().Before(c.at.Add(codeTTL)) {
		refuse("bad_verification_code", "The code passed is incorrect or expired.", "bad-verification-code")
		return
	}
	if ru := get("redirect_uri"); ru != "" && ru != c.redirect {
		refuse("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.", "redirect-uri-mismatch")
		return
	}
	c.used = true
	b := make([]byte, 18)
	rand.Read(b)
	tok := "gho_" + hex.EncodeToString(b)
	if f.userTokens == nil {
		f.userTokens = map[string]string{}
	}
	f.userTokens[tok] = c.login
	answer(url.Values{"access_token": {tok}, "token_type": {"bearer"}, "scope": {"read:org,read:user,user:email"}})
}

// personJSON is GET /user's shape for someone signed in with OAuth: the
// simple user with the profile's name and email. f.mu must be held.
func (f *Fake) personJSON(login string) map[string]any {
	u := f.userJSON(login)
	p := f.people[strings.ToLower(login)]
	var email any
	if p.email != "" {
		email = p.email
	}
	return map[string]any{
		"login": u.Login, "id": u.ID, "node_id": u.NodeID, "avatar_url": u.AvatarURL, "url": u.URL, "html_url": u.HTMLURL,
		"type": u.Type, "site_admin": false, "name": p.name, "email": email,
	}
}

// listUserTeams implements GET /user/teams: the teams the token's person
// is an active member of, with their organisation.
func (f *Fake) listUserTeams(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	login := strings.ToLower(f.caller(r).Login)
	var out []map[string]any
	for _, k := range slices.Sorted(mapKeys(f.teams)) {
		parts := strings.SplitN(k, "/", 3)
		if len(parts) == 3 && parts[2] == login && f.teams[k] == "active" {
			t := f.teamJSON(parts[0], parts[1])
			out = append(out, map[string]any{
				"id": t.ID, "node_id": t.NodeID, "url": t.URL, "html_url": t.HTMLURL, "name": t.Name, "slug": t.Slug,
				"privacy": t.Privacy, "permission": t.Permission,
				"organization": map[string]any{"login": parts[0], "id": stableID("org:" + parts[0]), "url": f.srv.URL + "/orgs/" + parts[0]},
			})
		}
	}
	f.mu.Unlock()
	start, end := f.paginate(w, r, len(out))
	writeJSON(w, http.StatusOK, append([]map[string]any{}, out[start:end]...))
}

// listUserEmails implements GET /user/emails.
func (f *Fake) listUserEmails(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []map[string]any{}
	if p := f.people[strings.ToLower(f.caller(r).Login)]; p.email != "" {
		out = append(out, map[string]any{"email": p.email, "primary": true, "verified": true, "visibility": "public"})
	}
	writeJSON(w, http.StatusOK, out)
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// page answers a web page, as GitHub's web host does.
func page(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte("<!DOCTYPE html><html><body><p>" + html.EscapeString(text) + "</p></body></html>"))
}
