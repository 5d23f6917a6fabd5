package identity

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/pierhq/pier/internal/github"
	"github.com/pierhq/pier/internal/store"
)

// SignIn serves sign-in and sign-out under /auth/:
//
//	GET  /auth/login            the choices (GitHub, and the development people)
//	GET  /auth/github           to GitHub's authorization page
//	GET  /auth/github/callback  back from it: the session starts
//	POST /auth/dev              development sign-in as one of Dev (off by default)
//	POST /auth/logout           the session ends
//
// The page to return to after sign-in (next) is only ever a path on
// pier: no open redirect.
type SignIn struct {
	Sessions  *Sessions
	Directory *Directory
	// OAuth is the GitHub OAuth application (its endpoints on GitHub's
	// web host); nil when pier has none.
	OAuth *oauth2.Config
	// APIURL is GitHub's API, asked with the person's token.
	APIURL     string
	HTTPClient *http.Client
	// Dev are the people of the development sign-in; DevEnabled turns it
	// on (never on a listener that is not loopback: the daemon refuses).
	Dev        []Person
	DevEnabled bool
	// Key signs the sign-in state cookie.
	Key []byte
	// Remember, when set, records who signed in (for the list of users).
	Remember func(ctx context.Context, p Person) error
	Audit    func(ctx context.Context, e store.AuditEntry) error
	Logger   *slog.Logger
	Now      func() time.Time
}

// stateCookie carries the OAuth state and where to return, signed.
const stateCookie = "pier_signin"

// stateTTL bounds a sign-in in progress.
const stateTTL = 10 * time.Minute

// Handler returns the /auth/ routes.
func (s *SignIn) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/login", s.login)
	mux.HandleFunc("GET /auth/github", s.github)
	mux.HandleFunc("GET /auth/github/callback", s.callback)
	mux.HandleFunc("POST /auth/dev", s.dev)
	mux.HandleFunc("POST /auth/logout", s.logout)
	return mux
}

func (s *SignIn) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *SignIn) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Next returns the local path a sign-in may return to: raw when it is a
// path on pier (not //host, not \host, no scheme), else "/".
func Next(raw string) string {
	if raw == "" || !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") || strings.HasPrefix(raw, "/\\") || strings.ContainsAny(raw, "\r\n\t") {
		return "/"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return raw
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · pier</title></head>
<body><main>
<h1>Sign in to pier</h1>
{{if .GitHub}}<p><a href="/auth/github?next={{.Next}}">Sign in with GitHub</a></p>{{end}}
{{if .Dev}}<h2>Development sign-in</h2>
<p>For local development only: pick who you are.</p>
{{range .Dev}}<form method="post" action="/auth/dev"><input type="hidden" name="next" value="{{$.Next}}"><input type="hidden" name="login" value="{{.Login}}"><button type="submit">{{.Login}}{{if .Name}} ({{.Name}}){{end}}</button></form>
{{end}}{{end}}
{{if not (or .GitHub .Dev)}}<p>This pier has no sign-in configured (--github-oauth-client-id, or --dev-sign-in for local development).</p>{{end}}
</main></body></html>
`))

func (s *SignIn) login(w http.ResponseWriter, r *http.Request) {
	var dev []Person
	if s.DevEnabled {
		dev = s.Dev
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'")
	loginPage.Execute(w, map[string]any{"GitHub": s.OAuth != nil, "Dev": dev, "Next": Next(r.URL.Query().Get("next"))})
}

// github starts the OAuth web flow: a fresh state, kept in a signed,
// short-lived cookie with the page to return to, and the redirect to
// GitHub's authorization page.
func (s *SignIn) github(w http.ResponseWriter, r *http.Request) {
	if s.OAuth == nil {
		fail(w, http.StatusNotFound, "sign-in with GitHub is not configured on this pier (--github-oauth-client-id)")
		return
	}
	state := random(24)
	next := Next(r.URL.Query().Get("next"))
	exp := s.now().Add(stateTTL)
	v := state + "|" + base64.RawURLEncoding.EncodeToString([]byte(next)) + "|" + exp.UTC().Format(time.RFC3339)
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: v + "|" + s.sign(v), Path: "/auth/github", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.Sessions.Secure || r.TLS != nil, Expires: exp})
	http.Redirect(w, r, s.OAuth.AuthCodeURL(state), http.StatusFound)
}

func (s *SignIn) sign(v string) string {
	m := hmac.New(sha256.New, s.Key)
	m.Write([]byte("pier sign-in state v1\x00" + v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// pending reads the state cookie: the state and where to return, if the
// cookie is pier's, unexpired and for this state.
func (s *SignIn) pending(r *http.Request, state string) (string, error) {
	c, err := r.Cookie(stateCookie)
	if err != nil {
		return "", errors.New("no sign-in in progress in this browser (cookies off, or it took longer than 10 minutes): start again")
	}
	parts := strings.Split(c.Value, "|")
	if len(parts) != 4 || !hmac.Equal([]byte(parts[3]), []byte(s.sign(strings.Join(parts[:3], "|")))) {
		return "", errors.New("the sign-in state cookie is not pier's: start again")
	}
	exp, err := time.Parse(time.RFC3339, parts[2])
	if err != nil || !s.now().Before(exp) {
		return "", errors.New("the sign-in took longer than 10 minutes: start again")
	}
	if state == "" || !hmac.Equal([]byte(parts[0]), []byte(state)) {
		return "", errors.New("the sign-in state does not match this browser's (a link from elsewhere?): start again")
	}
	next, _ := base64.RawURLEncoding.DecodeString(parts[1])
	return Next(string(next)), nil
}

// callback finishes the OAuth web flow: the state checked against the
// cookie, the code exchanged (once: GitHub refuses a code used before),
// the person read with their token — which is then dropped, pier keeps
// no one's GitHub token — and the session started.
func (s *SignIn) callback(w http.ResponseWriter, r *http.Request) {
	if s.OAuth == nil {
		fail(w, http.StatusNotFound, "sign-in with GitHub is not configured on this pier")
		return
	}
	q := r.URL.Query()
	next, err := s.pending(r, q.Get("state"))
	if err != nil {
		s.refused(r, "state", err)
		fail(w, http.StatusBadRequest, "sign-in failed: "+err.Error())
		return
	}
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Path: "/auth/github", MaxAge: -1})
	if e := q.Get("error"); e != "" {
		err := errors.New("GitHub answered " + e + ": " + q.Get("error_description"))
		s.refused(r, "provider", err)
		fail(w, http.StatusUnauthorized, "sign-in failed: "+err.Error())
		return
	}
	ctx := r.Context()
	if s.HTTPClient != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, s.HTTPClient)
	}
	tok, err := s.OAuth.Exchange(ctx, q.Get("code"))
	if err != nil {
		s.refused(r, "exchange", err)
		fail(w, http.StatusUnauthorized, "sign-in failed: GitHub did not take the sign-in code (used already, or expired): start again")
		return
	}
	gh, err := github.New(github.Options{BaseURL: s.APIURL, Token: tok.AccessToken, HTTPClient: s.HTTPClient})
	if err == nil {
		var u github.User
		if u, err = gh.Me(r.Context()); err == nil {
			s.start(w, r, Person{Login: u.Login, Name: u.Name, Email: u.Email, GitHubTeams: u.Teams}, "github", next)
			return
		}
	}
	s.logger().Warn("sign-in: read the person from GitHub", "err", err)
	fail(w, http.StatusBadGateway, "sign-in failed: GitHub did not say who you are: "+err.Error())
}

// dev signs in as one of the development people.
func (s *SignIn) dev(w http.ResponseWriter, r *http.Request) {
	if !s.DevEnabled {
		fail(w, http.StatusNotFound, "the development sign-in is off (pier serve --dev-sign-in, loopback only)")
		return
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		fail(w, http.StatusForbidden, "the development sign-in takes only pier's own form")
		return
	}
	login := r.PostFormValue("login")
	i := slices.IndexFunc(s.Dev, func(p Person) bool { return strings.EqualFold(p.Login, login) })
	if i < 0 {
		fail(w, http.StatusBadRequest, "no development person "+strconvQuote(login)+" (see the people of the development configuration)")
		return
	}
	s.start(w, r, s.Dev[i], "dev", Next(r.PostFormValue("next")))
}

func (s *SignIn) start(w http.ResponseWriter, r *http.Request, p Person, how, next string) {
	if _, err := s.Sessions.Start(r.Context(), w, r, p); err != nil {
		fail(w, http.StatusInternalServerError, "sign-in failed: "+err.Error())
		return
	}
	if s.Directory != nil {
		s.Directory.SignedIn(p)
	}
	if s.Remember != nil {
		if err := s.Remember(r.Context(), p); err != nil {
			s.logger().Warn("sign-in: remember the person", "login", p.Login, "err", err)
		}
	}
	s.audit(r, p.Login, "session.start", http.StatusFound, map[string]any{"via": how})
	http.Redirect(w, r, next, http.StatusFound)
}

// logout ends the session. It is a POST with the session's CSRF token
// (or from pier's own page), so that another site cannot sign anyone
// out.
func (s *SignIn) logout(w http.ResponseWriter, r *http.Request) {
	signed, err := s.Sessions.Get(r)
	if err == nil {
		if err := CheckCSRF(r, signed); err != nil {
			fail(w, http.StatusForbidden, err.Error())
			return
		}
	}
	if err := s.Sessions.End(r.Context(), w, r); err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	if signed != nil {
		s.audit(r, signed.Person.Login, "session.end", http.StatusSeeOther, nil)
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") { // a page's form
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"ok":true}` + "\n"))
}

func (s *SignIn) refused(r *http.Request, why string, err error) {
	s.logger().Info("sign-in refused", "why", why, "err", err, "remote", remoteHost(r))
	s.audit(r, "", "session.refused", http.StatusUnauthorized, map[string]any{"why": why, "error": err.Error()})
}

func (s *SignIn) audit(r *http.Request, actor, action string, status int, details map[string]any) {
	if s.Audit == nil {
		return
	}
	js, _ := json.Marshal(details)
	if details == nil {
		js = nil
	}
	if err := s.Audit(context.WithoutCancel(r.Context()), store.AuditEntry{At: s.now().UTC(), Actor: actorOr(actor), Action: action, Resource: "session", Status: status, Details: js}); err != nil {
		s.logger().Error("audit log write failed", "err", err)
	}
}

func actorOr(a string) string {
	if a == "" {
		return "anonymous"
	}
	return a
}

func remoteHost(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// fail answers a sign-in error as JSON, the API's shape: the sign-in is
// reached from pages and scripts alike.
func fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "signin_failed", "message": msg})
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
