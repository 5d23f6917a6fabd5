package api

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/identity"
	"github.com/pierhq/pier/internal/metrics"
)

// Client is an API client allowed to exchange its secret for tokens.
// A client may act for a person (Login: runs it asks for are theirs, its
// rights are theirs) and hold roles of its own (a CI workflow reporting
// runs).
type Client struct {
	ID     string   `json:"clientId"`
	Secret string   `json:"clientSecret"`
	Login  string   `json:"login,omitempty"`
	Roles  []string `json:"roles,omitempty"`
}

// Auth issues and checks bearer tokens. Tokens are stateless: an HMAC of
// the client id and expiry under a key derived from the configured
// secrets, so replicas sharing the configuration accept each other's
// tokens and a restart does not log clients out. Rotating a secret
// revokes every token.
type Auth struct {
	Clients []Client
	// AnonymousReads lets unauthenticated callers read.
	AnonymousReads bool
	// TTL of issued tokens; default one hour (Port's expiresIn).
	TTL time.Duration
	// MetricsToken, when set, is a bearer token that reads /metrics and
	// nothing else: a scraper's static credential (a client's tokens
	// expire, and are exchanged in a way Prometheus cannot).
	MetricsToken string
}

// scraperID is who presents the metrics token.
const scraperID = "metrics"

// caller is who makes a request: an API client (acting for a person or
// for nobody), a person through their session or a personal token, or
// the scraper. nil is an anonymous caller.
type caller struct {
	// ID is who the audit log and runs record: the login acted for, or
	// the client's id.
	ID string
	// Login is the GitHub login of the person acted for; "" for a client
	// acting for nobody.
	Login   string
	client  string   // the client's id, for a client's token
	roles   []string // the client's configured roles
	token   string   // the personal token's id
	person  *identity.Person
	session *identity.Signed
	scraper bool // presented the metrics token
	grants  *access.Grants
}

// clientCaller is the caller a client's token names.
func (a *Auth) clientCaller(id string) (*caller, error) {
	for _, cl := range a.Clients {
		if cl.ID == id {
			return &caller{ID: cmp.Or(cl.Login, cl.ID), Login: cl.Login, client: cl.ID, roles: cl.Roles}, nil
		}
	}
	return nil, errors.New("invalid token: its client is no longer configured")
}

func (a *Auth) ttl() time.Duration {
	if a.TTL == 0 {
		return time.Hour
	}
	return a.TTL
}

func (a *Auth) key() []byte {
	secrets := make([]string, 0, len(a.Clients))
	for _, c := range a.Clients {
		secrets = append(secrets, c.ID+"\x00"+c.Secret)
	}
	sort.Strings(secrets)
	h := sha256.New()
	h.Write([]byte("pier access token key v1"))
	for _, s := range secrets {
		h.Write([]byte{0})
		h.Write([]byte(s))
	}
	return h.Sum(nil)
}

type claims struct {
	Sub string `json:"sub"`
	Exp int64  `json:"exp"`
}

// issue returns a token for a client whose secret matched.
func (a *Auth) issue(id string, now time.Time) (string, time.Duration) {
	ttl := a.ttl()
	payload, _ := json.Marshal(claims{Sub: id, Exp: now.Add(ttl).Unix()})
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + a.sign(p), ttl
}

func (a *Auth) sign(p string) string {
	m := hmac.New(sha256.New, a.key())
	m.Write([]byte(p))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// check verifies the credentials of a token exchange. Its work depends
// neither on whether the id is known nor on how much of the secret is
// right: ids and secrets are compared as SHA-256 digests, of one length
// (ConstantTimeCompare returns at once on different lengths), and every
// client is compared, so an unknown id is answered no sooner than a wrong
// secret.
func (a *Auth) check(id, secret string) bool {
	ok := false
	for _, c := range a.Clients {
		idOK, secretOK := sameSecret(c.ID, id), sameSecret(c.Secret, secret) // both, always
		ok = ok || idOK && secretOK
	}
	return ok
}

// sameSecret compares secrets in constant time, lengths included.
func sameSecret(a, b string) bool {
	da, db := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return constantTimeCompare(da[:], db[:]) == 1
}

// constantTimeCompare is subtle's, a variable so that a test can see
// what check compares.
var constantTimeCompare = subtle.ConstantTimeCompare

// identify returns the caller of a request: the bearer token's (a
// client's, a personal one, the scraper's), else the session cookie's;
// nil with no error for an anonymous caller, an error when the
// credentials are bad.
func (s *Server) identify(r *http.Request, now time.Time) (*caller, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return s.person(r)
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, errors.New("the Authorization header must be \"Bearer <token>\"")
	}
	tok = strings.TrimSpace(tok)
	if strings.HasPrefix(tok, identity.TokenPrefix) {
		return s.personalToken(r.Context(), tok)
	}
	return s.opts.Auth.identify(tok, now)
}

// identify returns the caller a client's (or the scraper's) token names.
func (a *Auth) identify(tok string, now time.Time) (*caller, error) {
	if a.MetricsToken != "" && sameSecret(tok, a.MetricsToken) {
		return &caller{ID: scraperID, scraper: true}, nil
	}
	p, sig, ok := strings.Cut(tok, ".")
	if !ok || len(a.Clients) == 0 || !hmac.Equal([]byte(sig), []byte(a.sign(p))) {
		return nil, errors.New("invalid token")
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, errors.New("invalid token")
	}
	var c claims
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, errors.New("invalid token")
	}
	if now.Unix() >= c.Exp {
		return nil, fmt.Errorf("token expired at %s", time.Unix(c.Exp, 0).UTC().Format(time.RFC3339))
	}
	return a.clientCaller(c.Sub)
}

// accessToken is Port's POST /v1/auth/access_token. Exchanges are
// limited per address, on top of the API's limit: this is where secrets
// are guessed.
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request, _ *caller) int {
	if !s.spend(w, s.tokens, metrics.LimitToken, s.opts.Limits.callerAddr(r), s.opts.Now(), s.opts.Limits.TokenRate, s.opts.Limits.TokenBurst) {
		return http.StatusTooManyRequests
	}
	var body struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
	}
	if code, ok := decodeBody(w, r, &body); !ok {
		return code
	}
	if body.ClientID == "" || body.ClientSecret == "" {
		return writeError(w, http.StatusBadRequest, "invalid_request", "clientId and clientSecret are required")
	}
	if !s.opts.Auth.check(body.ClientID, body.ClientSecret) {
		return s.unauthenticated(w, r, metrics.RefusedBadCredentials, "invalid_credentials", "unknown clientId or wrong clientSecret")
	}
	tok, ttl := s.opts.Auth.issue(body.ClientID, s.opts.Now())
	return writeJSON(w, http.StatusOK, map[string]any{
		"accessToken": tok,
		"expiresIn":   int(ttl.Seconds()),
		"tokenType":   "Bearer",
	})
}
