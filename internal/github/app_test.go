package github

import (
	"context"
	"crypto/rsa"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/githubfake"
)

var (
	keysOnce      sync.Once
	appKey, other *rsa.PrivateKey
)

// testKeys are made once per test binary.
func testKeys(t *testing.T) (app, wrong *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		appKey, _ = githubfake.NewAppKey()
		other, _ = githubfake.NewAppKey()
	})
	return appKey, other
}

// clock is a settable clock shared by the fake and the client, so that
// GitHub's idea of expiry and pier's agree.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(d time.Duration, from time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = from.Add(d)
}

var start = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

// appEnv is the fake with App 42 ("pier-acme") installed on acme as
// installation 7, on acme/catalog.
type appEnv struct {
	fake  *githubfake.Fake
	clock *clock
	rec   *recorder
}

func newAppEnv(t *testing.T) *appEnv {
	t.Helper()
	key, _ := testKeys(t)
	e := &appEnv{fake: githubfake.New(), clock: &clock{t: start}, rec: &recorder{}}
	t.Cleanup(e.fake.Close)
	e.fake.SetNow(e.clock.Now)
	e.fake.AddRepo("acme", "catalog")
	e.fake.AddApp(42, "pier-acme", &key.PublicKey)
	e.fake.AddInstallation(42, 7, "acme", "acme/catalog")
	return e
}

// client returns a client of App id, installation inst, signing with key.
func (e *appEnv) client(t *testing.T, id, inst int64, key *rsa.PrivateKey) *Client {
	t.Helper()
	c, err := New(Options{
		BaseURL: e.fake.URL(), HTTPClient: e.fake.Client(), Metrics: e.rec,
		App: &App{ID: id, InstallationID: inst, Key: key, KeyFile: "testdata/app.pem", Now: e.clock.Now},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tokensUsed lists the installation tokens the API requests to acme/catalog
// carried, in order, and how many token requests were made.
func (e *appEnv) tokensUsed() (used []string, fetches int) {
	for _, r := range e.fake.Requests() {
		switch {
		case strings.HasSuffix(r.Path, "/access_tokens"):
			fetches++
		case strings.HasPrefix(r.Path, "/repos/acme/catalog/"):
			used = append(used, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		}
	}
	return used, fetches
}

func (e *appEnv) issued() []string {
	var out []string
	for _, t := range e.fake.InstallationTokens(7) {
		out = append(out, t.Token)
	}
	return out
}

func head(t *testing.T, c *Client) {
	t.Helper()
	if _, err := c.BranchHead(context.Background(), "acme", "catalog", "main"); err != nil {
		t.Fatalf("BranchHead: %v", err)
	}
}

func TestAppTokenReusedAndRenewed(t *testing.T) {
	e := newAppEnv(t)
	key, _ := testKeys(t)
	c := e.client(t, 42, 7, key)
	for range 5 {
		head(t, c)
	}
	issued := e.issued()
	if used, fetches := e.tokensUsed(); fetches != 1 || len(issued) != 1 || len(used) != 5 || used[0] != issued[0] || used[4] != issued[0] {
		t.Fatalf("5 requests: %d token requests, issued %v, used %v", fetches, issued, used)
	}
	if tok, err := c.Token(context.Background()); err != nil || tok != issued[0] {
		t.Errorf("Token: %q %v, want the token the API requests carry", tok, err)
	}

	// Renewed 5 minutes before it expires, not earlier.
	e.clock.set(55*time.Minute-time.Second, start)
	head(t, c)
	if _, fetches := e.tokensUsed(); fetches != 1 {
		t.Errorf("renewed %d times before it was due", fetches-1)
	}
	e.clock.set(55*time.Minute, start)
	head(t, c)
	issued = e.issued()
	used, fetches := e.tokensUsed()
	if fetches != 2 || len(issued) != 2 || used[len(used)-1] != issued[1] {
		t.Fatalf("at 55 minutes: %d token requests, issued %v, last used %v", fetches, issued, used[len(used)-1])
	}
	if tok, _ := c.Token(context.Background()); tok != issued[1] {
		t.Errorf("Token after renewal: %q, want %q", tok, issued[1])
	}

	// Long after both expired: a new one, and the fake takes it.
	e.clock.set(3*time.Hour, start)
	head(t, c)
	if issued := e.issued(); len(issued) != 3 {
		t.Errorf("after 3 hours: issued %v", issued)
	}
	r := e.rec.renewed()
	if len(r) != 3 || r[0].err != nil || !r[0].expires.Equal(start.Add(time.Hour)) || !r[2].expires.Equal(start.Add(4*time.Hour)) {
		t.Errorf("renewals recorded: %+v", r)
	}
}

func TestAppTokenConcurrent(t *testing.T) {
	e := newAppEnv(t)
	key, _ := testKeys(t)
	c := e.client(t, 42, 7, key)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := c.BranchHead(context.Background(), "acme", "catalog", "main"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if used, fetches := e.tokensUsed(); fetches != 1 || len(used) != 20 {
		t.Errorf("20 concurrent requests: %d token requests, %d API requests", fetches, len(used))
	}
}

// TestAppRenewalFails: a renewal GitHub fails is retried with backoff,
// reported, and the current token serves until just before it expires;
// then requests fail, saying why, until a renewal succeeds.
func TestAppRenewalFails(t *testing.T) {
	e := newAppEnv(t)
	key, _ := testKeys(t)
	c := e.client(t, 42, 7, key)
	head(t, c)
	first := e.issued()[0]
	fail := func() { e.fake.FailNext("POST", "/app/installations/7/access_tokens", 502) }

	e.clock.set(56*time.Minute, start)
	fail()
	head(t, c)
	used, fetches := e.tokensUsed()
	if fetches != 2 || used[len(used)-1] != first {
		t.Fatalf("failed renewal: %d token requests, last used %q, want the current token", fetches, used[len(used)-1])
	}
	if r := e.rec.renewed(); len(r) != 2 || r[1].err == nil || !strings.Contains(r[1].err.Error(), "502") || !r[1].expires.Equal(start.Add(time.Hour)) {
		t.Errorf("failed renewal recorded as %+v", r)
	}
	head(t, c) // within the backoff: no new attempt
	if _, fetches := e.tokensUsed(); fetches != 2 {
		t.Errorf("retried within the backoff: %d token requests", fetches)
	}
	e.clock.set(56*time.Minute+retryFirst, start)
	fail()
	head(t, c) // retried, failed again, still served
	if _, fetches := e.tokensUsed(); fetches != 3 {
		t.Errorf("after the backoff: %d token requests, want a retry", fetches)
	}

	// Past the point where the token is no longer handed out.
	e.clock.set(time.Hour-stopBefore, start)
	fail()
	_, err := c.BranchHead(context.Background(), "acme", "catalog", "main")
	if err == nil || !strings.Contains(err.Error(), "GitHub App 42, installation 7") || !strings.Contains(err.Error(), "502") {
		t.Fatalf("no usable token: %v", err)
	}
	_, err = c.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "next attempt in") {
		t.Errorf("within the backoff without a token: %v", err)
	}
	if _, fetches := e.tokensUsed(); fetches != 4 {
		t.Errorf("%d token requests, want 4", fetches)
	}
	e.clock.set(time.Hour-stopBefore+retryMax, start)
	head(t, c)
	if used, _ := e.tokensUsed(); used[len(used)-1] != e.issued()[1] {
		t.Errorf("after GitHub recovered: used %q, want the new token", used[len(used)-1])
	}
}

// TestAppRefused: what GitHub answers for a wrong key, App or
// installation becomes an error saying what to check, matching
// ErrCredentials, at Verify and on every call.
func TestAppRefused(t *testing.T) {
	key, wrongKey := testKeys(t)
	for _, tc := range []struct {
		name      string
		id, inst  int64
		key       *rsa.PrivateKey
		want, got string
	}{
		{"another key", 42, 7, wrongKey, "testdata/app.pem is not the private key of App 42", "401 A JSON web token could not be decoded"},
		{"no such App", 43, 7, key, "there is no GitHub App 43", "404 Integration not found"},
		{"no such installation", 42, 8, key, "App 42 has no installation 8", "404 Not Found"},
		{"suspended installation", 42, 9, key, "GitHub refused installation 9", "403 This installation has been suspended"},
	} {
		e := newAppEnv(t)
		e.fake.AddInstallation(42, 9, "acme")
		e.fake.SuspendInstallation(9)
		c := e.client(t, tc.id, tc.inst, tc.key)
		_, _, err := c.Verify(context.Background())
		if !errors.Is(err, ErrCredentials) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.got) {
			t.Errorf("%s: Verify: %v", tc.name, err)
		}
		_, err = c.BranchHead(context.Background(), "acme", "catalog", "main")
		if !strings.Contains(fmtErr(err), tc.want) {
			t.Errorf("%s: BranchHead: %v", tc.name, err)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestAppUninstalled: once GitHub stops taking the token (the App was
// uninstalled), the next request asks for a new one and says why it
// cannot have one, instead of "Bad credentials" for the rest of the hour.
func TestAppUninstalled(t *testing.T) {
	e := newAppEnv(t)
	key, _ := testKeys(t)
	c := e.client(t, 42, 7, key)
	head(t, c)
	e.fake.RemoveInstallation(7)
	if _, err := c.BranchHead(context.Background(), "acme", "catalog", "main"); err == nil || !strings.Contains(err.Error(), "Bad credentials") {
		t.Fatalf("first request after removal: %v", err)
	}
	_, err := c.BranchHead(context.Background(), "acme", "catalog", "main")
	if !errors.Is(err, ErrCredentials) || !strings.Contains(err.Error(), "App 42 has no installation 7") {
		t.Errorf("second request after removal: %v", err)
	}
}

func TestAppLogin(t *testing.T) {
	e := newAppEnv(t)
	key, _ := testKeys(t)
	c := e.client(t, 42, 7, key)
	login, expires, err := c.Verify(context.Background())
	if err != nil || login != "pier-acme[bot]" || !expires.Equal(start.Add(time.Hour)) {
		t.Fatalf("Verify: %q %v %v", login, expires, err)
	}
	if again, err := c.Login(context.Background()); err != nil || again != login {
		t.Errorf("Login: %q %v", again, err)
	}
	for _, r := range e.fake.Requests() {
		if r.Path == "/user" {
			t.Errorf("asked GET /user, which GitHub refuses an installation token")
		}
	}
}

func TestNewAppOptions(t *testing.T) {
	key, _ := testKeys(t)
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Token: "ghp_x", App: &App{ID: 1, InstallationID: 2, Key: key}}, "exclusive"},
		{Options{App: &App{ID: 0, InstallationID: 2, Key: key}}, "GitHub App id 0"},
		{Options{App: &App{ID: 1, InstallationID: -2, Key: key}}, "installation id -2"},
		{Options{App: &App{ID: 1, InstallationID: 2}}, "no private key"},
	} {
		if _, err := New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.opts.App, err, tc.want)
		}
	}
}
