package api

import (
	"net/http"
)

// listWebhooks is GET /v1/webhooks: the outbound subscriptions the
// catalog declares (the secrets' environment variable names, never the
// secrets).
func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, _ *caller) int {
	return writeJSON(w, http.StatusOK, map[string]any{"webhooks": byID(s.opts.State.Load().Webhooks)})
}

// webhookDeliveries is GET /v1/webhooks/deliveries?limit=N&before=ID:
// outbound deliveries newest first, with their state, attempts and last
// answer.
func (s *Server) webhookDeliveries(w http.ResponseWriter, r *http.Request, _ *caller) int {
	if s.opts.Deliveries == nil {
		return writeError(w, http.StatusServiceUnavailable, "no_outbox", "this server does not send webhooks")
	}
	limit, err := limitParam(r)
	if err != nil {
		return writeError(w, http.StatusBadRequest, "invalid_parameter", err.Error())
	}
	ds, err := s.opts.Deliveries.Deliveries(r.Context(), limit, r.URL.Query().Get("before"))
	if err != nil {
		return writeError(w, http.StatusInternalServerError, "store_error", err.Error())
	}
	body := map[string]any{"deliveries": ds}
	if len(ds) == limit {
		body["next"] = ds[len(ds)-1].ID
	}
	return writeJSON(w, http.StatusOK, body)
}
