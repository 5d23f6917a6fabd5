package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pierhq/pier/internal/store"
)

// SessionStore keeps sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, s store.Session) error
	Session(ctx context.Context, idHash string) (store.Session, error)
	DeleteSession(ctx context.Context, idHash string) error
	DeleteSessions(ctx context.Context, login string) (int, error)
}

// SessionCookie names the session cookie.
const SessionCookie = "pier_session"

// DefaultSessionTTL is how long a session lasts unless configured.
const DefaultSessionTTL = 12 * time.Hour

// Sessions keeps people signed in. The cookie holds 32 random bytes; the
// store, their SHA-256: reading the database does not let anyone sign in.
type Sessions struct {
	Store SessionStore
	// TTL is a session's lifetime from sign-in (DefaultSessionTTL).
	TTL time.Duration
	// Secure marks the cookie Secure; it is also set for any request
	// that came over TLS.
	Secure bool
	Now    func() time.Time
}

// Signed is a request's signed-in person.
type Signed struct {
	Session store.Session
	Person  Person
}

// ErrNoSession is returned by Get for a request without a live session.
var ErrNoSession = errors.New("not signed in")

func (s *Sessions) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Start signs p in and sets the cookie. Any session the request carried
// is ended first: the session id always rotates at sign-in, so that an
// id planted before (session fixation) is worth nothing.
func (s *Sessions) Start(ctx context.Context, w http.ResponseWriter, r *http.Request, p Person) (store.Session, error) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		_ = s.Store.DeleteSession(ctx, hashOf(c.Value))
	}
	id, csrf := random(32), random(24)
	now := s.now().UTC()
	ttl := s.TTL
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	js, err := json.Marshal(p)
	if err != nil {
		return store.Session{}, err
	}
	ss := store.Session{IDHash: hashOf(id), Login: p.Login, Person: js, CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.Store.CreateSession(ctx, ss); err != nil {
		return store.Session{}, fmt.Errorf("sign %s in: %w", p.Login, err)
	}
	http.SetCookie(w, s.cookie(r, id, ss.ExpiresAt))
	return ss, nil
}

func (s *Sessions) cookie(r *http.Request, value string, expires time.Time) *http.Cookie {
	c := &http.Cookie{Name: SessionCookie, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.Secure || r.TLS != nil}
	if expires.IsZero() {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	return c
}

// Get returns the request's signed-in person, or ErrNoSession (no
// cookie, or one naming no live session: forged, expired, revoked).
func (s *Sessions) Get(r *http.Request) (*Signed, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, ErrNoSession
	}
	ss, err := s.Store.Session(r.Context(), hashOf(c.Value))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	var p Person
	if err := json.Unmarshal(ss.Person, &p); err != nil {
		return nil, fmt.Errorf("session of %s: %w", ss.Login, err)
	}
	p.Login = ss.Login
	if p.Login == "" {
		return nil, ErrNoSession
	}
	return &Signed{Session: ss, Person: p}, nil
}

// End signs the request's person out: the session is deleted (not just
// the cookie), so a copied cookie stops working too.
func (s *Sessions) End(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if err := s.Store.DeleteSession(ctx, hashOf(c.Value)); err != nil {
			return err
		}
	}
	http.SetCookie(w, s.cookie(r, "", time.Time{}))
	return nil
}

// CSRFHeader is the header a script echoes the session's CSRF token in;
// forms send it as the field csrf.
const CSRFHeader = "X-CSRF-Token"

// CheckCSRF refuses a state-changing request made with a session cookie
// unless it proves it comes from pier's own pages: the session's CSRF
// token (header or form field), or the browser's Sec-Fetch-Site saying
// same-origin. SameSite=Lax already keeps the cookie off cross-site
// POSTs in current browsers; this covers the others and same-site
// subdomains.
func CheckCSRF(r *http.Request, signed *Signed) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		return nil
	}
	tok := r.Header.Get(CSRFHeader)
	if tok == "" && r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
		tok = r.PostFormValue("csrf")
	}
	if tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(signed.Session.CSRF)) == 1 {
		return nil
	}
	return errors.New("a state-changing request with a session cookie needs the session's CSRF token (" + CSRFHeader + ") or to come from pier's own pages")
}

// hashOf is how a secret is stored: its hex SHA-256.
func hashOf(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// random returns n random bytes, base64url.
func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
