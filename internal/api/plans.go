package api

import (
	"context"
	"errors"
	"net/http"
)

// ErrNoRevision is what Options.Plan returns, wrapped, for a revision it
// cannot find: answered 404.
var ErrNoRevision = errors.New("no such revision")

// plan is POST /v1/plans {"revision": "..."}: what merging the revision
// would do to the state served now, as a pull request's review shows it
// (the same planner). It needs read access to everything, as the status
// does: a plan shows every object the revision touches.
func (s *Server) plan(w http.ResponseWriter, r *http.Request, _ *caller) int {
	if s.opts.Plan == nil {
		return writeError(w, http.StatusServiceUnavailable, "no_planner", "this server plans revisions of a git repository only; it serves a directory")
	}
	var body struct {
		Revision string `json:"revision"`
	}
	if code, ok := decodeBody(w, r, &body); !ok {
		return code
	}
	if body.Revision == "" {
		return writeError(w, http.StatusBadRequest, "missing_field", `field "revision" is required: a commit hash, a branch or a ref such as refs/pull/7/head`)
	}
	rep, err := s.opts.Plan(r.Context(), body.Revision)
	switch {
	case errors.Is(err, ErrNoRevision):
		return writeError(w, http.StatusNotFound, "no_revision", err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return writeError(w, http.StatusServiceUnavailable, "plan_unfinished", err.Error())
	case err != nil:
		return writeError(w, http.StatusBadGateway, "plan_failed", "could not plan the revision: "+err.Error())
	}
	return writeJSON(w, http.StatusOK, map[string]any{"ok": true, "plan": rep, "text": rep.Text(), "markdown": rep.Markdown()})
}
