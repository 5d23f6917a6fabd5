package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type outboundMetrics struct {
	deliveries *prometheus.CounterVec
	duration   *prometheus.HistogramVec
}

func newOutboundMetrics(reg prometheus.Registerer) *outboundMetrics {
	m := &outboundMetrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pier_outbound_deliveries_total",
			Help: "Outbound webhook delivery attempts by subscription and result (delivered, retry, dead).",
		}, []string{"subscription", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pier_outbound_delivery_duration_seconds",
			Help:    "Time of one outbound webhook delivery attempt.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"subscription"}),
	}
	reg.MustRegister(m.deliveries, m.duration)
	return m
}

// OutboundDelivery records one outbound webhook attempt.
func (m *Metrics) OutboundDelivery(subscription, result string, d time.Duration) {
	if m == nil {
		return
	}
	m.outbound.deliveries.WithLabelValues(subscription, result).Inc()
	m.outbound.duration.WithLabelValues(subscription).Observe(d.Seconds())
}
