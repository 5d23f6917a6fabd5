package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

type githubMetrics struct {
	// rateRemaining is a vector without labels so that it has no series
	// until the first response: a 0 before any request would look like
	// an exhausted rate limit.
	rateRemaining *prometheus.GaugeVec
	requests      *prometheus.CounterVec
}

func newGitHubMetrics(reg prometheus.Registerer) *githubMetrics {
	g := &githubMetrics{
		rateRemaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "github_rate_limit_remaining",
			Help:      "Requests left in the current GitHub API rate-limit window, as of the last response.",
		}, nil),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "github_requests_total",
			Help:      "Requests to the GitHub API, by status code (\"error\" when no response came back).",
		}, []string{"code"}),
	}
	reg.MustRegister(g.rateRemaining, g.requests)
	return g
}

// GitHubResponse records one GitHub API response. code is its HTTP status,
// or 0 when the request got no response (a network error); remaining is
// its X-RateLimit-Remaining, or a negative number when it had none, which
// leaves the gauge as it was.
func (m *Metrics) GitHubResponse(code int, remaining int) {
	if m == nil {
		return
	}
	label := "error"
	if code >= 100 && code <= 599 {
		label = strconv.Itoa(code)
	}
	m.github.requests.WithLabelValues(label).Inc()
	if remaining >= 0 {
		m.github.rateRemaining.WithLabelValues().Set(float64(remaining))
	}
}
