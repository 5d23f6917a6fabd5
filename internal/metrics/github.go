package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type githubMetrics struct {
	// rateRemaining is a vector without labels so that it has no series
	// until the first response: a 0 before any request would look like
	// an exhausted rate limit.
	rateRemaining *prometheus.GaugeVec
	requests      *prometheus.CounterVec
	// tokenRenewals and tokenExpiry are a GitHub App's installation
	// tokens: an alert on the expiry coming close says renewals have
	// been failing for minutes, before requests fail.
	tokenRenewals *prometheus.CounterVec
	tokenExpiry   *prometheus.GaugeVec
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
		tokenRenewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "github_token_renewals_total",
			Help:      "Renewals of the GitHub App installation token, by result (ok, error).",
		}, []string{"result"}),
		tokenExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "github_token_expiry_timestamp_seconds",
			Help:      "When the GitHub App installation token in use expires (Unix time); renewals start 5 minutes before.",
		}, nil),
	}
	for _, r := range []string{"ok", "error"} {
		g.tokenRenewals.WithLabelValues(r)
	}
	reg.MustRegister(g.rateRemaining, g.requests, g.tokenRenewals, g.tokenExpiry)
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

// GitHubTokenRenewed records one renewal of a GitHub App installation
// token: err is nil when it succeeded; expires is when the token in use
// expires, zero when there is none (the gauge is left as it was, in the
// past by then).
func (m *Metrics) GitHubTokenRenewed(err error, expires time.Time) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.github.tokenRenewals.WithLabelValues(result).Inc()
	if !expires.IsZero() {
		m.github.tokenExpiry.WithLabelValues().Set(float64(expires.Unix()))
	}
}
