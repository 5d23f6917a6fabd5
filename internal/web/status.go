package web

import (
	"net/http"
	"strconv"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/reconciler"
)

// statusView is the daemon's status: the revisions it applied and
// attempted, its conditions, every error of a failed revision (linked to
// its line at that commit), and recent reconciles.
type statusView struct {
	Status     reconciler.Status
	HasStatus  bool
	Serving    string
	ServingURL string
	AttemptURL string
	Counts     map[string]int
	Errors     []diagRow
	Revisions  []revisionRow
	Err        string
}

type diagRow struct {
	File    fileLink
	Path    string
	Message string
}

type revisionRow struct {
	store.Revision
	URL    string
	Errors []diagRow
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request, v *visit) {
	if !v.grants.All(access.Read, access.Any) {
		s.fail(w, r, v, http.StatusForbidden, (&access.Denied{Subject: v.grants.Subject().Who(), Action: access.Read, Resource: access.Any}).Error())
		return
	}
	view := statusView{Serving: v.snap.Revision, ServingURL: s.commitURL(v.snap.Revision), Counts: map[string]int{
		"blueprints": len(v.snap.Blueprints), "entities": v.snap.EntityCount(), "actions": len(v.snap.Actions), "scorecards": len(v.snap.Scorecards),
	}}
	if s.opts.Status != nil {
		view.Status, view.HasStatus = s.opts.Status(), true
		view.AttemptURL = s.commitURL(view.Status.LastAttemptedRevision)
		view.Errors = s.diags(view.Status.LastAttemptedRevision, view.Status.Errors)
	}
	revs, err := s.opts.Store.Revisions(r.Context(), 20)
	if err != nil {
		view.Err = "The revisions cannot be read right now: " + err.Error()
	}
	for _, rev := range revs {
		view.Revisions = append(view.Revisions, revisionRow{Revision: rev, URL: s.commitURL(rev.Revision), Errors: s.diags(rev.Revision, rev.Errors)})
	}
	s.render(w, r, v, http.StatusOK, "status", "Status", "status", view)
}

func (s *Server) diags(rev string, ds catalog.Diagnostics) []diagRow {
	out := make([]diagRow, 0, len(ds))
	for _, d := range ds {
		l := s.fileLink(rev, d.Pos)
		if d.Pos.Col > 0 {
			l.Text += ":" + strconv.Itoa(d.Pos.Col)
		}
		out = append(out, diagRow{File: l, Path: d.Path, Message: d.Message})
	}
	return out
}

// auditView is a page of the audit log, newest first.
type auditView struct {
	Entries []store.AuditEntry
	Next    string
	Err     string
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, v *visit) {
	if !v.grants.All(access.Read, access.Any) {
		s.fail(w, r, v, http.StatusForbidden, (&access.Denied{Subject: v.grants.Subject().Who(), Action: access.Read, Resource: access.Any}).Error())
		return
	}
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	const limit = 100
	entries, err := s.opts.Store.AuditLog(r.Context(), limit, before)
	view := auditView{Entries: entries}
	if err != nil {
		view.Err = "The audit log cannot be read right now: " + err.Error()
	}
	if len(entries) == limit {
		view.Next = "/audit?before=" + strconv.FormatInt(entries[len(entries)-1].ID, 10)
	}
	s.render(w, r, v, http.StatusOK, "audit", "Audit log", "audit", view)
}
