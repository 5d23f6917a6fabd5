package web

import (
	"net/http"
	"strings"
)

// apiPrefixes are the paths the API (and what it mounts: sign-in,
// webhooks, metrics, probes) answers; the portal answers every other.
var apiPrefixes = []string{"/v1/", "/auth/", "/webhooks/", "/metrics", "/healthz", "/readyz"}

// Mount serves api and portal on one address: the API's paths to api,
// the rest to the portal. The API keeps answering its own unknown paths
// (a JSON 404 under /v1/), and the portal never shadows one.
func Mount(api, portal http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range apiPrefixes {
			if strings.HasPrefix(r.URL.Path, p) || r.URL.Path+"/" == p {
				api.ServeHTTP(w, r)
				return
			}
		}
		portal.ServeHTTP(w, r)
	})
}
