package api

import (
	"net/http"

	"github.com/pierhq/pier/internal/outbox/record"
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
	p, code, ok := pageRequest(w, r, idPages)
	if !ok {
		return code
	}
	ds, err := s.opts.Deliveries.Deliveries(r.Context(), p.limit, p.cursor)
	if err != nil {
		return p.failed(w, err)
	}
	return writePage(w, "deliveries", ds, p, func(d record.Delivery) string { return d.ID })
}
