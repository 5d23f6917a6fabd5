package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	gogithub "github.com/google/go-github/v62/github"

	"github.com/pierhq/pier/internal/githubfake"
	"github.com/pierhq/pier/internal/metrics"
)

// *metrics.Metrics is what the daemon passes as Options.Metrics.
var _ Recorder = (*metrics.Metrics)(nil)

const sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e"

// recorder is a Recorder that keeps what it was told.
type recorder struct {
	mu       sync.Mutex
	calls    [][2]int
	renewals []renewal
}

func (r *recorder) GitHubResponse(code, remaining int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, [2]int{code, remaining})
}

func (r *recorder) GitHubTokenRenewed(err error, expires time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.renewals = append(r.renewals, renewal{err, expires})
}

type renewal struct {
	err     error
	expires time.Time
}

func (r *recorder) renewed() []renewal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]renewal(nil), r.renewals...)
}

func (r *recorder) all() [][2]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][2]int(nil), r.calls...)
}

// setup starts a test server with a mux under prefix, and a client whose
// BaseURL is the server's URL plus prefix, given without a trailing
// slash. Tests register the handlers they need on the mux, as go-github's
// own tests do.
func setup(t *testing.T, prefix string) (*Client, *http.ServeMux, *recorder) {
	t.Helper()
	mux := http.NewServeMux()
	var api http.Handler = mux
	if prefix != "" {
		root := http.NewServeMux()
		root.Handle(prefix+"/", http.StripPrefix(prefix, mux))
		root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			t.Errorf("request outside the API root %q: %s %s", prefix, r.Method, r.URL.Path)
			http.Error(w, "outside the API root", http.StatusBadGateway)
		})
		api = root
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	rec := &recorder{}
	c, err := New(Options{BaseURL: srv.URL + prefix, Token: "s3cr3t", Metrics: rec})
	if err != nil {
		t.Fatal(err)
	}
	return c, mux, rec
}

func testMethod(t *testing.T, r *http.Request, want string) {
	t.Helper()
	if r.Method != want {
		t.Errorf("method %s, want %s", r.Method, want)
	}
}

func testBody(t *testing.T, r *http.Request, want map[string]any) {
	t.Helper()
	var got map[string]any
	if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
		t.Fatalf("request body: %v", err)
	}
	if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
		t.Errorf("request body\n got %s\nwant %s", g, w)
	}
}

func TestSetCommitStatus(t *testing.T) {
	// A GitHub Enterprise Server root, given without its trailing slash:
	// every request must land under it, exactly once.
	c, mux, rec := setup(t, "/api/v3")
	mux.HandleFunc("/repos/octo-org/catalog/statuses/"+sha, func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "POST")
		if got := r.Header.Get("Authorization"); got != "Bearer s3cr3t" {
			t.Errorf("Authorization %q", got)
		}
		testBody(t, r, map[string]any{
			"state":       "success",
			"description": "applied: 3 created, 1 updated",
			"target_url":  "https://pier.example.com/revisions/" + sha,
			"context":     "pier/reconcile",
		})
		w.Header().Set("X-RateLimit-Remaining", "4999")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":1,"state":"success","context":"pier/reconcile"}`)
	})
	err := c.SetCommitStatus(context.Background(), "octo-org", "catalog", sha, Status{
		State:       StateSuccess,
		Description: "applied: 3 created, 1 updated",
		TargetURL:   "https://pier.example.com/revisions/" + sha,
	})
	if err != nil {
		t.Fatalf("SetCommitStatus: %v", err)
	}
	if got := rec.all(); len(got) != 1 || got[0] != [2]int{201, 4999} {
		t.Errorf("recorded %v, want [[201 4999]]", got)
	}
}

func TestSetCommitStatusMinimal(t *testing.T) {
	c, mux, _ := setup(t, "")
	mux.HandleFunc("POST /repos/o/r/statuses/"+sha, func(w http.ResponseWriter, r *http.Request) {
		// No description or target URL: the fields are left out, not
		// sent empty.
		testBody(t, r, map[string]any{"state": "pending", "context": "ci/other"})
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{}`)
	})
	if err := c.SetCommitStatus(context.Background(), "o", "r", sha, Status{State: StatePending, Context: "ci/other"}); err != nil {
		t.Fatal(err)
	}
}

func TestSetCommitStatusTruncates(t *testing.T) {
	c, mux, _ := setup(t, "")
	var got string
	mux.HandleFunc("POST /repos/o/r/statuses/"+sha, func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Description string }
		json.NewDecoder(r.Body).Decode(&body)
		got = body.Description
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{}`)
	})
	long := strings.Repeat("é", 100) + strings.Repeat("x", 100) // 200 characters, 300 bytes
	if err := c.SetCommitStatus(context.Background(), "o", "r", sha, Status{State: StateFailure, Description: long}); err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(got); n != MaxStatusDescription || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("description of %d characters (valid UTF-8 %v): %q", n, utf8.ValidString(got), got)
	}
	if !strings.HasPrefix(long, strings.TrimSuffix(got, "…")) {
		t.Errorf("truncated description is not a prefix: %q", got)
	}
}

func TestSetCommitStatusInvalidState(t *testing.T) {
	c, mux, rec := setup(t, "")
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request sent for an invalid state: %s %s", r.Method, r.URL.Path)
	})
	for _, s := range []string{"", "SUCCESS", "ok"} {
		err := c.SetCommitStatus(context.Background(), "o", "r", sha, Status{State: s})
		if err == nil || !strings.Contains(err.Error(), "invalid state") {
			t.Errorf("state %q: err %v", s, err)
		}
	}
	if len(rec.all()) != 0 {
		t.Errorf("recorded %v for requests never sent", rec.all())
	}
}

func TestSetCommitStatusError(t *testing.T) {
	c, mux, rec := setup(t, "")
	mux.HandleFunc("POST /repos/o/r/statuses/"+sha, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", "12")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		io.WriteString(w, `{"message":"Validation Failed","errors":[{"resource":"Status","code":"custom","field":"state"}]}`)
	})
	err := c.SetCommitStatus(context.Background(), "o", "r", sha, Status{State: StateError})
	var ghErr *gogithub.ErrorResponse
	if !errors.As(err, &ghErr) || ghErr.Response.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("err %v, want a wrapped *github.ErrorResponse with 422", err)
	}
	if !strings.Contains(err.Error(), "o/r@6dcb09b5b578") {
		t.Errorf("error %q does not say which commit", err)
	}
	if got := rec.all(); len(got) != 1 || got[0] != [2]int{422, 12} {
		t.Errorf("recorded %v, want [[422 12]]", got)
	}
}

func TestMetricsNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // connection refused from now on
	rec := &recorder{}
	c, err := New(Options{BaseURL: url, Metrics: rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetCommitStatus(context.Background(), "o", "r", sha, Status{State: StateSuccess}); err == nil {
		t.Fatal("no error from a closed server")
	}
	if got := rec.all(); len(got) != 1 || got[0] != [2]int{0, -1} {
		t.Errorf("recorded %v, want [[0 -1]]", got)
	}
}

func TestNewBaseURL(t *testing.T) {
	for _, tc := range []struct {
		in, base, upload, host string
	}{
		{"", "https://api.github.com/", "https://uploads.github.com/", "github.com"},
		{"https://api.github.com", "https://api.github.com/", "https://uploads.github.com/", "github.com"},
		{"https://ghe.example.com/api/v3", "https://ghe.example.com/api/v3/", "https://ghe.example.com/api/uploads/", "ghe.example.com"},
		{"https://ghe.example.com/api/v3/", "https://ghe.example.com/api/v3/", "https://ghe.example.com/api/uploads/", "ghe.example.com"},
		{"https://api.octo.ghe.com", "https://api.octo.ghe.com/", "https://api.octo.ghe.com/", "octo.ghe.com"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/", "http://127.0.0.1:8080/", "127.0.0.1"},
	} {
		c, err := New(Options{BaseURL: tc.in})
		if err != nil {
			t.Errorf("New(%q): %v", tc.in, err)
			continue
		}
		if got := c.gh.BaseURL.String(); got != tc.base {
			t.Errorf("New(%q): base %s, want %s", tc.in, got, tc.base)
		}
		if got := c.gh.UploadURL.String(); got != tc.upload {
			t.Errorf("New(%q): upload %s, want %s", tc.in, got, tc.upload)
		}
		if c.webHost != tc.host {
			t.Errorf("New(%q): web host %s, want %s", tc.in, c.webHost, tc.host)
		}
	}
	for _, bad := range []string{"ghe.example.com", "ftp://ghe.example.com", "https://", "https://h/api?x=1", "://"} {
		if _, err := New(Options{BaseURL: bad}); err == nil {
			t.Errorf("New(%q): no error", bad)
		}
	}
}

func TestNewDoesNotModifyHTTPClient(t *testing.T) {
	hc := &http.Client{}
	if _, err := New(Options{HTTPClient: hc, Token: "t", Metrics: &recorder{}}); err != nil {
		t.Fatal(err)
	}
	if hc.Transport != nil {
		t.Error("New changed the caller's HTTP client")
	}
}

// TestAgainstFake sets statuses on the GitHub fake, which checks them as
// GitHub does, and reads them back.
func TestAgainstFake(t *testing.T) {
	f := githubfake.New()
	defer f.Close()
	f.AddRepo("octo-org", "catalog")
	f.RequireToken("s3cr3t")
	m := metrics.New()
	c, err := New(Options{BaseURL: f.URL(), Token: "s3cr3t", Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	long := strings.Repeat("d", 300) // over GitHub's limit: the fake would answer 422
	for _, s := range []Status{
		{State: StatePending, Description: "reconciling"},
		{State: StateFailure, Description: long, TargetURL: "https://pier.example.com/r/1"},
	} {
		if err := c.SetCommitStatus(ctx, "octo-org", "catalog", sha, s); err != nil {
			t.Fatalf("SetCommitStatus(%s): %v", s.State, err)
		}
	}
	got := f.Statuses("octo-org", "catalog", sha)
	if len(got) != 2 {
		t.Fatalf("fake has %d statuses, want 2", len(got))
	}
	if got[0].State != "pending" || got[0].Context != DefaultStatusContext || got[0].TargetURL != nil {
		t.Errorf("first status %+v", got[0])
	}
	if got[1].State != "failure" || utf8.RuneCountInString(*got[1].Description) != 140 || *got[1].TargetURL != "https://pier.example.com/r/1" {
		t.Errorf("second status %+v", got[1])
	}
	reqs := f.Requests()
	if len(reqs) != 2 || reqs[0].Method != "POST" || reqs[0].Path != "/repos/octo-org/catalog/statuses/"+sha {
		t.Errorf("requests %+v", reqs)
	}

	// GitHub's answers for mistakes come back as errors.
	if err := c.SetCommitStatus(ctx, "octo-org", "missing", sha, Status{State: StateSuccess}); !isStatus(err, 404) {
		t.Errorf("unknown repository: %v, want 404", err)
	}
	anon, _ := New(Options{BaseURL: f.URL(), Metrics: m})
	if err := anon.SetCommitStatus(ctx, "octo-org", "catalog", sha, Status{State: StateSuccess}); !isStatus(err, 401) {
		t.Errorf("no token: %v, want 401", err)
	}

	// Every response went to the metrics, with the rate limit left.
	body := scrape(t, m)
	for _, want := range []string{
		`pier_github_requests_total{code="201"} 2`,
		`pier_github_requests_total{code="404"} 1`,
		`pier_github_requests_total{code="401"} 1`,
		`pier_github_rate_limit_remaining 4996`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %s:\n%s", want, grep(body, "pier_github"))
		}
	}
}

// newFake starts the GitHub fake with the repository octo-org/catalog,
// and a client for it.
func newFake(t *testing.T) (*Client, *githubfake.Fake) {
	t.Helper()
	f := githubfake.New()
	t.Cleanup(f.Close)
	f.AddRepo("octo-org", "catalog")
	f.RequireToken("s3cr3t")
	c, err := New(Options{BaseURL: f.URL(), Token: "s3cr3t"})
	if err != nil {
		t.Fatal(err)
	}
	return c, f
}

func isStatus(err error, code int) bool {
	var e *gogithub.ErrorResponse
	return errors.As(err, &e) && e.Response.StatusCode == code
}

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	return w.Body.String()
}

func grep(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
