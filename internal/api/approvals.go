package api

import (
	"context"
	"fmt"
	"net/http"
)

// Member is one member of a declared approval system, as its member list
// request reports them.
type Member struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// ApprovalMembers asks a declared approval system for its members.
type ApprovalMembers func(ctx context.Context, system string) ([]Member, error)

// listApprovalSystems is GET /v1/approval-systems: the approval systems
// declared in the catalog.
func (s *Server) listApprovalSystems(w http.ResponseWriter, r *http.Request, _ *caller) int {
	return writeJSON(w, http.StatusOK, map[string]any{"approvalSystems": byID(s.opts.State.Load().ApprovalSystems)})
}

func (s *Server) getApprovalSystem(w http.ResponseWriter, r *http.Request, _ *caller) int {
	sys := s.opts.State.Load().ApprovalSystems[r.PathValue("id")]
	if sys == nil {
		return writeError(w, http.StatusNotFound, "not_found", "no approval system "+quote(r.PathValue("id")))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"approvalSystem": sys})
}

// approvalMembers is GET /v1/approval-systems/{id}/members: the
// system's memberListRequest, made now — how an operator checks that
// pier reaches the system with working credentials, and who it knows.
func (s *Server) approvalMembers(w http.ResponseWriter, r *http.Request, _ *caller) int {
	id := r.PathValue("id")
	sys := s.opts.State.Load().ApprovalSystems[id]
	switch {
	case sys == nil:
		return writeError(w, http.StatusNotFound, "not_found", "no approval system "+quote(id))
	case sys.MemberListRequest == nil:
		return writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("approval system %s declares no memberListRequest", id))
	case s.opts.ApprovalMembers == nil:
		return writeError(w, http.StatusServiceUnavailable, "unavailable", "approval systems are not reachable from this server")
	}
	members, err := s.opts.ApprovalMembers(r.Context(), id)
	if err != nil {
		return writeError(w, http.StatusBadGateway, "approval_system_error", err.Error())
	}
	return writeJSON(w, http.StatusOK, map[string]any{"members": nonNil(members)})
}
