package metrics

import "github.com/prometheus/client_golang/prometheus"

// Webhook delivery results, the values of the result label of
// pier_webhook_deliveries_total.
const (
	WebhookAccepted     = "accepted"      // a handler ran and succeeded (or a ping was answered)
	WebhookDuplicate    = "duplicate"     // the delivery id was seen before
	WebhookBadSignature = "bad_signature" // missing or wrong signature, or no secret configured
	WebhookTooLarge     = "too_large"     // the body was over the limit
	WebhookIgnored      = "ignored"       // no handler for the event
	WebhookError        = "error"         // a malformed request or a failed handler
)

type webhookMetrics struct {
	deliveries *prometheus.CounterVec
}

func newWebhookMetrics(reg prometheus.Registerer) *webhookMetrics {
	w := &webhookMetrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "webhook_deliveries_total",
			Help:      "GitHub webhook deliveries received, by event and result.",
		}, []string{"event", "result"}),
	}
	reg.MustRegister(w.deliveries)
	return w
}

// WebhookDelivery records one webhook delivery. event is the GitHub event
// name; the caller must bound it (the header is chosen by whoever sends
// the request, signed or not), for instance by mapping names it does not
// know to "other". result is one of the Webhook* constants.
func (m *Metrics) WebhookDelivery(event, result string) {
	if m == nil {
		return
	}
	m.webhook.deliveries.WithLabelValues(event, result).Inc()
}
