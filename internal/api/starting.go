package api

import "net/http"

// Starting is what the daemon's address answers while the daemon cannot
// serve yet because it waits for its state store: /healthz that the
// process is alive (a restart would not help), /readyz and everything
// else 503 with the reason, so that a load balancer sends nothing here
// and a person sees why.
func Starting(reason func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			writeJSON(w, http.StatusOK, map[string]any{"status": "alive"})
			return
		}
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "starting", reason())
	})
}
