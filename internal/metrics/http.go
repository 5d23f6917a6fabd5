package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	h := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "http_requests_total",
			Help:      "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "http_request_duration_seconds",
			Help:      "Time taken to serve an HTTP request, by route pattern.",
			Buckets:   prometheus.DefBuckets,
		}, []string{"route"}),
	}
	reg.MustRegister(h.requests, h.duration)
	return h
}

// InstrumentHandler wraps h to count its requests by status code and time
// them. route labels the series: pass the route pattern h is registered
// under ("GET /api/v1/entities/{id}"), never the request path, which
// would create a series per entity.
func (m *Metrics) InstrumentHandler(route string, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	labels := prometheus.Labels{"route": route}
	requests, err := m.http.requests.CurryWith(labels)
	if err != nil {
		return h // cannot happen: "route" is a label of the vector
	}
	duration, err := m.http.duration.CurryWith(labels)
	if err != nil {
		return h
	}
	return promhttp.InstrumentHandlerDuration(duration, promhttp.InstrumentHandlerCounter(requests, h))
}
