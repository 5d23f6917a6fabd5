// Package api serves pier's HTTP API. Paths and bodies follow Port's REST
// API where Port has them (/v1/blueprints, /v1/blueprints/{bp}/entities,
// /v1/entities/search, /v1/auth/access_token, ...), so that scripts and
// workflows written for Port work against pier by changing the base URL.
//
// Reads come from the in-memory state (internal/state) and never touch
// the database; writes (runtime properties, manual reconciles) go to the
// store first and are published to the state after they commit. Every
// write is authenticated and, once its caller is known, recorded in the
// audit log; what is refused before that is counted and sampled in the
// log instead. Every request goes through one door (handle): limits,
// then the permission check, then one strict reading of the body
// (decodeBody); every listing pages by one rule (readPage). One file per
// resource, as go-github does.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/compiled"
	"github.com/pierhq/pier/internal/identity"
	"github.com/pierhq/pier/internal/metrics"
	"github.com/pierhq/pier/internal/review"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/validate"
	"github.com/pierhq/pier/reconciler"
)

// Store is what the API needs of the state store.
type Store interface {
	History(ctx context.Context, blueprint, id string) ([]store.HistoryEntry, error)
	Revisions(ctx context.Context, limit int) ([]store.Revision, error)
	SetRuntime(ctx context.Context, rt store.Runtime) error
	Audit(ctx context.Context, e store.AuditEntry) error
	AuditLog(ctx context.Context, limit int, before int64) ([]store.AuditEntry, error)
	LevelHistory(ctx context.Context, f store.LevelFilter) ([]store.LevelChange, error)
}

// Deliveries lists outbound webhook deliveries, newest first.
type Deliveries interface {
	Deliveries(ctx context.Context, limit int, before string) ([]record.Delivery, error)
}

// Metrics is what the API records; *metrics.Metrics implements it.
type Metrics interface {
	// InstrumentHandler wraps a route's handler with metrics.
	InstrumentHandler(route string, h http.Handler) http.Handler
	// APIUnauthenticated counts a request refused before its caller was
	// known (metrics.Refused*), APIRateLimited one answered 429
	// (metrics.Limit*).
	APIUnauthenticated(reason string)
	APIRateLimited(limit string)
}

// Options configure a Server.
type Options struct {
	State *state.Holder
	Store Store
	// Status reports the reconcile loop's status; Reconcile asks for a
	// reconcile now.
	Status    func() reconciler.Status
	Reconcile func()
	// Replica, when replicas share the store, says who leads: /readyz
	// and /v1/status show it.
	Replica func() *ReplicaStatus
	Auth    *Auth
	Metrics Metrics
	// Limits bound how fast callers may call; the zero value, nothing.
	Limits Limits
	// Webhooks, when set, is mounted at /webhooks/github.
	Webhooks http.Handler
	// Deliveries, when set, serves GET /v1/webhooks/deliveries.
	Deliveries Deliveries
	// Runs, when set, serves action runs under /v1/actions.
	Runs Runs
	// ApprovalMembers, when set, answers the member lists of declared
	// approval systems.
	ApprovalMembers ApprovalMembers
	// MetricsHandler, when set, is mounted at GET /metrics, read as the
	// rest of the API is, or with Auth.MetricsToken.
	MetricsHandler http.Handler
	Logger         *slog.Logger
	Now            func() time.Time
	// MaxBody bounds request bodies; default 1 MiB.
	MaxBody int64
	// People, when set, knows people: sessions, personal tokens, teams.
	People *People
	// Plan, when set, serves POST /v1/plans: it plans a revision (a
	// commit, branch or ref of the catalog's repository) against the
	// served state, returning ErrNoRevision for one it cannot find.
	Plan func(ctx context.Context, revision string) (*review.Report, error)
}

// Server is pier's HTTP API.
type Server struct {
	opts  Options
	mux   *http.ServeMux
	other http.Handler // what no route takes

	clients, addresses, tokens *limiter
	// sampled logs what callers without a token make happen: refusals.
	sampled *sampledLog

	validators *compiled.Cache[catalog.Blueprint, *validate.Validator]
}

// New builds the API.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBody == 0 {
		opts.MaxBody = 1 << 20
	}
	if opts.Auth == nil {
		opts.Auth = &Auth{}
	}
	s := &Server{
		opts: opts, mux: http.NewServeMux(), validators: compiled.New(1024, validate.Compile),
		clients:   newLimiter(opts.Limits.Rate, opts.Limits.Burst),
		addresses: newLimiter(opts.Limits.Rate, opts.Limits.Burst),
		tokens:    newLimiter(opts.Limits.TokenRate, opts.Limits.TokenBurst),
		sampled:   &sampledLog{logger: opts.Logger, every: refusalLogEvery, last: map[string]*sample{}},
	}
	s.routes()
	return s
}

// ServeHTTP implements http.Handler. A path that is not clean (with
// "." or ".." segments or doubled slashes) is refused here: the mux would
// redirect it to its clean form, with an HTML body.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != cleanPath(r.URL.Path) {
		s.other.ServeHTTP(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// cleanPath is the path the mux would redirect p to, as its own
// cleanPath: path.Clean, keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean
}

// door is who may call a route.
type door int

const (
	public door = iota // no credentials (health, token exchange, webhooks)
	read               // anonymous when the server allows anonymous reads
	scrape             // read, or with the metrics token
	write              // always authenticated, and audited
)

func (s *Server) routes() {
	s.handle("GET /healthz", public, s.healthz)
	s.handle("GET /readyz", public, s.readyz)
	s.handle("POST /v1/auth/access_token", public, s.accessToken)

	s.handle("GET /v1/blueprints", read, s.listBlueprints)
	s.handle("GET /v1/blueprints/{bp}", read, s.getBlueprint)
	s.handle("GET /v1/blueprints/{bp}/entities", read, s.listEntities)
	s.handle("GET /v1/blueprints/{bp}/entities/{id}", read, s.getEntity)
	s.handle("POST /v1/blueprints/{bp}/entities", write, s.upsertEntity)
	s.handle("PATCH /v1/blueprints/{bp}/entities/{id}", write, s.patchEntity)
	s.handle("DELETE /v1/blueprints/{bp}/entities/{id}", write, s.deleteEntity)
	s.handle("GET /v1/blueprints/{bp}/entities/{id}/scorecards", read, s.entityScorecards)
	s.handle("GET /v1/blueprints/{bp}/entities/{id}/scorecards/history", read, s.entityLevelHistory)
	s.handle("GET /v1/scorecards/{id}/history", read, s.scorecardHistory)
	s.handle("POST /v1/blueprints/{bp}/entities/search", read, s.searchBlueprint)
	s.handle("GET /v1/blueprints/{bp}/scorecards", read, s.listScorecards)
	s.handle("GET /v1/blueprints/{bp}/scorecards/{id}", read, s.getScorecard)
	s.handle("GET /v1/entities/{bp}/{id}/history", read, s.entityHistory)
	s.handle("POST /v1/entities/search", read, s.search)
	s.handle("GET /v1/actions", read, s.listActions)
	s.handle("GET /v1/actions/{id}", read, s.getAction)
	s.handle("GET /v1/scorecards", read, s.listScorecards)
	s.handle("GET /v1/scorecards/{id}", read, s.getScorecard)
	// About the whole daemon: who may read (or do) everything.
	s.handle("GET /v1/automations", read, s.needAll(access.Read, s.listAutomations))
	s.handle("GET /v1/approval-systems", read, s.needAll(access.Read, s.listApprovalSystems))
	s.handle("GET /v1/approval-systems/{id}", read, s.needAll(access.Read, s.getApprovalSystem))
	s.handle("GET /v1/approval-systems/{id}/members", read, s.needAll(access.Read, s.approvalMembers))
	s.handle("GET /v1/webhooks", read, s.needAll(access.Read, s.listWebhooks))
	s.handle("GET /v1/webhooks/deliveries", read, s.needAll(access.Read, s.webhookDeliveries))
	s.handle("GET /v1/status", read, s.needAll(access.Read, s.status))
	s.handle("POST /v1/reconcile", write, s.needAll(access.Write, s.reconcile))
	s.handle("POST /v1/plans", read, s.needAll(access.Read, s.plan))
	s.handle("GET /v1/audit-log", read, s.needAll(access.Read, s.auditLog))
	s.runRoutes()

	s.handle("GET /v1/me", read, s.me)
	s.handle("GET /v1/me/tokens", read, s.listTokens)
	s.handle("POST /v1/me/tokens", write, s.mintToken)
	s.handle("DELETE /v1/me/tokens/{id}", write, s.revokeToken)
	s.handle("GET /v1/users", read, s.listUsers)
	s.handle("GET /v1/users/{email}", read, s.getUser)
	s.handle("GET /v1/teams", read, s.listTeams)
	s.handle("GET /v1/teams/{name}", read, s.getTeam)
	if p := s.opts.People; p != nil && p.SignIn != nil {
		s.mux.Handle("/auth/", s.instrument("/auth/", p.SignIn))
	}

	if s.opts.Webhooks != nil {
		s.mux.Handle("/webhooks/github", s.instrument("/webhooks/github", s.opts.Webhooks))
	}
	if s.opts.MetricsHandler != nil {
		s.handle("GET /metrics", scrape, func(w http.ResponseWriter, r *http.Request, _ *caller) int {
			s.opts.MetricsHandler.ServeHTTP(w, r)
			return http.StatusOK
		})
	}
	// Anything else is answered in JSON, not in the mux's plain text or
	// HTML: a 400 for a path that is not clean, a 405 with Allow for a
	// known path, a 404 otherwise.
	s.other = s.instrument("other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if clean := cleanPath(r.URL.Path); clean != r.URL.Path {
			writeError(w, http.StatusBadRequest, "invalid_path",
				fmt.Sprintf("path %s has \".\" or \"..\" segments or doubled slashes; the clean path is %s", quote(r.URL.Path), clean))
			return
		}
		if allow := s.allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("%s %s: allowed methods are %s", r.Method, r.URL.Path, strings.Join(allow, ", ")))
			return
		}
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	}))
	s.mux.Handle("/", s.other)
}

// refusalLogEvery is how often, at most, a kind of refusal is logged.
const refusalLogEvery = 10 * time.Second

// handler is a route's handler: it returns the status it answered so that
// writes can be audited with it.
type handler func(w http.ResponseWriter, r *http.Request, c *caller) int

// handle routes pattern to h for callers acc lets in. A caller is
// counted against its limit first, then refused if it may not call: a
// refusal before the caller is known (no token, a bad one) is counted
// and sampled in the log, not audited — anyone can send those, as many
// as they like. Every write that gets through is audited, refused or
// not.
func (s *Server) handle(pattern string, acc door, h handler) {
	route := pattern
	s.mux.Handle(pattern, s.instrument(route, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := s.opts.Now()
		c, err := s.identify(r, now)
		if !s.throttle(w, r, c, now) {
			return
		}
		switch {
		case acc == write && c == nil && err == nil:
			s.unauthenticated(w, r, metrics.RefusedNoToken, "unauthorized", "this request changes state and needs a bearer token (POST /v1/auth/access_token)")
			return
		case (acc == read || acc == scrape) && c == nil && err == nil && !s.opts.Auth.AnonymousReads:
			s.unauthenticated(w, r, metrics.RefusedNoToken, "unauthorized", "a bearer token is required (POST /v1/auth/access_token)")
			return
		case acc != public && err != nil:
			s.unauthenticated(w, r, metrics.RefusedBadToken, "unauthorized", err.Error())
			return
		case c != nil && c.scraper && acc != scrape:
			writeError(w, http.StatusForbidden, "forbidden", "the metrics token reads /metrics only; other requests need a client's token (POST /v1/auth/access_token)")
			return
		case c != nil && c.session != nil:
			if err := identity.CheckCSRF(r, c.session); err != nil {
				code := writeError(w, http.StatusForbidden, "csrf", err.Error())
				s.audit(r, c, route, code)
				return
			}
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBody)
		}
		code := h(w, r, c)
		if acc == write {
			s.audit(r, c, route, code)
		}
	})))
}

// allowed returns the methods routed for r's path: the mux is asked
// what it would do with each, so overlapping patterns (Port's
// /v1/actions/{id}/runs and /v1/actions/runs/{run}) are answered right.
func (s *Server) allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		if m == r.Method {
			continue
		}
		if _, pattern := s.mux.Handler(&http.Request{Method: m, Host: r.Host, URL: r.URL}); pattern != "/" && pattern != "" {
			out = append(out, m)
		}
	}
	return out
}

// unauthenticated answers a caller refused before it is known with a
// 401, counted by reason and sampled in the log.
func (s *Server) unauthenticated(w http.ResponseWriter, r *http.Request, reason, kind, msg string) int {
	s.count(func(m Metrics) { m.APIUnauthenticated(reason) })
	s.sampled.log(s.opts.Now(), "unauthenticated: "+reason, "API requests refused before authentication",
		"reason", reason, "method", r.Method, "path", r.URL.Path, "caller", s.opts.Limits.callerAddr(r))
	return writeError(w, http.StatusUnauthorized, kind, msg)
}

// count records in the metrics, if there are any.
func (s *Server) count(record func(Metrics)) {
	if s.opts.Metrics != nil {
		record(s.opts.Metrics)
	}
}

func (s *Server) instrument(route string, h http.Handler) http.Handler {
	if s.opts.Metrics == nil {
		return h
	}
	return s.opts.Metrics.InstrumentHandler(route, h)
}

// audit records a write. The entry says who did what to which resource
// and how it ended; a failure to record is logged, not hidden.
func (s *Server) audit(r *http.Request, c *caller, route string, code int) {
	actor := "anonymous"
	if c != nil {
		actor = c.ID
	}
	resource := strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1/"), "/")
	e := store.AuditEntry{At: s.opts.Now().UTC(), Actor: actor, Action: r.Method + " " + routePath(route), Resource: resource, Status: code}
	if err := s.opts.Store.Audit(context.WithoutCancel(r.Context()), e); err != nil {
		s.opts.Logger.Error("audit log write failed", "action", e.Action, "resource", resource, "err", err)
	}
}

func routePath(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		return pattern[i+1:]
	}
	return pattern
}

// storeError answers a failure of the store. One that cannot be reached
// (its database restarting) is a 503 that says to try again and when:
// what was not acknowledged may be sent again, and the state in memory
// keeps serving reads meanwhile.
func storeError(w http.ResponseWriter, err error) int {
	if errors.Is(err, store.ErrUnavailable) {
		w.Header().Set("Retry-After", "5")
		return writeError(w, http.StatusServiceUnavailable, "store_unavailable",
			"the state store cannot be reached right now; try again: "+err.Error())
	}
	return writeError(w, http.StatusInternalServerError, "store_error", err.Error())
}

// Port's response envelope: {"ok": true, ...}.
func writeJSON(w http.ResponseWriter, code int, body map[string]any) int {
	body["ok"] = code < 400
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(body)
	return code
}

// writeEntities answers a list of entities. Each entity's JSON is cached
// by the state, so the answer is assembled from those bytes rather than
// re-encoded (and re-validated) by encoding/json.
func writeEntities(w http.ResponseWriter, list []*state.Entity, next string, p projection) int {
	var b bytes.Buffer
	b.WriteString(`{"ok":true,`)
	if next != "" {
		nb, _ := json.Marshal(next)
		b.WriteString(`"next":`)
		b.Write(nb)
		b.WriteByte(',')
	}
	b.WriteString(`"entities":[`)
	for i, e := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		eb, err := p.apply(e)
		if err != nil {
			return writeError(w, http.StatusInternalServerError, "encode_error", err.Error())
		}
		b.Write(eb)
	}
	b.WriteString("]}\n")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b.Bytes())
	return http.StatusOK
}

// writeError answers in Port's error shape: {"ok": false, "error": code,
// "message": ...}, plus details when there are some.
func writeError(w http.ResponseWriter, code int, kind, msg string, details ...map[string]any) int {
	body := map[string]any{"error": kind, "message": msg}
	for _, d := range details {
		for k, v := range d {
			body[k] = v
		}
	}
	return writeJSON(w, code, body)
}

// validator returns the compiled validator of a blueprint of the current
// snapshot, compiling it on first use.
func (s *Server) validator(bp *catalog.Blueprint) (*validate.Validator, error) {
	return s.validators.Get(bp)
}
