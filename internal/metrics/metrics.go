package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every pier metric.
const namespace = "pier"

// Metrics records what pier does as Prometheus metrics. It is safe for
// concurrent use; a nil *Metrics records nothing.
type Metrics struct {
	reg *prometheus.Registry

	reconcile *reconcileMetrics
	source    *sourceMetrics
	webhook   *webhookMetrics
	http      *httpMetrics
	github    *githubMetrics
	scorecard *scorecardMetrics
	outbound  *outboundMetrics
	runs      *runMetrics
	api       *apiMetrics
	replica   *replicaMetrics
}

// New returns a Metrics with its own registry, holding pier's metrics and
// the Go runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// The collectors below are built here with fixed, valid names and
	// labels, so registering them cannot fail; a failure would be a bug
	// caught by the package tests, not a runtime condition.
	return &Metrics{
		reg:       reg,
		reconcile: newReconcileMetrics(reg),
		source:    newSourceMetrics(reg),
		webhook:   newWebhookMetrics(reg),
		http:      newHTTPMetrics(reg),
		github:    newGitHubMetrics(reg),
		scorecard: newScorecardMetrics(reg),
		outbound:  newOutboundMetrics(reg),
		runs:      newRunMetrics(reg),
		api:       newAPIMetrics(reg),
		replica:   newReplicaMetrics(reg),
	}
}

// Handler serves the metrics in the Prometheus text format, or in
// OpenMetrics when the scraper asks for it.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Registry returns the registry behind Handler, for tests and for
// gathering the metrics some other way.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}
