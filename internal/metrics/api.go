package metrics

import "github.com/prometheus/client_golang/prometheus"

// Why the API refused a caller before knowing who it was, the values of
// the reason label of pier_api_unauthenticated_total. Such refusals are
// counted, not written to the audit log one row each: anyone can send
// them.
const (
	RefusedNoToken        = "no_token"        // a route that needs a token, called without one
	RefusedBadToken       = "bad_token"       // a malformed, forged or expired token
	RefusedBadCredentials = "bad_credentials" // a token exchange with an unknown client id or a wrong secret
)

// Which limit answered 429, the values of the limit label of
// pier_api_rate_limited_total.
const (
	LimitAddress = "address" // requests without a valid token, per remote address
	LimitClient  = "client"  // requests with a token, per API client
	LimitToken   = "token"   // token exchanges, per remote address
)

type apiMetrics struct {
	unauthenticated *prometheus.CounterVec
	rateLimited     *prometheus.CounterVec
}

func newAPIMetrics(reg prometheus.Registerer) *apiMetrics {
	m := &apiMetrics{
		unauthenticated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "api_unauthenticated_total",
			Help:      "API requests refused before the caller was known, by reason (no_token, bad_token, bad_credentials).",
		}, []string{"reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "api_rate_limited_total",
			Help:      "API requests answered 429, by the limit they hit (address, client, token).",
		}, []string{"limit"}),
	}
	for _, r := range []string{RefusedNoToken, RefusedBadToken, RefusedBadCredentials} {
		m.unauthenticated.WithLabelValues(r)
	}
	for _, l := range []string{LimitAddress, LimitClient, LimitToken} {
		m.rateLimited.WithLabelValues(l)
	}
	reg.MustRegister(m.unauthenticated, m.rateLimited)
	return m
}

// APIUnauthenticated records a request refused before the caller was
// known; reason is one of the Refused* constants.
func (m *Metrics) APIUnauthenticated(reason string) {
	if m == nil {
		return
	}
	m.api.unauthenticated.WithLabelValues(reason).Inc()
}

// APIRateLimited records a request answered 429; limit is one of the
// Limit* constants.
func (m *Metrics) APIRateLimited(limit string) {
	if m == nil {
		return
	}
	m.api.rateLimited.WithLabelValues(limit).Inc()
}
