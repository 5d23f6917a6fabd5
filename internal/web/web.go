package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/approval"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/identity"
	"github.com/pierhq/pier/internal/runs"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/reconciler"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Store is what pages read of the state store.
type Store interface {
	History(ctx context.Context, blueprint, id string) ([]store.HistoryEntry, error)
	Revisions(ctx context.Context, limit int) ([]store.Revision, error)
	AuditLog(ctx context.Context, limit int, before int64) ([]store.AuditEntry, error)
}

// Runs is the action-run engine, as pages use it: the same engine (and
// so the same validation, approval rule and pipeline) as the API's.
type Runs interface {
	Request(ctx context.Context, req runs.Request) (store.Run, error)
	Get(ctx context.Context, id string) (store.Run, error)
	List(ctx context.Context, f store.RunFilter) ([]store.Run, error)
	Events(ctx context.Context, id string) ([]store.RunEvent, error)
	Logs(ctx context.Context, id string) ([]store.RunLog, error)
	Vote(ctx context.Context, id, user string, approve bool, reason string) (store.Run, error)
	CanVote(ctx context.Context, run store.Run, user string) (approval.Rule, error)
}

// Options configure the portal.
type Options struct {
	State *state.Holder
	Store Store
	// Runs, when set, serves action forms and runs.
	Runs Runs
	// Status reports the reconcile loop's status.
	Status func() reconciler.Status
	// Sessions know who is signed in; Rights what they may do.
	Sessions *identity.Sessions
	Rights   *identity.Rights
	// AnonymousReads lets visitors who are not signed in read (local
	// development), as the API's option does.
	AnonymousReads bool
	// FileURL links a catalog file's line at a revision (the file on
	// GitHub at that commit); nil or "" when the catalog is not on
	// GitHub.
	FileURL func(revision, file string, line int) string
	// CommitURL links a revision; nil or "" as FileURL.
	CommitURL func(revision string) string
	Now       func() time.Time
	Logger    *slog.Logger
	// LivePoll is how often a live run page's stream looks for news
	// (default 500ms).
	LivePoll time.Duration
}

// Server serves the portal.
type Server struct {
	opts    Options
	mux     *http.ServeMux
	pages   map[string]*template.Template
	sorts   *sortCache
	widgets widgetCache
}

// New builds the portal.
func New(opts Options) (*Server, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LivePoll <= 0 {
		opts.LivePoll = 500 * time.Millisecond
	}
	s := &Server{opts: opts, mux: http.NewServeMux(), sorts: newSortCache(8)}
	if err := s.parse(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	static, _ := fs.Sub(staticFiles, "static")
	files := http.FileServer(http.FS(static))
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})))
	s.page("GET /{$}", s.home)
	s.page("GET /search", s.searchPage)
	s.page("GET /catalog/{bp}", s.catalogPage)
	s.page("GET /catalog/{bp}/{id}", s.entityPage)
	s.page("GET /scorecards", s.scorecardsPage)
	s.page("GET /scorecards/{id}", s.scorecardPage)
	s.page("GET /dashboards", s.dashboardsPage)
	s.page("GET /dashboards/{id}", s.dashboardPage)
	s.page("GET /status", s.statusPage)
	s.page("GET /audit", s.auditPage)
	s.page("GET /pick", s.pick)
	if s.opts.Runs != nil {
		s.page("GET /actions/{id}", s.actionForm)
		s.page("POST /actions/{id}", s.actionSubmit)
		s.page("GET /actions/{id}/visible", s.actionVisible)
		s.page("GET /runs", s.runsPage)
		s.page("GET /runs/{id}", s.runPage)
		s.page("POST /runs/{id}/approval", s.runVote)
		s.page("GET /runs/{id}/live", s.runLive)
	}
	s.page("/", func(w http.ResponseWriter, r *http.Request, v *visit) {
		s.fail(w, r, v, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
}

// ServeHTTP implements http.Handler: every answer carries the security
// headers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	s.mux.ServeHTTP(w, r)
}

// CSP is the portal's Content-Security-Policy: scripts, styles, images
// and connections (the live log stream, the picker) from pier only, no
// inline script or style, forms posting only to pier, never framed.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// visit is one request's visitor: who they are (nil when not signed
// in), what they may do, and the snapshot every part of the page is
// read from.
type visit struct {
	signed *identity.Signed
	grants *access.Grants
	snap   *state.Snapshot
	// readable filters entities (nil: the visitor reads them all).
	readable func(*state.Entity) bool
}

func (v *visit) login() string {
	if v.signed == nil {
		return ""
	}
	return v.signed.Person.Login
}

// canRead reports whether the visitor may read e.
func (v *visit) canRead(e *state.Entity) bool { return v.readable == nil || v.readable(e) }

type pageHandler func(w http.ResponseWriter, r *http.Request, v *visit)

// page routes pattern to h for visitors who are let in: signed in, or
// anyone when anonymous reads are allowed (a visitor who is not is sent
// to sign in, and back). A request that changes something must be signed
// in and carry the session's CSRF token.
func (s *Server) page(pattern string, h pageHandler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		v := &visit{snap: s.opts.State.Load()}
		if s.opts.Sessions != nil {
			signed, err := s.opts.Sessions.Get(r)
			switch {
			case err == nil:
				v.signed = signed
			case !errors.Is(err, identity.ErrNoSession):
				s.opts.Logger.Error("web: read the session", "err", err)
				http.Error(w, "the session store cannot be read right now; try again", http.StatusServiceUnavailable)
				return
			}
		}
		write := r.Method != http.MethodGet && r.Method != http.MethodHead
		if v.signed == nil && (write || !s.opts.AnonymousReads) {
			if write {
				s.fail(w, r, v, http.StatusForbidden, "Sign in to do this.")
				return
			}
			http.Redirect(w, r, "/auth/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if write {
			if err := identity.CheckCSRF(r, v.signed); err != nil {
				s.fail(w, r, v, http.StatusForbidden, "This form has expired or did not come from pier: reload the page and send it again.")
				return
			}
		}
		sub := access.Subject{Anonymous: true}
		if v.signed != nil {
			p := v.signed.Person
			sub = access.Subject{Login: p.Login, Name: p.Name, Email: p.Email}
		}
		g, err := s.opts.Rights.Grants(r.Context(), v.snap, sub)
		if err != nil {
			s.opts.Logger.Warn("web: teams of a visitor unknown", "login", sub.Login, "err", err)
		}
		v.grants = g
		v.readable = v.snap.Readable(g)
		h(w, r, v)
	})
}

// layout is what every page's frame shows.
type layout struct {
	Title  string
	Nav    string
	Path   string
	User   *identity.Person
	Teams  []string
	CSRF   string
	Blueps []navLink
	// Revision is the applied revision, short.
	Revision string
	Page     any
}

type navLink struct {
	URL, Title string
	Count      int
}

// render writes the page tmpl with data in the layout.
func (s *Server) render(w http.ResponseWriter, r *http.Request, v *visit, code int, tmpl, title, nav string, data any) {
	l := layout{Title: title, Nav: nav, Path: r.URL.RequestURI(), Revision: short(v.snap.Revision), Page: data}
	if v.signed != nil {
		l.User = &v.signed.Person
		l.CSRF = v.signed.Session.CSRF
		if v.grants != nil {
			l.Teams = v.grants.Subject().Teams
		}
	}
	for _, id := range sortedBlueprints(v.snap, v.grants) {
		b := v.snap.Blueprints[id]
		l.Blueps = append(l.Blueps, navLink{URL: "/catalog/" + url.PathEscape(id), Title: titleOr(b.Title, id)})
	}
	t := s.pages[tmpl]
	if t == nil {
		panic("web: no template " + tmpl)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", l); err != nil {
		s.opts.Logger.Error("web: render", "page", tmpl, "err", err)
		http.Error(w, "the page could not be rendered: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// fail answers with an error page.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, v *visit, code int, msg string) {
	s.render(w, r, v, code, "error", http.StatusText(code), "", map[string]any{"Code": code, "Message": msg})
}

// sortedBlueprints are the blueprints the visitor may read, by title.
func sortedBlueprints(snap *state.Snapshot, g *access.Grants) []string {
	var out []string
	for id, b := range snap.Blueprints {
		if g == nil || g.Allows(access.Read, access.Blueprint, access.BlueprintView(b), nil) {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := snap.Blueprints[out[i]], snap.Blueprints[out[j]]
		return strings.ToLower(titleOr(a.Title, a.Identifier)) < strings.ToLower(titleOr(b.Title, b.Identifier))
	})
	return out
}

func titleOr(title, id string) string {
	if title != "" {
		return title
	}
	return id
}

// short is a revision as people read it.
func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

func entityURL(bp, id string) string {
	return "/catalog/" + url.PathEscape(bp) + "/" + url.PathEscape(id)
}

// fileLink is a place in a catalog file: its text, and its address on
// GitHub at the applied revision when pier knows one.
type fileLink struct {
	Text, URL string
}

func (s *Server) fileLink(rev string, p catalog.Pos) fileLink {
	if !p.IsValid() {
		return fileLink{}
	}
	l := fileLink{Text: p.File}
	if p.Line > 0 {
		l.Text = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if s.opts.FileURL != nil && rev != "" {
		l.URL = s.opts.FileURL(rev, p.File, p.Line)
	}
	return l
}

func (s *Server) commitURL(rev string) string {
	if s.opts.CommitURL == nil || rev == "" {
		return ""
	}
	return s.opts.CommitURL(rev)
}
