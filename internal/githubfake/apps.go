package githubfake

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file is GitHub Apps: the App's JWT, installation tokens, and who a
// request acts as. An App is known by its public key; a request to
// /app/... must carry a JWT the App's private key signed, with GitHub's
// rules on its claims; an installation token is good for an hour (or
// SetInstallationTokenTTL), only on the installation's repositories, and
// acts as "<slug>[bot]".

// DefaultInstallationTokenTTL is how long GitHub's installation tokens
// live.
const DefaultInstallationTokenTTL = time.Hour

// maxJWTLifetime is the longest GitHub takes an App JWT for.
const maxJWTLifetime = 10 * time.Minute

const (
	docAppToken = "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"
	docApp      = "https://docs.github.com/rest/apps/apps#get-the-authenticated-app"
	docUser     = "https://docs.github.com/rest/users/users#get-the-authenticated-user"
)

// GitHub's answers to a JWT it does not take, verbatim.
const (
	msgJWTUndecodable = "A JSON web token could not be decoded"
	msgJWTIssuer      = "'Issuer' claim ('iss') must be an Integer"
	msgJWTIssuedAt    = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	msgJWTExpired     = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	msgJWTTooLong     = "'Expiration time' claim ('exp') is too far in the future"
)

// installationPermissions are what the fake's installations are granted:
// what pier's README asks an App for.
var installationPermissions = map[string]string{
	"actions": "write", "contents": "write", "metadata": "read", "members": "read",
	"pull_requests": "write", "statuses": "write",
}

type app struct {
	id      int64
	slug    string
	key     *rsa.PublicKey
	created time.Time
}

type installation struct {
	id        int64
	app       *app
	account   string   // the organisation (or user) it is installed on
	repos     []string // repoKeys it may use; nil for all of account's
	removed   bool
	suspended bool
}

// holds reports whether the installation may use rp.
func (in *installation) holds(rp *repository) bool {
	if !strings.EqualFold(in.account, rp.owner) {
		return false
	}
	return in.repos == nil || slices.Contains(in.repos, repoKey(rp.owner, rp.name))
}

// InstallationToken is an installation token the fake issued.
type InstallationToken struct {
	Token        string
	Installation int64
	ExpiresAt    time.Time
	installation *installation
}

// caller is who a request authenticated as.
type caller struct {
	user User
	app  *app          // a request with the App's JWT
	inst *installation // a request with an installation token
}

type callerKey struct{}

// caller returns who r acts as: the token's user, or an App's bot.
func (f *Fake) caller(r *http.Request) User {
	if c, ok := r.Context().Value(callerKey{}).(caller); ok {
		return c.user
	}
	return f.user
}

// installationOf returns the installation whose token r carries, or nil.
func installationOf(r *http.Request) *installation {
	c, _ := r.Context().Value(callerKey{}).(caller)
	return c.inst
}

// NewAppKey makes an App's private key as GitHub's "Generate a private
// key" does: 2048-bit RSA, PEM-encoded PKCS#1. AddApp takes its public
// half; pier reads the PEM.
func NewAppKey() (*rsa.PrivateKey, []byte) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("githubfake: " + err.Error())
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// AddApp registers GitHub App id, named slug, whose JWTs are checked
// with key.
func (f *Fake) AddApp(id int64, slug string, key *rsa.PublicKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apps[id] = &app{id: id, slug: slug, key: key, created: f.stamp()}
}

// AddInstallation installs App appID on account as installation id, for
// the repositories given ("owner/name"), or for all of account's when
// none are.
func (f *Fake) AddInstallation(appID, id int64, account string, repos ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.apps[appID]
	if a == nil {
		panic("githubfake: no App " + strconv.FormatInt(appID, 10) + " (AddApp first)")
	}
	in := &installation{id: id, app: a, account: account}
	for _, r := range repos {
		owner, name, _ := strings.Cut(r, "/")
		in.repos = append(in.repos, repoKey(owner, name))
	}
	f.installations[id] = in
}

// RemoveInstallation uninstalls the App, as an organisation owner may:
// its tokens stop working and no new ones are issued.
func (f *Fake) RemoveInstallation(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mustInstallation(id).removed = true
}

// SuspendInstallation suspends the installation, as an organisation
// owner may: its tokens stop working, and asking for one is refused
// with GitHub's 403.
func (f *Fake) SuspendInstallation(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mustInstallation(id).suspended = true
}

// SetInstallationTokenTTL sets how long the installation tokens issued
// from now on live (DefaultInstallationTokenTTL to begin with).
func (f *Fake) SetInstallationTokenTTL(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenTTL = d
}

// InstallationTokens returns the tokens issued for installation id,
// oldest first.
func (f *Fake) InstallationTokens(id int64) []InstallationToken {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []InstallationToken
	for _, t := range f.issued {
		if t.Installation == id {
			out = append(out, *t)
		}
	}
	return out
}

func (f *Fake) mustInstallation(id int64) *installation {
	in := f.installations[id]
	if in == nil {
		panic("githubfake: no installation " + strconv.FormatInt(id, 10) + " (AddInstallation first)")
	}
	return in
}

// refusal is an answer to a request that did not authenticate.
type refusal struct {
	code     int
	doc, msg string
}

// authenticate says who r acts as, or why GitHub would refuse it. f.mu
// must be held.
func (f *Fake) authenticate(r *http.Request) (caller, *refusal) {
	tok := bearer(r.Header.Get("Authorization"))
	if r.URL.Path == "/app" || strings.HasPrefix(r.URL.Path, "/app/") {
		a, ref := f.verifyJWT(tok)
		if ref != nil {
			return caller{}, ref
		}
		return caller{user: f.botUser(a), app: a}, nil
	}
	return f.credential(tok)
}

// credential says who a token acts as outside /app: an installation
// token's bot, or RequireToken's user. Without RequireToken and Apps,
// anything goes, as the user. f.mu must be held.
func (f *Fake) credential(tok string) (caller, *refusal) {
	bad := &refusal{code: http.StatusUnauthorized, doc: "https://docs.github.com/rest", msg: "Bad credentials"}
	if t, ok := f.tokens[tok]; ok && tok != "" {
		if t.installation.removed || t.installation.suspended || !f.now().Before(t.ExpiresAt) {
			return caller{}, bad
		}
		return caller{user: f.botUser(t.installation.app), inst: t.installation}, nil
	}
	if login, ok := f.userTokens[tok]; ok && tok != "" {
		return caller{user: f.userJSON(login)}, nil // a person signed in with OAuth
	}
	switch {
	case f.token == "" && len(f.apps) == 0:
	case tok == "":
		return caller{}, &refusal{code: http.StatusUnauthorized, doc: "https://docs.github.com/rest", msg: "Requires authentication"}
	case tok != f.token:
		return caller{}, bad
	}
	return caller{user: f.user}, nil
}

// verifyJWT checks an App JWT as GitHub does: RS256 signed by a known
// App's key, issued in the past, not expired, and living at most 10
// minutes. f.mu must be held.
func (f *Fake) verifyJWT(tok string) (*app, *refusal) {
	refuse := func(code int, msg string) (*app, *refusal) {
		return nil, &refusal{code: code, doc: "https://docs.github.com/rest", msg: msg}
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return refuse(http.StatusUnauthorized, msgJWTUndecodable)
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if !decodeSegment(parts[0], &header) || header.Alg != "RS256" {
		return refuse(http.StatusUnauthorized, msgJWTUndecodable)
	}
	var claims map[string]any
	if !decodeSegment(parts[1], &claims) {
		return refuse(http.StatusUnauthorized, msgJWTUndecodable)
	}
	iss, ok := integerClaim(claims["iss"], true)
	if !ok {
		return refuse(http.StatusUnauthorized, msgJWTIssuer)
	}
	a := f.apps[iss]
	if a == nil {
		return refuse(http.StatusNotFound, "Integration not found")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err != nil || rsa.VerifyPKCS1v15(a.key, crypto.SHA256, sum[:], sig) != nil {
		return refuse(http.StatusUnauthorized, msgJWTUndecodable)
	}
	now := f.now().Unix()
	iat, ok := integerClaim(claims["iat"], false)
	if !ok || iat > now {
		return refuse(http.StatusUnauthorized, msgJWTIssuedAt)
	}
	exp, ok := integerClaim(claims["exp"], false)
	switch {
	case !ok || exp <= now:
		return refuse(http.StatusUnauthorized, msgJWTExpired)
	case exp-iat > int64(maxJWTLifetime/time.Second) || exp-now > int64(maxJWTLifetime/time.Second):
		return refuse(http.StatusUnauthorized, msgJWTTooLong)
	}
	return a, nil
}

// decodeSegment decodes a base64url JSON segment of a JWT.
func decodeSegment(s string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return false
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	return d.Decode(v) == nil
}

// integerClaim reads a JWT claim that must be an integer; the issuer may
// also be one written as a string.
func integerClaim(v any, orString bool) (int64, bool) {
	switch v := v.(type) {
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case string:
		if !orString {
			return 0, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil && n > 0
	}
	return 0, false
}

// botUser is the account an App acts as.
func (f *Fake) botUser(a *app) User {
	login := a.slug + "[bot]"
	return User{
		Login:     login,
		ID:        stableID("bot:" + a.slug),
		NodeID:    base64.StdEncoding.EncodeToString([]byte("Bot" + login)),
		AvatarURL: "https://avatars.githubusercontent.com/in/" + strconv.FormatInt(a.id, 10) + "?v=4",
		URL:       f.srv.URL + "/users/" + url.PathEscape(login),
		HTMLURL:   "https://github.com/apps/" + a.slug,
		Type:      "Bot",
	}
}

// bot returns the bot user whose login is login, if an App has it. f.mu
// must be held.
func (f *Fake) bot(login string) (User, bool) {
	for _, a := range f.apps {
		if strings.EqualFold(login, a.slug+"[bot]") {
			return f.botUser(a), true
		}
	}
	return User{}, false
}

// withCaller returns r carrying who it acts as, for the endpoints.
func withCaller(r *http.Request, c caller) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
}

// createInstallationToken implements POST
// /app/installations/{id}/access_tokens: a token for the installation,
// with all its repositories and permissions (narrowing them in the body
// is accepted and not modelled).
func (f *Fake) createInstallationToken(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	if !decode(w, r, docAppToken, &in) {
		return
	}
	c, _ := r.Context().Value(callerKey{}).(caller)
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	inst := f.installations[id]
	switch {
	case inst == nil || inst.removed || inst.app != c.app:
		apiError(w, http.StatusNotFound, docAppToken, "Not Found")
		return
	case inst.suspended:
		apiError(w, http.StatusForbidden, docAppToken, "This installation has been suspended")
		return
	}
	t := &InstallationToken{
		Token:        "ghs_" + rand.Text(),
		Installation: id,
		ExpiresAt:    f.stamp().Add(f.tokenTTL),
		installation: inst,
	}
	f.tokens[t.Token] = t
	f.issued = append(f.issued, t)
	out := map[string]any{
		"token":                t.Token,
		"expires_at":           t.ExpiresAt.UTC().Format(time.RFC3339),
		"permissions":          installationPermissions,
		"repository_selection": "all",
	}
	if inst.repos != nil {
		out["repository_selection"] = "selected"
		var repos []repoJSON
		for _, key := range inst.repos {
			if rp := f.repos[key]; rp != nil {
				repos = append(repos, f.repoJSON(rp))
			}
		}
		out["repositories"] = repos
	}
	writeJSON(w, http.StatusCreated, out)
}

// getApp implements GET /app: the App whose JWT the request carries.
func (f *Fake) getApp(w http.ResponseWriter, r *http.Request) {
	c, _ := r.Context().Value(callerKey{}).(caller)
	f.mu.Lock()
	defer f.mu.Unlock()
	a := c.app
	writeJSON(w, http.StatusOK, map[string]any{
		"id":           a.id,
		"slug":         a.slug,
		"client_id":    "Iv1." + strconv.FormatInt(stableID("client:"+a.slug), 16),
		"node_id":      base64.StdEncoding.EncodeToString([]byte("Integration" + strconv.FormatInt(a.id, 10))),
		"owner":        f.user,
		"name":         a.slug,
		"description":  "",
		"external_url": "https://example.com",
		"html_url":     "https://github.com/apps/" + a.slug,
		"created_at":   a.created,
		"updated_at":   a.created,
		"permissions":  installationPermissions,
		"events":       []string{"pull_request", "pull_request_review", "push", "workflow_run"},
	})
}
