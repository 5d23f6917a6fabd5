package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/metrics"
)

// TestMetricsAccess: /metrics on the API's address is read as the rest
// of the API is — anonymously only when anonymous reads are on — or with
// the metrics token, which reads nothing else.
func TestMetricsAccess(t *testing.T) {
	m := metrics.New()
	for _, anonymous := range []bool{false, true} {
		f := newFixture(t, anonymous, func(_ *fixture, o *Options) {
			o.Metrics, o.MetricsHandler = m, m.Handler()
			o.Auth.MetricsToken = "scrape-token"
		})
		tok := f.login(t)
		for _, tt := range []struct {
			name, token string
			code        int
		}{
			{"anonymous", "", map[bool]int{false: http.StatusUnauthorized, true: http.StatusOK}[anonymous]},
			{"the metrics token", "scrape-token", http.StatusOK},
			{"a client's token", tok, http.StatusOK},
			{"a wrong metrics token", "scrape-tokeN", http.StatusUnauthorized},
		} {
			resp, body := f.raw(t, "GET", "/metrics", tt.token, nil)
			if code := resp.StatusCode; code != tt.code || code == http.StatusOK && !strings.Contains(string(body), "pier_http_requests_total") {
				t.Errorf("anonymous reads %v, %s: %d, want %d\n%.200s", anonymous, tt.name, code, tt.code, body)
			}
		}
		if code, out := f.do(t, "GET", "/v1/blueprints", "scrape-token", nil); code != http.StatusForbidden || !strings.Contains(out["message"].(string), "reads /metrics only") {
			t.Errorf("anonymous reads %v: the metrics token reading the API: %d %v", anonymous, code, out)
		}
	}
}
