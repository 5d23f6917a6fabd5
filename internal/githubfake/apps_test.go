package githubfake

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
)

var (
	keysOnce         sync.Once
	appKey, otherKey *rsa.PrivateKey
)

// testKeys are made once per test binary.
func testKeys(t *testing.T) (app, other *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		appKey, _ = NewAppKey()
		otherKey, _ = NewAppKey()
	})
	return appKey, otherKey
}

// signJWT makes a JWT of header and claims signed with key (RS256
// whatever the header says), written here rather than taken from pier so
// that the fake's rules are checked on their own.
func signJWT(t *testing.T, key *rsa.PrivateKey, header, claims string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	s := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	sum := sha256.Sum256([]byte(s))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return s + "." + enc.EncodeToString(sig)
}

func jwtClaims(iat, exp int64, iss string) string {
	b, _ := json.Marshal(map[string]any{"iat": iat, "exp": exp, "iss": json.RawMessage(iss)})
	return string(b)
}

const rs256 = `{"alg":"RS256","typ":"JWT"}`

// send sends a request with an Authorization header of the test's
// choosing ("" for none) and decodes the JSON answer.
func send(t *testing.T, f *Fake, method, path, auth string) (int, map[string]any) {
	t.Helper()
	code, _, out := do(t, f, method, path, auth, "")
	return code, out
}

func newAppFake(t *testing.T) (*Fake, *time.Time) {
	t.Helper()
	key, _ := testKeys(t)
	f := New()
	t.Cleanup(f.Close)
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	f.SetNow(func() time.Time { return now })
	f.AddRepo("acme", "catalog")
	f.AddRepo("acme", "workflows")
	f.AddRepo("acme", "secret-plans")
	f.AddRepo("globex", "catalog")
	f.AddApp(42, "pier-acme", &key.PublicKey)
	f.AddInstallation(42, 7, "acme", "acme/catalog", "acme/workflows")
	return f, &now
}

// TestAppJWT checks the rules GitHub applies to an App's JWT, with its
// answers.
func TestAppJWT(t *testing.T) {
	f, now := newAppFake(t)
	key, other := testKeys(t)
	n := now.Unix()
	tests := []struct {
		name string
		auth string
		code int
		msg  string
	}{
		{"valid, iss a string", "Bearer " + signJWT(t, key, rs256, jwtClaims(n-60, n+540, `"42"`)), 200, ""},
		{"valid, iss a number", "Bearer " + signJWT(t, key, rs256, jwtClaims(n-60, n+540, `42`)), 200, ""},
		{"exactly 10 minutes", "Bearer " + signJWT(t, key, rs256, jwtClaims(n, n+600, `42`)), 200, ""},
		{"another key", "Bearer " + signJWT(t, other, rs256, jwtClaims(n-60, n+540, `42`)), 401, msgJWTUndecodable},
		{"alg none", "Bearer " + strings.Join(strings.Split(signJWT(t, key, `{"alg":"none"}`, jwtClaims(n-60, n+540, `42`)), ".")[:2], ".") + ".", 401, msgJWTUndecodable},
		{"alg HS256", "Bearer " + signJWT(t, key, `{"alg":"HS256"}`, jwtClaims(n-60, n+540, `42`)), 401, msgJWTUndecodable},
		{"lives 10 minutes and a second", "Bearer " + signJWT(t, key, rs256, jwtClaims(n-60, n+541, `42`)), 401, msgJWTTooLong},
		{"expired", "Bearer " + signJWT(t, key, rs256, jwtClaims(n-600, n, `42`)), 401, msgJWTExpired},
		{"issued in the future", "Bearer " + signJWT(t, key, rs256, jwtClaims(n+30, n+540, `42`)), 401, msgJWTIssuedAt},
		{"iss not an integer", "Bearer " + signJWT(t, key, rs256, jwtClaims(n-60, n+540, `"pier"`)), 401, msgJWTIssuer},
		{"no such App", "Bearer " + signJWT(t, key, rs256, jwtClaims(n-60, n+540, `43`)), 404, "Integration not found"},
		{"no credentials", "", 401, msgJWTUndecodable},
		{"not a JWT", "Bearer ghp_16C7e42F292c6912E7710c838347Ae178B4a", 401, msgJWTUndecodable},
	}
	for _, tc := range tests {
		code, body := send(t, f, "GET", "/app", tc.auth)
		if code != tc.code || (tc.msg != "" && body["message"] != tc.msg) {
			t.Errorf("%s: %d %v, want %d %q", tc.name, code, body["message"], tc.code, tc.msg)
		}
		if code == 200 && (body["slug"] != "pier-acme" || body["id"] != 42.0) {
			t.Errorf("%s: GET /app answered %v", tc.name, body)
		}
	}
	// GitHub measures exp from now as well as from iat.
	code, body := send(t, f, "GET", "/app", "Bearer "+signJWT(t, key, rs256, jwtClaims(n-60, n+601, `42`)))
	if code != 401 || body["message"] != msgJWTTooLong {
		t.Errorf("exp 10 minutes and a second from now: %d %v", code, body)
	}
	// A JWT is for /app; elsewhere it is no credential.
	jwt := signJWT(t, key, rs256, jwtClaims(n-60, n+540, `42`))
	if code, body := send(t, f, "GET", "/repos/acme/catalog/git/ref/heads/main", "Bearer "+jwt); code != 401 || body["message"] != "Bad credentials" {
		t.Errorf("a JWT on /repos: %d %v", code, body)
	}
}

func TestInstallationToken(t *testing.T) {
	f, now := newAppFake(t)
	key, other := testKeys(t)
	f.AddApp(43, "other-app", &other.PublicKey)
	jwt := func(k *rsa.PrivateKey, iss string) string {
		return "Bearer " + signJWT(t, k, rs256, jwtClaims(now.Unix()-60, now.Unix()+540, iss))
	}

	// GitHub's documented answer, parsed by go-github as pier does.
	c := github.NewClient(&http.Client{Transport: authTransport{jwt(key, "42")}})
	c.BaseURL, _ = c.BaseURL.Parse(f.URL() + "/")
	tok, resp, err := c.Apps.CreateInstallationToken(context.Background(), 7, nil)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v", err)
	}
	if !strings.HasPrefix(tok.GetToken(), "ghs_") || !tok.GetExpiresAt().Time.Equal(now.Add(time.Hour)) ||
		len(tok.Repositories) != 2 || tok.Repositories[0].GetFullName() != "acme/catalog" ||
		tok.GetPermissions().GetContents() != "write" || tok.GetPermissions().GetMembers() != "read" {
		t.Fatalf("installation token: %+v", tok)
	}
	if code, body := send(t, f, "POST", "/app/installations/7/access_tokens", jwt(key, "42")); code != 201 || body["repository_selection"] != "selected" {
		t.Errorf("repository_selection: %d %v", code, body)
	}
	if got := f.InstallationTokens(7); len(got) != 2 || got[0].Token != tok.GetToken() {
		t.Fatalf("InstallationTokens: %+v", got)
	}
	for _, tc := range []struct {
		name, path, auth string
	}{
		{"another App's installation", "/app/installations/7/access_tokens", jwt(other, "43")},
		{"no such installation", "/app/installations/8/access_tokens", jwt(key, "42")},
	} {
		if code, body := send(t, f, "POST", tc.path, tc.auth); code != 404 || body["message"] != "Not Found" {
			t.Errorf("%s: %d %v", tc.name, code, body)
		}
	}

	bearer := "Bearer " + tok.GetToken()
	// It acts as the App's bot, on the installation's repositories only.
	code, _, body := do(t, f, "POST", "/repos/acme/catalog/statuses/"+sha, bearer, `{"state":"success","context":"pier/reconcile"}`)
	if creator, _ := body["creator"].(map[string]any); code != 201 || creator["login"] != "pier-acme[bot]" || creator["type"] != "Bot" {
		t.Errorf("status as the installation: %d %v", code, body)
	}
	if code, body := send(t, f, "GET", "/repos/acme/secret-plans/git/ref/heads/main", bearer); code != 404 {
		t.Errorf("a repository outside the installation: %d %v", code, body)
	}
	if code, body := send(t, f, "GET", "/repos/globex/catalog/git/ref/heads/main", bearer); code != 404 {
		t.Errorf("another organisation's repository: %d %v", code, body)
	}
	if code, body := send(t, f, "GET", "/user", bearer); code != 403 || body["message"] != "Resource not accessible by integration" {
		t.Errorf("GET /user as the installation: %d %v", code, body)
	}
	if code, body := send(t, f, "GET", "/repos/acme/catalog/git/ref/heads/main", ""); code != 401 || body["message"] != "Requires authentication" {
		t.Errorf("no credentials once an App exists: %d %v", code, body)
	}
	if code, body := send(t, f, "GET", "/repos/acme/catalog/git/ref/heads/main", "Bearer ghs_madeUp"); code != 401 || body["message"] != "Bad credentials" {
		t.Errorf("a made-up token: %d %v", code, body)
	}

	// It expires.
	*now = now.Add(time.Hour - time.Second)
	if code, _ := send(t, f, "GET", "/repos/acme/catalog/git/ref/heads/main", bearer); code != 200 {
		t.Errorf("a second before expiry: %d", code)
	}
	*now = now.Add(time.Second)
	if code, body := send(t, f, "GET", "/repos/acme/catalog/git/ref/heads/main", bearer); code != 401 || body["message"] != "Bad credentials" {
		t.Errorf("expired: %d %v", code, body)
	}

	// A shorter lifetime, then the App uninstalled.
	f.SetInstallationTokenTTL(5 * time.Minute)
	code, body = send(t, f, "POST", "/app/installations/7/access_tokens", jwt(key, "42"))
	if code != 201 || body["expires_at"] != now.Add(5*time.Minute).Format(time.RFC3339) {
		t.Fatalf("short-lived token: %d %v", code, body)
	}
	second := "Bearer " + body["token"].(string)
	f.SuspendInstallation(7)
	if code, _ := send(t, f, "GET", "/repos/acme/catalog/git/ref/heads/main", second); code != 401 {
		t.Errorf("token of a suspended installation: %d", code)
	}
	if code, body := send(t, f, "POST", "/app/installations/7/access_tokens", jwt(key, "42")); code != 403 || body["message"] != "This installation has been suspended" {
		t.Errorf("token for a suspended installation: %d %v", code, body)
	}
	f.RemoveInstallation(7)
	if code, _ := send(t, f, "GET", "/repos/acme/catalog/git/ref/heads/main", second); code != 401 {
		t.Errorf("token of a removed installation: %d", code)
	}
	if code, _ := send(t, f, "POST", "/app/installations/7/access_tokens", jwt(key, "42")); code != 404 {
		t.Errorf("token for a removed installation: %d", code)
	}
}

// TestRequireTokenWithApps: RequireToken's token still works next to an
// App's installation tokens, as the user.
func TestRequireTokenWithApps(t *testing.T) {
	f, _ := newAppFake(t)
	f.RequireToken("ghp_person")
	code, body := send(t, f, "GET", "/user", "Bearer ghp_person")
	if code != 200 || body["login"] != "octocat" {
		t.Errorf("GET /user with the token: %d %v", code, body)
	}
	if code, _ := send(t, f, "GET", "/repos/acme/secret-plans/git/ref/heads/main", "token ghp_person"); code != 200 {
		t.Errorf("the person's token sees every repository: %d", code)
	}
}

func TestGitHTTP(t *testing.T) {
	f, now := newAppFake(t)
	key, _ := testKeys(t)
	f.RequireToken("ghp_person")
	_, body := send(t, f, "POST", "/app/installations/7/access_tokens",
		"Bearer "+signJWT(t, key, rs256, jwtClaims(now.Unix()-60, now.Unix()+540, "42")))
	token := body["token"].(string)
	h := f.GitHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "served") }))

	for _, tc := range []struct {
		name, path, user, password string
		code                       int
	}{
		{"installation token", "/acme/catalog.git/info/refs", "x-access-token", token, 200},
		{"the person's token", "/acme/secret-plans.git/info/refs", "x-access-token", "ghp_person", 200},
		{"no credentials", "/acme/catalog.git/info/refs", "", "", 401},
		{"wrong token", "/acme/catalog.git/info/refs", "x-access-token", "ghs_madeUp", 401},
		{"outside the installation", "/acme/secret-plans.git/info/refs", "x-access-token", token, 404},
		{"no such repository", "/acme/nothing.git/info/refs", "x-access-token", token, 404},
	} {
		req, _ := http.NewRequest("GET", tc.path+"?service=git-upload-pack", nil)
		if tc.user != "" || tc.password != "" {
			req.SetBasicAuth(tc.user, tc.password)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.code)
		}
		if tc.code == 401 && w.Header().Get("WWW-Authenticate") != `Basic realm="GitHub"` {
			t.Errorf("%s: no Basic challenge: %v", tc.name, w.Header())
		}
	}
	*now = now.Add(time.Hour)
	req, _ := http.NewRequest("GET", "/acme/catalog.git/info/refs?service=git-upload-pack", nil)
	req.SetBasicAuth("x-access-token", token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 401 {
		t.Errorf("expired installation token: %d", w.Code)
	}
	var git int
	for _, r := range f.Requests() {
		if strings.HasSuffix(r.Path, "/info/refs") {
			git++
		}
	}
	if git != 7 {
		t.Errorf("%d git requests recorded, want 7", git)
	}
}

// authTransport sets one Authorization header.
type authTransport struct{ auth string }

func (a authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", a.auth)
	return http.DefaultTransport.RoundTrip(r)
}
