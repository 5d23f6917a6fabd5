package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/identity"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store"
)

// People says who callers are beyond API clients: people signed in
// through the browser, people's personal API tokens, and what the catalog
// says of their teams.
type People struct {
	Sessions  *identity.Sessions
	Tokens    identity.TokenStore
	Directory *identity.Directory
	// Known lists the people pier knows (GET /v1/users): who signed in,
	// the development people.
	Known func(ctx context.Context) ([]identity.Person, error)
	// SignIn, when set, serves /auth/.
	SignIn http.Handler
	// Admins are the logins of pier's administrators (the built-in admin
	// role).
	Admins []string
	// TokenTTL bounds the lifetime of personal tokens (0: they may not
	// expire).
	TokenTTL time.Duration
}

// rights is the shared rule that turns a caller into grants.
func (p *People) rights() *identity.Rights {
	if p == nil {
		return nil
	}
	return &identity.Rights{Directory: p.Directory, Admins: p.Admins}
}

// person identifies a caller without an Authorization header from its
// session cookie: nil when there is none.
func (s *Server) person(r *http.Request) (*caller, error) {
	p := s.opts.People
	if p == nil || p.Sessions == nil {
		return nil, nil
	}
	signed, err := p.Sessions.Get(r)
	if errors.Is(err, identity.ErrNoSession) {
		if _, cerr := r.Cookie(identity.SessionCookie); cerr == nil {
			return nil, errors.New("the session has ended (signed out, expired or revoked): sign in again")
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &caller{ID: signed.Person.Login, Login: signed.Person.Login, person: &signed.Person, session: signed}, nil
}

// personalToken identifies a caller by a personal API token.
func (s *Server) personalToken(ctx context.Context, tok string) (*caller, error) {
	p := s.opts.People
	if p == nil || p.Tokens == nil {
		return nil, errors.New("invalid token")
	}
	t, err := identity.LookupToken(ctx, p.Tokens, tok)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errors.New("invalid token (revoked, expired, or never minted)")
	}
	if err != nil {
		return nil, err
	}
	return &caller{ID: t.Login, Login: t.Login, token: t.ID}, nil
}

// grants returns what the caller may do under the served catalog's
// roles, worked out once per request.
func (s *Server) grants(r *http.Request, c *caller) *access.Grants {
	snap := s.opts.State.Load()
	if c == nil {
		return snap.Access.For(access.Subject{Anonymous: true})
	}
	if c.grants != nil {
		return c.grants
	}
	sub := access.Subject{Login: c.Login, Roles: c.roles}
	if c.person != nil {
		sub.Name, sub.Email = c.person.Name, c.person.Email
	}
	g, err := s.opts.People.rights().Grants(r.Context(), snap, sub)
	if err != nil {
		// Without the teams, team conditions grant nothing: refuse
		// rather than guess. Logged, not hidden.
		s.opts.Logger.Warn("teams of a caller unknown", "login", c.Login, "err", err)
	}
	c.grants = g
	return c.grants
}

// allow answers a 403 naming the missing permission (and audits it)
// unless the caller may do action on the resource: obj, or when obj is
// nil, all of the kind.
func (s *Server) allow(w http.ResponseWriter, r *http.Request, c *caller, action, resource string, obj *query.Entity, what string) bool {
	g := s.grants(r, c)
	ok := false
	if obj == nil {
		ok = g.All(action, resource)
	} else {
		ok = g.Allows(action, resource, obj, s.opts.State.Load().Graph())
	}
	if ok {
		return true
	}
	s.deny(w, r, c, action, resource, what)
	return false
}

// deny answers and audits a refusal by the roles.
func (s *Server) deny(w http.ResponseWriter, r *http.Request, c *caller, action, resource, what string) {
	d := &access.Denied{Subject: c.subject().Who(), Action: action, Resource: resource, Object: what}
	code := writeError(w, http.StatusForbidden, "forbidden", d.Error(), map[string]any{"permission": map[string]string{"action": action, "resource": resource}})
	actor := "anonymous"
	if c != nil {
		actor = c.ID
	}
	details, _ := json.Marshal(map[string]string{"action": action, "resource": resource, "object": what, "request": r.Method + " " + r.URL.Path})
	e := store.AuditEntry{At: s.opts.Now().UTC(), Actor: actor, Action: "access.denied", Resource: strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1/"), "/"), Status: code, Details: details}
	if err := s.opts.Store.Audit(context.WithoutCancel(r.Context()), e); err != nil {
		s.opts.Logger.Error("audit log write failed", "action", e.Action, "err", err)
	}
}

// subject is the caller as refusals name it.
func (c *caller) subject() access.Subject {
	if c == nil {
		return access.Subject{Anonymous: true}
	}
	return access.Subject{Login: c.Login}
}

// me is GET /v1/me: who the caller is to pier, and what they hold.
func (s *Server) me(w http.ResponseWriter, r *http.Request, c *caller) int {
	if c == nil {
		return writeError(w, http.StatusUnauthorized, "unauthorized", "not signed in: sign in at /auth/login, or send a bearer token")
	}
	g := s.grants(r, c)
	sub := g.Subject()
	out := map[string]any{
		"login": c.Login, "teams": nonNil(sub.Teams), "roles": nonNil(g.Roles()), "via": c.via(),
	}
	if c.client != "" {
		out["clientId"] = c.client
	}
	if c.person != nil {
		out["name"], out["email"] = c.person.Name, c.person.Email
	}
	if c.session != nil {
		out["csrfToken"], out["sessionExpiresAt"] = c.session.Session.CSRF, c.session.Session.ExpiresAt
	}
	return writeJSON(w, http.StatusOK, map[string]any{"ok": true, "user": out})
}

// via says how the caller authenticated.
func (c *caller) via() string {
	switch {
	case c.session != nil:
		return "session"
	case c.token != "":
		return "personal token"
	case c.client != "":
		return "client"
	}
	return "anonymous"
}

// needPerson refuses a request that only a person may make (minting
// tokens: a machine acting for someone may not mint itself more).
func needPerson(w http.ResponseWriter, c *caller) bool {
	if c == nil || c.Login == "" || c.client != "" || c.token != "" {
		writeError(w, http.StatusForbidden, "forbidden", "only a person signed in through the browser manages personal tokens")
		return false
	}
	return true
}

func (s *Server) tokenStore() identity.TokenStore {
	if p := s.opts.People; p != nil {
		return p.Tokens
	}
	return nil
}

// listTokens is GET /v1/me/tokens: the person's tokens, never their
// secrets.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, c *caller) int {
	if c == nil || c.Login == "" || s.tokenStore() == nil {
		return writeError(w, http.StatusForbidden, "forbidden", "personal tokens belong to people: sign in")
	}
	ts, err := s.tokenStore().Tokens(r.Context(), c.Login)
	if err != nil {
		return storeError(w, err)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"ok": true, "tokens": nonNil(ts)})
}

// mintToken is POST /v1/me/tokens {name, expiresIn}: a new personal
// token, its secret shown this once.
func (s *Server) mintToken(w http.ResponseWriter, r *http.Request, c *caller) int {
	if !needPerson(w, c) || s.tokenStore() == nil {
		return http.StatusForbidden
	}
	var body struct {
		Name      string `json:"name"`
		ExpiresIn string `json:"expiresIn"`
	}
	if code, ok := decodeBody(w, r, &body); !ok {
		return code
	}
	var ttl time.Duration
	if body.ExpiresIn != "" {
		d, err := time.ParseDuration(body.ExpiresIn)
		if err != nil || d <= 0 {
			return writeError(w, http.StatusUnprocessableEntity, "invalid_field", fmt.Sprintf("expiresIn %s: want a positive duration such as 720h", quote(body.ExpiresIn)), map[string]any{"field": "expiresIn"})
		}
		ttl = d
	}
	if max := s.opts.People.TokenTTL; max > 0 && (ttl == 0 || ttl > max) {
		ttl = max
	}
	secret, t, err := identity.MintToken(r.Context(), s.tokenStore(), c.Login, body.Name, ttl, s.opts.Now())
	if err != nil {
		return writeError(w, http.StatusUnprocessableEntity, "invalid_field", err.Error(), map[string]any{"field": "name"})
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"ok": true, "token": t, "secret": secret,
		"note": "this is the only time the secret is shown: keep it now"})
}

// revokeToken is DELETE /v1/me/tokens/{id}.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, c *caller) int {
	if c == nil || c.Login == "" || s.tokenStore() == nil {
		return writeError(w, http.StatusForbidden, "forbidden", "personal tokens belong to people: sign in")
	}
	err := s.tokenStore().DeleteToken(r.Context(), c.Login, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return writeError(w, http.StatusNotFound, "token_not_found", fmt.Sprintf("%s has no token %s", c.Login, quote(r.PathValue("id"))))
	}
	if err != nil {
		return storeError(w, err)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// needAll wraps a route that is about the whole daemon (its status, the
// audit log, outbound deliveries, declared systems): the caller must hold
// action on every resource.
func (s *Server) needAll(action string, h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, c *caller) int {
		if !s.allow(w, r, c, action, access.Any, nil, "") {
			return http.StatusForbidden
		}
		return h(w, r, c)
	}
}

// readable returns a test of whether the caller may read an entity, or
// nil when it may read every one (the common case, which costs nothing).
func (s *Server) readable(r *http.Request, c *caller) func(e *state.Entity) bool {
	return s.opts.State.Load().Readable(s.grants(r, c))
}

// canRead reports whether keep (a readable test) keeps e.
func canRead(keep func(*state.Entity) bool, e *state.Entity) bool { return keep == nil || keep(e) }

// allowEntity answers 403 unless the caller may do action on e.
func (s *Server) allowEntity(w http.ResponseWriter, r *http.Request, c *caller, action string, e *state.Entity) bool {
	snap := s.opts.State.Load()
	return s.allow(w, r, c, action, access.Entity, snap.QueryEntity(e), e.Blueprint+"/"+e.Identifier)
}

// allowRun answers 403 unless the caller may do action on run.
func (s *Server) allowRun(w http.ResponseWriter, r *http.Request, c *caller, action string, run store.Run) bool {
	return s.allow(w, r, c, action, access.Run, access.RunView(run), run.ID)
}
