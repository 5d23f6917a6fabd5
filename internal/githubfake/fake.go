// Package githubfake is an in-process GitHub REST API for tests: an
// httptest server that behaves like GitHub for the calls pier makes, and
// lets a test read back what pier did.
//
// It answers like GitHub does — the same JSON shapes (from GitHub's
// documented examples), the same status codes for the same mistakes,
// rate-limit headers on every response, Link pagination — so that pier's
// client is tested against GitHub's behaviour rather than against a mock
// that repeats the client's own assumptions.
//
// Each area of the API lives in its own file, with the helpers that set up
// and read back its state: statuses.go (commit statuses), git.go (commits
// and branches), contents.go (files), pulls.go (pull requests and review
// requests), reviews.go, comments.go (issue comments), teams.go (team
// membership), actions.go (workflow dispatch and runs) and apps.go
// (GitHub Apps: JWTs, installation tokens, the bot a request acts as);
// githttp.go puts GitHub's authentication of git over HTTPS in front of a
// real git server. A new area adds a file and its lines in routes.
//
// Helpers that name something the test never created (a repository, a
// pull request, a run) panic: that is a mistake in the test, not a
// behaviour to model.
package githubfake

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultRateLimit is GitHub's hourly limit for a token.
const DefaultRateLimit = 5000

// Fake is a fake GitHub API server. It is safe for concurrent use.
type Fake struct {
	srv *httptest.Server
	mux *http.ServeMux

	mu       sync.Mutex
	now      func() time.Time
	token    string                 // the token required, or "" for none
	repos    map[string]*repository // by repoKey
	statuses map[string][]Status
	checks   []*checkRun
	teams    map[string]string // membership state by teamKey
	dispatch DispatchMode
	hold     *hold
	failures []failure
	nextID   int64
	rate     rateLimit
	requests []Request
	user     User // the token's user: who pier acts as
	// The OAuth web flow: applications, codes given out, the tokens of
	// people who signed in (token -> login), and people's profiles.
	oauthApps  map[string]*oauthApp
	codes      map[string]*oauthCode
	userTokens map[string]string
	people     map[string]person

	apps          map[int64]*app
	installations map[int64]*installation
	tokens        map[string]*InstallationToken // installation tokens by token
	issued        []*InstallationToken          // oldest first
	tokenTTL      time.Duration
}

// failure is a pending FailNext.
type failure struct {
	method, prefix string
	code           int
}

// Request is a request the fake received, for tests to assert on.
type Request struct {
	Method   string
	Path     string // unescaped
	RawQuery string
	Header   http.Header
	Body     []byte
}

// User is GitHub's simple-user shape, the creator of what the fake
// records.
type User struct {
	Login     string `json:"login"`
	ID        int64  `json:"id"`
	NodeID    string `json:"node_id"`
	AvatarURL string `json:"avatar_url"`
	URL       string `json:"url"`
	HTMLURL   string `json:"html_url"`
	Type      string `json:"type"`
	SiteAdmin bool   `json:"site_admin"`
}

// userJSON returns the simple-user shape of login: the token's user, an
// App's bot, or another person with a stable made-up id. f.mu must be
// held.
func (f *Fake) userJSON(login string) User {
	if strings.EqualFold(login, f.user.Login) {
		return f.user
	}
	if u, ok := f.bot(login); ok {
		return u
	}
	return User{
		Login:     login,
		ID:        stableID("user:" + strings.ToLower(login)),
		NodeID:    base64.StdEncoding.EncodeToString([]byte("User" + login)),
		AvatarURL: "https://avatars.githubusercontent.com/" + login,
		URL:       f.srv.URL + "/users/" + login,
		HTMLURL:   "https://github.com/" + login,
		Type:      "User",
	}
}

// stableID makes up an id for what the fake does not number itself
// (people, repositories, teams): the same name, the same id.
func stableID(name string) int64 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return 1000 + int64(h.Sum32())
}

type rateLimit struct {
	limit, remaining int
	reset            time.Time
}

// New starts a fake with no repositories, no token required and a full
// rate limit. Close it when done.
func New() *Fake {
	f := &Fake{
		now:      time.Now,
		repos:    map[string]*repository{},
		statuses: map[string][]Status{},
		teams:    map[string]string{},
		mux:      http.NewServeMux(),

		apps:          map[int64]*app{},
		installations: map[int64]*installation{},
		tokens:        map[string]*InstallationToken{},
		tokenTTL:      DefaultInstallationTokenTTL,
	}
	f.rate = rateLimit{limit: DefaultRateLimit, remaining: DefaultRateLimit, reset: f.now().Add(time.Hour)}
	f.routes()
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.user = User{
		Login:     "octocat",
		ID:        1,
		NodeID:    "MDQ6VXNlcjE=",
		AvatarURL: "https://github.com/images/error/octocat_happy.gif",
		URL:       f.srv.URL + "/users/octocat",
		HTMLURL:   "https://github.com/octocat",
		Type:      "User",
	}
	return f
}

// routes registers every endpoint the fake implements.
func (f *Fake) routes() {
	f.mux.HandleFunc("POST /repos/{owner}/{repo}/statuses/{sha}", f.createStatus)
	f.mux.HandleFunc("POST /repos/{owner}/{repo}/check-runs", f.createCheckRun)
	f.mux.HandleFunc("PATCH /repos/{owner}/{repo}/check-runs/{id}", f.updateCheckRun)
	f.mux.HandleFunc("GET /repos/{owner}/{repo}/commits/{rest...}", f.listStatuses)

	f.mux.HandleFunc("GET /repos/{owner}/{repo}/git/ref/{ref...}", f.getRef)
	f.mux.HandleFunc("POST /repos/{owner}/{repo}/git/refs", f.createRef)
	f.mux.HandleFunc("DELETE /repos/{owner}/{repo}/git/refs/{ref...}", f.deleteRef)
	f.mux.HandleFunc("PATCH /repos/{owner}/{repo}/git/refs/{ref...}", f.updateRef)
	f.mux.HandleFunc("GET /repos/{owner}/{repo}/activity", f.listActivity)

	f.mux.HandleFunc("GET /repos/{owner}/{repo}/contents/{path...}", f.getContents)
	f.mux.HandleFunc("PUT /repos/{owner}/{repo}/contents/{path...}", f.putContents)

	f.mux.HandleFunc("POST /repos/{owner}/{repo}/pulls", f.createPull)
	f.mux.HandleFunc("GET /repos/{owner}/{repo}/pulls", f.listPulls)
	f.mux.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}", f.getPull)
	f.mux.HandleFunc("PATCH /repos/{owner}/{repo}/pulls/{number}", f.updatePull)
	f.mux.HandleFunc("PUT /repos/{owner}/{repo}/pulls/{number}/merge", f.mergePull)
	f.mux.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}/files", f.listPullFiles)
	f.mux.HandleFunc("POST /repos/{owner}/{repo}/pulls/{number}/requested_reviewers", f.requestReviewers)
	f.mux.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}/requested_reviewers", f.listRequestedReviewers)
	f.mux.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}/reviews", f.listReviews)
	f.mux.HandleFunc("POST /repos/{owner}/{repo}/issues/{number}/comments", f.createComment)
	f.mux.HandleFunc("GET /repos/{owner}/{repo}/issues/{number}/comments", f.listComments)
	f.mux.HandleFunc("PATCH /repos/{owner}/{repo}/issues/comments/{id}", f.updateComment)

	f.mux.HandleFunc("GET /orgs/{org}/teams/{team}/memberships/{user}", f.getTeamMembership)
	f.mux.HandleFunc("GET /user", f.getUser)
	f.mux.HandleFunc("GET /user/teams", f.listUserTeams)
	f.mux.HandleFunc("GET /user/emails", f.listUserEmails)
	f.mux.HandleFunc("GET /login/oauth/authorize", f.authorize)
	f.mux.HandleFunc("POST /login/oauth/access_token", f.accessToken)

	f.mux.HandleFunc("GET /app", f.getApp)
	f.mux.HandleFunc("POST /app/installations/{id}/access_tokens", f.createInstallationToken)

	f.mux.HandleFunc("POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches", f.dispatchWorkflow)
	f.mux.HandleFunc("GET /repos/{owner}/{repo}/actions/workflows/{workflow}/runs", f.listWorkflowRuns)
	f.mux.HandleFunc("GET /repos/{owner}/{repo}/actions/runs/{id}", f.getWorkflowRun)
}

// URL returns the API base URL, without a trailing slash (as
// httptest.Server gives it; pier's client must add the slash go-github
// needs).
func (f *Fake) URL() string { return f.srv.URL }

// Client returns an HTTP client for the fake's server.
func (f *Fake) Client() *http.Client { return f.srv.Client() }

// Close shuts the server down.
func (f *Fake) Close() { f.srv.Close() }

// AddRepo makes owner/repo exist, with a default branch "main" holding
// one commit (a README.md), as GitHub creates a repository initialised
// with a README; adding it again changes nothing. Requests for any other
// repository are answered 404, as GitHub does for a repository that does
// not exist or that the token cannot see.
func (f *Fake) AddRepo(owner, repo string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := repoKey(owner, repo)
	if f.repos[key] != nil {
		return
	}
	rp := newRepository(owner, repo)
	f.repos[key] = rp
	c := rp.newCommit(f.now(), "Initial commit", map[string][]byte{"README.md": []byte("# " + repo + "\n")}, nil)
	rp.branches[defaultBranch] = c.sha
}

// RequireToken makes every request need "Authorization: Bearer token" (or
// "token token"); without it the fake answers 401 like GitHub. An empty
// token lifts the requirement. An installation token (apps.go) is taken
// in its place; once an App is added, requests need one or the other.
func (f *Fake) RequireToken(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token = token
}

// SetRateLimit sets the rate limit and what is left of it; the window
// resets an hour from now. When nothing is left the fake answers 403 like
// GitHub.
func (f *Fake) SetRateLimit(limit, remaining int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rate = rateLimit{limit: limit, remaining: remaining, reset: f.now().Add(time.Hour)}
}

// SetNow replaces the fake's clock, for stable timestamps.
func (f *Fake) SetNow(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}

// FailNext makes the next request with method (any if empty) whose path
// starts with pathPrefix fail with code and GitHub's error body, before it
// reaches the endpoint, so nothing happens; later requests are served
// normally. It stands in for GitHub's 5xx answers (and a proxy's 502 or
// 504), after which a client cannot know whether its request took effect.
// Requests refused for the rate limit or authentication do not use it up.
func (f *Fake) FailNext(method, pathPrefix string, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, failure{method: method, prefix: pathPrefix, code: code})
}

// Requests returns every request received so far, oldest first.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.requests...)
}

// serve applies what GitHub applies to every request — recording, rate
// limiting, authentication — and routes it.
func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Problems reading the body")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	f.mu.Lock()
	f.requests = append(f.requests, Request{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body,
	})
	if webPath(r.URL.Path) { // GitHub's web host: no API token, no API rate limit
		f.mu.Unlock()
		f.mux.ServeHTTP(w, r)
		return
	}
	limited := f.countRequest(w.Header())
	var who caller
	var refused *refusal
	fail := 0
	if !limited {
		if who, refused = f.authenticate(r); refused == nil {
			fail = f.takeFailure(r)
		}
	}
	f.mu.Unlock()

	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	if limited {
		writeJSON(w, http.StatusForbidden, errorBody{
			Message:          "API rate limit exceeded for user ID 1.",
			DocumentationURL: "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
		})
		return
	}
	if refused != nil {
		apiError(w, refused.code, refused.doc, refused.msg)
		return
	}
	r = withCaller(r, who)
	if fail != 0 {
		writeError(w, fail, http.StatusText(fail))
		return
	}
	if _, pattern := f.mux.Handler(r); pattern == "" {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	f.mux.ServeHTTP(w, r)
}

// writeConditional answers v with an ETag, or 304 Not Modified without a
// body when the request's If-None-Match names that ETag already. As on
// GitHub, a 304 costs nothing of the rate limit. f.mu must be held.
func (f *Fake) writeConditional(w http.ResponseWriter, r *http.Request, v any) {
	b, _ := json.Marshal(v)
	etag := fmt.Sprintf(`"%x"`, sha256.Sum256(b))
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		f.rate.remaining++
		w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(f.rate.remaining))
		w.Header().Set("X-RateLimit-Used", strconv.Itoa(f.rate.limit-f.rate.remaining))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// getUser implements GET /user: the token's user, in the simple-user
// shape (GitHub adds profile fields pier does not read). An installation
// token has no user: GitHub refuses it.
func (f *Fake) getUser(w http.ResponseWriter, r *http.Request) {
	if installationOf(r) != nil {
		apiError(w, http.StatusForbidden, docUser, "Resource not accessible by integration")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.caller(r); !strings.EqualFold(u.Login, f.user.Login) {
		writeJSON(w, http.StatusOK, f.personJSON(u.Login))
		return
	}
	writeJSON(w, http.StatusOK, f.user)
}

// countRequest spends one request of the rate limit and sets the rate
// limit headers; it reports whether the limit was already exhausted.
// f.mu must be held.
func (f *Fake) countRequest(h http.Header) (limited bool) {
	now := f.now()
	if !now.Before(f.rate.reset) {
		f.rate.remaining = f.rate.limit
		f.rate.reset = now.Add(time.Hour)
	}
	limited = f.rate.remaining <= 0
	if !limited {
		f.rate.remaining--
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(f.rate.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(f.rate.remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(f.rate.limit-f.rate.remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(f.rate.reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	return limited
}

// takeFailure removes and returns the code of the first FailNext that
// matches r, or 0. f.mu must be held.
func (f *Fake) takeFailure(r *http.Request) int {
	for i, fl := range f.failures {
		if (fl.method == "" || fl.method == r.Method) && strings.HasPrefix(r.URL.Path, fl.prefix) {
			f.failures = append(f.failures[:i], f.failures[i+1:]...)
			return fl.code
		}
	}
	return 0
}

// bearer returns the token of an Authorization header, in either of the
// forms GitHub accepts.
func bearer(h string) string {
	for _, prefix := range []string{"Bearer ", "bearer ", "token "} {
		if t, ok := strings.CutPrefix(h, prefix); ok {
			return strings.TrimSpace(t)
		}
	}
	return ""
}

// repo returns owner/repo, or nil if it was not added. f.mu must be held.
func (f *Fake) repo(owner, repo string) *repository {
	return f.repos[repoKey(owner, repo)]
}

// mustRepo is repo for helpers. f.mu must be held.
func (f *Fake) mustRepo(owner, repo string) *repository {
	rp := f.repo(owner, repo)
	if rp == nil {
		panic("githubfake: no repository " + owner + "/" + repo + " (AddRepo first)")
	}
	return rp
}

// repoKey identifies a repository; GitHub's names are case-insensitive.
func repoKey(owner, repo string) string {
	return strings.ToLower(owner) + "/" + strings.ToLower(repo)
}

// errorBody is GitHub's error shape.
type errorBody struct {
	Message          string       `json:"message"`
	Errors           []fieldError `json:"errors,omitempty"`
	DocumentationURL string       `json:"documentation_url"`
	Status           string       `json:"status,omitempty"`
}

// fieldError is one entry of a 422 Validation Failed.
type fieldError struct {
	Resource string `json:"resource"`
	Code     string `json:"code"`
	Field    string `json:"field"`
	Message  string `json:"message,omitempty"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	apiError(w, code, "https://docs.github.com/rest", msg)
}

// apiError writes GitHub's error body, with the documentation of the
// endpoint and, for a 422 Validation Failed, the fields at fault.
func apiError(w http.ResponseWriter, code int, doc, msg string, errs ...fieldError) {
	writeJSON(w, code, errorBody{Message: msg, Errors: errs, DocumentationURL: doc, Status: strconv.Itoa(code)})
}

// decode reads a JSON request body into v; an empty body is an empty
// object. On malformed JSON it answers 400 as GitHub does and returns
// false.
func decode(w http.ResponseWriter, r *http.Request, doc string, v any) bool {
	err := json.NewDecoder(r.Body).Decode(v)
	if err != nil && err != io.EOF {
		apiError(w, http.StatusBadRequest, doc, "Problems parsing JSON")
		return false
	}
	return true
}

// notSupplied is GitHub's answer for a missing required field.
func notSupplied(w http.ResponseWriter, doc, field string) {
	apiError(w, http.StatusUnprocessableEntity, doc, "Invalid request.\n\n\""+field+"\" wasn't supplied.")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the status is sent; a write error is a gone client
}
