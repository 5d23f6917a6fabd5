package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type runMetrics struct {
	transitions  *prometheus.CounterVec
	approvalWait *prometheus.HistogramVec
	dispatch     *prometheus.HistogramVec
	failures     *prometheus.CounterVec
}

func newRunMetrics(reg prometheus.Registerer) *runMetrics {
	m := &runMetrics{
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pier_action_runs_total",
			Help: "Action runs entering each status, by action and status (WAITING_FOR_APPROVAL, APPROVED, DISPATCHED, IN_PROGRESS, SUCCESS, FAILURE, DECLINED, EXPIRED, CANCELLED).",
		}, []string{"action", "status"}),
		approvalWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pier_action_approval_wait_seconds",
			Help:    "Time from a run's request to its approval decision, by action and outcome (approved, declined, expired).",
			Buckets: []float64{60, 300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600},
		}, []string{"action", "outcome"}),
		dispatch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pier_action_dispatch_duration_seconds",
			Help:    "Time of one dispatch call (GitHub workflow dispatch or webhook), by invocation method.",
			Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pier_action_dispatch_failures_total",
			Help: "Dispatch calls that failed or whose outcome is unknown, by action and invocation method.",
		}, []string{"action", "method"}),
	}
	reg.MustRegister(m.transitions, m.approvalWait, m.dispatch, m.failures)
	return m
}

// RunStatus counts a run entering status.
func (m *Metrics) RunStatus(action, status string) {
	if m == nil {
		return
	}
	m.runs.transitions.WithLabelValues(action, status).Inc()
}

// ApprovalWait records how long a run waited for its approval decision.
func (m *Metrics) ApprovalWait(action, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.runs.approvalWait.WithLabelValues(action, outcome).Observe(d.Seconds())
}

// Dispatched records one dispatch call.
func (m *Metrics) Dispatched(action, method string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.runs.dispatch.WithLabelValues(method).Observe(d.Seconds())
	if err != nil {
		m.runs.failures.WithLabelValues(action, method).Inc()
	}
}
