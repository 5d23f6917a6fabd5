package api

import (
	"net/http"
	"strconv"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ *caller) int {
	return writeJSON(w, http.StatusOK, map[string]any{"status": "alive"})
}

// readyz answers 200 once a state is loaded (from the store at start, or
// from the first reconcile): from then on the API serves a catalog, even
// while the newest revision is failing.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ *caller) int {
	snap := s.opts.State.Load()
	if !snap.Loaded() {
		return writeError(w, http.StatusServiceUnavailable, "not_ready", "no revision applied yet")
	}
	return writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "revision": snap.Revision})
}

// status is GET /v1/status: the reconcile conditions, the attempted and
// applied revisions, the errors of a failed revision, and recent history.
func (s *Server) status(w http.ResponseWriter, r *http.Request, _ *caller) int {
	body := map[string]any{}
	if s.opts.Status != nil {
		body["status"] = s.opts.Status()
	}
	snap := s.opts.State.Load()
	body["serving"] = map[string]any{
		"revision": snap.Revision, "appliedAt": snap.AppliedAt,
		"blueprints": len(snap.Blueprints), "entities": snap.EntityCount(),
		"actions": len(snap.Actions), "scorecards": len(snap.Scorecards),
	}
	revs, err := s.opts.Store.Revisions(r.Context(), 10)
	if err != nil {
		return writeError(w, http.StatusInternalServerError, "store_error", err.Error())
	}
	body["revisions"] = revs
	return writeJSON(w, http.StatusOK, body)
}

// reconcile is POST /v1/reconcile: reconcile the source's newest revision
// now, even if it was attempted before.
func (s *Server) reconcile(w http.ResponseWriter, r *http.Request, _ *caller) int {
	if s.opts.Reconcile == nil {
		return writeError(w, http.StatusServiceUnavailable, "no_reconciler", "this server does not reconcile")
	}
	s.opts.Reconcile()
	return writeJSON(w, http.StatusAccepted, map[string]any{"message": "reconcile requested"})
}

// auditLog is GET /v1/audit-log?limit=N&before=ID, newest first.
func (s *Server) auditLog(w http.ResponseWriter, r *http.Request, _ *caller) int {
	limit, err := limitParam(r)
	if err != nil {
		return writeError(w, http.StatusBadRequest, "invalid_parameter", err.Error())
	}
	before, err := intParam(r, "before", 0)
	if err != nil {
		return writeError(w, http.StatusBadRequest, "invalid_parameter", err.Error())
	}
	entries, err := s.opts.Store.AuditLog(r.Context(), limit, int64(before))
	if err != nil {
		return writeError(w, http.StatusInternalServerError, "store_error", err.Error())
	}
	body := map[string]any{"entries": entries}
	if len(entries) == limit {
		body["next"] = strconv.FormatInt(entries[len(entries)-1].ID, 10)
	}
	return writeJSON(w, http.StatusOK, body)
}

// Page sizes of the listings that page with ?limit and ?before.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// limitParam reads ?limit: defaultLimit when absent, clamped to 1 ..
// maxLimit. A listing that answers limit items says where the next page
// starts.
func limitParam(r *http.Request) (int, error) {
	n, err := intParam(r, "limit", defaultLimit)
	if err != nil {
		return 0, err
	}
	return min(max(n, 1), maxLimit), nil
}

func intParam(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, &paramError{name, v}
	}
	return n, nil
}

type paramError struct{ name, value string }

func (e *paramError) Error() string {
	return "query parameter " + e.name + "=" + quote(e.value) + " is not a non-negative integer"
}
