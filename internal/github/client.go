// Package github is pier's GitHub client: the few GitHub API calls pier
// makes, over go-github, against github.com or a GitHub Enterprise Server.
//
// It is thin on purpose. It exists to fix, in one place, what every call
// needs: the API base URL (with the trailing slash go-github insists on),
// the credentials, and metrics on every response — the rate limit left
// and the status codes — so that a daemon running out of API budget shows
// up on a dashboard before it shows up as stale commit statuses.
//
// The credentials are a token (a person's, or any token that does not
// expire) or a GitHub App (app.go): the App's JWT (appkey.go) buys
// installation tokens, which expire within the hour and are renewed ahead
// of time (tokencache.go). Whatever else needs the token — git over
// HTTPS — asks Client.Token for each use.
//
// Each area of the API gets its own file (statuses.go, git.go,
// contents.go, pulls.go, reviews.go, teams.go, actions.go); the functions
// say which GitHub endpoint they call, and their errors which object they
// were about. errors.go has the errors callers can match.
package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gogithub "github.com/google/go-github/v62/github"
)

// DefaultBaseURL is the API of github.com.
const DefaultBaseURL = "https://api.github.com/"

// defaultTimeout bounds a request when the caller gives no HTTP client:
// nothing pier asks GitHub should take longer, and a hung connection must
// not hold a reconcile forever.
const defaultTimeout = 30 * time.Second

// Recorder receives one call per GitHub API response. *metrics.Metrics
// implements it, nil included.
type Recorder interface {
	// GitHubResponse gets the status code (0 when no response came back)
	// and X-RateLimit-Remaining (negative when the response had none).
	GitHubResponse(code int, remaining int)
	// GitHubTokenRenewed gets each renewal of a GitHub App installation
	// token: its error (nil on success) and when the token in use
	// expires (zero when there is none).
	GitHubTokenRenewed(err error, expires time.Time)
}

// Options configure a Client.
type Options struct {
	// BaseURL is the REST API root, used as given: DefaultBaseURL if
	// empty; for GitHub Enterprise Server "https://HOST/api/v3"; for a
	// test server its URL. A missing trailing slash is added.
	BaseURL string
	// Token authenticates every request (a personal access token, or
	// any token that does not expire). Empty, without App, means
	// anonymous.
	Token string
	// App, instead of Token, authenticates as a GitHub App's
	// installation.
	App *App
	// HTTPClient makes the requests; it is copied, not modified. A
	// client with a 30 s timeout if nil.
	HTTPClient *http.Client
	// Metrics, if not nil, gets every response and token renewal.
	Metrics Recorder
	// Logger gets token renewals; nil discards.
	Logger *slog.Logger
}

// Client calls GitHub for pier. It is safe for concurrent use.
type Client struct {
	gh *gogithub.Client
	// webHost is the host of the web UI and of git remotes, the one
	// ParseRepoURL accepts besides github.com.
	webHost string

	teams memberships

	token  string      // a token that does not expire
	app    *appAuth    // or an App
	tokens *tokenCache // and its installation tokens

	loginMu sync.Mutex
	login   string // who pier acts as, once known
}

// New returns a client for the API at opts.BaseURL.
func New(opts Options) (*Client, error) {
	base, err := baseURL(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: defaultTimeout}
	if opts.HTTPClient != nil {
		c := *opts.HTTPClient
		hc = &c
	}
	if opts.Metrics != nil {
		hc.Transport = &instrumented{next: transportOf(hc), rec: opts.Metrics}
	}
	c := &Client{webHost: webHost(base), token: opts.Token}
	if opts.App != nil {
		if opts.Token != "" {
			return nil, errors.New("github: a token and a GitHub App are exclusive: pier acts as one of them")
		}
		if err := opts.App.check(); err != nil {
			return nil, err
		}
		log := opts.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		c.app, c.tokens = newAppAuth(*opts.App, base, hc, opts.Metrics, log)
	}
	c.gh = newGoGitHub(hc, base)
	if opts.Token != "" {
		c.gh = c.gh.WithAuthToken(opts.Token)
	}
	return c, nil
}

// newGoGitHub returns a go-github client of the API at base.
func newGoGitHub(hc *http.Client, base *url.URL) *gogithub.Client {
	// The base URL is set directly rather than with WithEnterpriseURLs,
	// which appends /api/v3/ to any host not named api.*: right for a
	// bare GHES host, wrong for a test server or a proxy.
	gh := gogithub.NewClient(hc)
	gh.BaseURL = base
	gh.UploadURL = uploadURL(base)
	gh.UserAgent = "pier"
	return gh
}

// Token returns the token requests are sent with now, for what
// authenticates with it outside this client: git over HTTPS. An App's
// installation token changes every hour, so ask for each use rather than
// keeping it. Empty for an anonymous client.
func (c *Client) Token(ctx context.Context) (string, error) {
	if c.tokens == nil {
		return c.token, nil
	}
	t, err := c.tokens.Token(ctx)
	if err != nil {
		return "", fmt.Errorf("GitHub App %d, installation %d: %w", c.app.ID, c.app.InstallationID, err)
	}
	return t, nil
}

// Verify asks GitHub whether it takes the App's credentials, so that a
// wrong key, App ID or installation stops pier at start: it gets the App
// (who pier acts as) and the first installation token. An error matching
// ErrCredentials is GitHub's refusal; any other (GitHub unreachable) may
// pass, and requests will retry. Without an App it does nothing: a
// token's scopes cannot all be checked up front.
func (c *Client) Verify(ctx context.Context) (login string, expires time.Time, err error) {
	if c.app == nil {
		return "", time.Time{}, nil
	}
	if login, err = c.Login(ctx); err != nil {
		return "", time.Time{}, err
	}
	if _, err := c.Token(ctx); err != nil {
		return login, time.Time{}, err
	}
	return login, c.tokens.expiry(), nil
}

// baseURL parses and normalises the API root.
func baseURL(s string) (*url.URL, error) {
	if s == "" {
		s = DefaultBaseURL
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("github: base URL %q: %w", s, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("github: base URL %q: %w", s, errors.New("want an absolute http or https URL, such as https://ghe.example.com/api/v3"))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("github: base URL %q: %w", s, errors.New("must not have a query or fragment"))
	}
	// go-github resolves each endpoint relative to the base URL, and
	// refuses a base without a trailing slash (which would drop its
	// last path element).
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u, nil
}

// uploadURL returns the upload API root that goes with base. pier uploads
// nothing today; it is set so that go-github never talks to github.com's
// upload host on behalf of an Enterprise client.
func uploadURL(base *url.URL) *url.URL {
	u := *base
	switch {
	case strings.EqualFold(u.Host, "api.github.com"):
		u.Host = "uploads.github.com"
	case strings.HasSuffix(u.Path, "/api/v3/"):
		u.Path = strings.TrimSuffix(u.Path, "v3/") + "uploads/"
		u.RawPath = ""
	}
	return &u
}

// webHost returns the host of the web UI that goes with the API at base:
// github.com for api.github.com, x.ghe.com for api.x.ghe.com, and the
// host itself for GitHub Enterprise Server (HOST/api/v3).
func webHost(base *url.URL) string {
	host := strings.ToLower(base.Hostname())
	if h, ok := strings.CutPrefix(host, "api."); ok {
		return h
	}
	return host
}

// instrumented reports every response to a Recorder. It sits below
// go-github, so it sees every request, including the ones go-github turns
// into errors.
type instrumented struct {
	next http.RoundTripper
	rec  Recorder
}

func (t *instrumented) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.rec.GitHubResponse(0, -1)
		return nil, err
	}
	remaining := -1
	if v := resp.Header.Get("X-RateLimit-Remaining"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			remaining = n
		}
	}
	t.rec.GitHubResponse(resp.StatusCode, remaining)
	return resp, nil
}

// Login returns who pier's commits, comments and merges are by: the
// token's user, or for an App "<app-slug>[bot]". It is asked once.
//
// GitHub API docs: https://docs.github.com/rest/users/users#get-the-authenticated-user
func (c *Client) Login(ctx context.Context) (string, error) {
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	if c.login != "" {
		return c.login, nil
	}
	if c.app != nil {
		login, err := c.app.login(ctx)
		if err != nil {
			return "", err
		}
		c.login = login
		return login, nil
	}
	u, _, err := c.gh.Users.Get(ctx, "")
	if err != nil {
		return "", fmt.Errorf("get the token's user: %w", err)
	}
	c.login = u.GetLogin()
	return c.login, nil
}
