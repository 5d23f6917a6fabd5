package github

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	gogithub "github.com/google/go-github/v62/github"
)

// App authenticates pier as an installation of a GitHub App, the way a
// production deployment should act: under its own name ("<app>[bot]"),
// with the permissions the App was granted on the repositories it was
// installed on, and with tokens that expire within the hour rather than
// a person's token that lives as long as they keep it.
type App struct {
	// ID is the App ID of the App's settings page.
	ID int64
	// InstallationID identifies the App's installation on the
	// organisation (the number at the end of the installation's
	// settings URL).
	InstallationID int64
	// Key is the App's private key (ReadAppKey).
	Key *rsa.PrivateKey
	// KeyFile is where Key was read from, for errors.
	KeyFile string
	// Now is the clock JWTs and token expiry are reckoned by; time.Now
	// if nil.
	Now func() time.Time
}

func (a *App) check() error {
	switch {
	case a.ID <= 0:
		return fmt.Errorf("GitHub App id %d: want the App ID of the App's settings page", a.ID)
	case a.InstallationID <= 0:
		return fmt.Errorf("GitHub App %d: installation id %d: want the id of the App's installation", a.ID, a.InstallationID)
	case a.Key == nil:
		return fmt.Errorf("GitHub App %d: no private key", a.ID)
	}
	return nil
}

func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// ErrCredentials matches GitHub refusing the App's credentials: a JWT
// that is not the App's (a wrong key or App ID), an App or installation
// that does not exist, a suspended installation. Unlike a network error
// or a 5xx, retrying will not help, so the daemon stops at start on it.
var ErrCredentials = errors.New("GitHub refused the credentials")

// appAuth is the App side of a Client: a go-github client that
// authenticates with the App's JWT, for the few endpoints that take it.
type appAuth struct {
	App
	gh *gogithub.Client
}

// newAppAuth sets hc up to send installation tokens, fetched with a
// second client that sends the App's JWT through next.
func newAppAuth(app App, base *url.URL, hc *http.Client, rec Recorder, log *slog.Logger) (*appAuth, *tokenCache) {
	jwtHC := *hc
	jwtHC.Transport = &jwtTransport{app: &app, next: transportOf(hc)}
	a := &appAuth{App: app, gh: newGoGitHub(&jwtHC, base)}
	tokens := &tokenCache{fetch: a.installationToken, now: app.now}
	tokens.renewed = func(err error, expires time.Time) {
		if rec != nil {
			rec.GitHubTokenRenewed(err, expires)
		}
		switch {
		case err == nil:
			log.Info("GitHub App installation token renewed", "app", app.ID, "installation", app.InstallationID, "expires", expires)
		case expires.IsZero():
			log.Error("GitHub App installation token: renewal failed and there is no token to use; requests to GitHub fail until a renewal succeeds",
				"app", app.ID, "installation", app.InstallationID, "err", err)
		default:
			log.Warn("GitHub App installation token: renewal failed; the current token is used until it expires",
				"app", app.ID, "installation", app.InstallationID, "expires", expires, "err", err)
		}
	}
	hc.Transport = &bearerTransport{tokens: tokens, next: transportOf(hc)}
	return a, tokens
}

// installationToken asks GitHub for a new installation token.
//
// GitHub API docs: https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app
func (a *appAuth) installationToken(ctx context.Context) (string, time.Time, error) {
	t, _, err := a.gh.Apps.CreateInstallationToken(ctx, a.InstallationID, nil)
	if err != nil {
		return "", time.Time{}, a.explain("get an installation token", err)
	}
	return t.GetToken(), t.GetExpiresAt().Time, nil
}

// login returns the login GitHub gives the App's actions: its slug and
// "[bot]". An installation token cannot ask GET /user (GitHub answers
// 403 "Resource not accessible by integration"); the App's JWT can ask
// GET /app.
//
// GitHub API docs: https://docs.github.com/rest/apps/apps#get-the-authenticated-app
func (a *appAuth) login(ctx context.Context) (string, error) {
	app, _, err := a.gh.Apps.Get(ctx, "")
	if err != nil {
		return "", a.explain("get the App", err)
	}
	if app.GetSlug() == "" {
		return "", fmt.Errorf("GitHub App %d: GitHub answered GET /app without the App's slug", a.ID)
	}
	return app.GetSlug() + "[bot]", nil
}

// explain turns GitHub's refusals into what to check, naming the App,
// the installation and the key file. They match ErrCredentials.
func (a *appAuth) explain(what string, err error) error {
	key := "the key"
	if a.KeyFile != "" {
		key = a.KeyFile
	}
	var hint string
	switch code := statusCode(err); {
	case code == http.StatusUnauthorized:
		hint = fmt.Sprintf("GitHub refused the App's JWT: %s is not the private key of App %d, or this machine's clock is off", key, a.ID)
	case code == http.StatusNotFound && answered(err, code, "Integration not found"):
		hint = fmt.Sprintf("there is no GitHub App %d: use the App ID of the App's settings page", a.ID)
	case code == http.StatusNotFound:
		hint = fmt.Sprintf("App %d has no installation %d: is the App installed on the organisation, and %d the installation's id (not the App's)?", a.ID, a.InstallationID, a.InstallationID)
	case code == http.StatusForbidden:
		hint = fmt.Sprintf("GitHub refused installation %d", a.InstallationID)
	default:
		return fmt.Errorf("GitHub App %d, installation %d: %s: %w", a.ID, a.InstallationID, what, err)
	}
	return &kindError{kind: ErrCredentials, err: fmt.Errorf("GitHub App %d, installation %d: %s: %s: %w", a.ID, a.InstallationID, what, hint, err)}
}

// jwtTransport authenticates each request with a new App JWT: signing
// one costs less than a millisecond, and a fresh one is never about to
// expire.
type jwtTransport struct {
	app  *App
	next http.RoundTripper
}

func (t *jwtTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	jwt, err := appJWT(t.app.ID, t.app.Key, t.app.now())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+jwt)
	return t.next.RoundTrip(r)
}

// bearerTransport authenticates each request with the installation token
// of the moment. A 401 means GitHub no longer takes the token (revoked,
// the App uninstalled): it is dropped, so the next request renews it and
// the error says why, instead of "Bad credentials" until it expires.
type bearerTransport struct {
	tokens *tokenCache
	next   http.RoundTripper
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.tokens.Token(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	resp, err := t.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		t.tokens.refused(tok)
	}
	return resp, err
}

// closeBody closes a request's body, as a RoundTripper must even when it
// sends nothing.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// transportOf is the transport hc sends with.
func transportOf(hc *http.Client) http.RoundTripper {
	if hc.Transport != nil {
		return hc.Transport
	}
	return http.DefaultTransport
}
