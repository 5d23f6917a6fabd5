package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/pierhq/pier/internal/store"
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
	body := map[string]any{"status": "ready", "revision": snap.Revision}
	if s.opts.Replica != nil {
		body["replica"] = s.opts.Replica()
	}
	return writeJSON(w, http.StatusOK, body)
}

// ReplicaStatus is who leads the replicas sharing a store, as one of
// them sees it.
type ReplicaStatus struct {
	// Self is this replica; Leads whether it leads now.
	Self  string `json:"self"`
	Leads bool   `json:"leads"`
	// Leader, LeaderAddr and Epoch are the lease as last read: who holds
	// it, where it serves, and how many times leadership changed hands.
	Leader         string    `json:"leader,omitempty"`
	LeaderAddr     string    `json:"leaderAddr,omitempty"`
	Epoch          int64     `json:"epoch"`
	LeaseExpiresAt time.Time `json:"leaseExpiresAt,omitzero"`
}

// status is GET /v1/status: the reconcile conditions, the attempted and
// applied revisions, the errors of a failed revision, and recent history.
func (s *Server) status(w http.ResponseWriter, r *http.Request, _ *caller) int {
	body := map[string]any{}
	if s.opts.Status != nil {
		body["status"] = s.opts.Status()
	}
	snap := s.opts.State.Load()
	if s.opts.Replica != nil {
		body["replica"] = s.opts.Replica()
	}
	body["serving"] = map[string]any{
		"revision": snap.Revision, "appliedAt": snap.AppliedAt,
		"blueprints": len(snap.Blueprints), "entities": snap.EntityCount(),
		"actions": len(snap.Actions), "scorecards": len(snap.Scorecards),
	}
	revs, err := s.opts.Store.Revisions(r.Context(), 10)
	if err != nil {
		return storeError(w, err)
	}
	body["revisions"] = nonNil(revs)
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
	p, code, ok := pageRequest(w, r, numberedPages)
	if !ok {
		return code
	}
	entries, err := s.opts.Store.AuditLog(r.Context(), p.limit, p.number)
	if err != nil {
		return p.failed(w, err)
	}
	return writePage(w, "entries", entries, p, func(e store.AuditEntry) string { return strconv.FormatInt(e.ID, 10) })
}
