package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// replicaMetrics say who leads and how far a replica's served state is
// behind: an alert on two replicas with pier_leader 1, or on a lag that
// grows, says the lease or the notifications are broken.
type replicaMetrics struct {
	leader      prometheus.Gauge
	epoch       prometheus.Gauge
	renewals    *prometheus.CounterVec
	transitions *prometheus.CounterVec
	lag         prometheus.Gauge
	follows     prometheus.Histogram
}

func newReplicaMetrics(reg prometheus.Registerer) *replicaMetrics {
	r := &replicaMetrics{
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "leader",
			Help: "1 while this replica holds the leader's lease (it reconciles, dispatches and delivers), 0 otherwise.",
		}),
		epoch: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "leader_epoch",
			Help: "The epoch of the leader's lease as this replica last saw it; it grows each time leadership changes hands.",
		}),
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "leader_lease_renewals_total",
			Help: "Attempts of this replica to take or renew the leader's lease, by result (ok, lost, error).",
		}, []string{"result"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "leader_transitions_total",
			Help: "Times this replica started leading (elected) or stopped (lost, released).",
		}, []string{"kind"}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "replica_lag_seconds",
			Help: "How long ago the leader applied the newest revision this replica does not serve yet (0 when it serves the newest).",
		}),
		follows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "replica_follow_duration_seconds",
			Help:    "Time from the leader applying a revision to this replica serving it.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	for _, v := range []string{"ok", "lost", "error"} {
		r.renewals.WithLabelValues(v)
	}
	for _, v := range []string{"elected", "lost", "released"} {
		r.transitions.WithLabelValues(v)
	}
	reg.MustRegister(r.leader, r.epoch, r.renewals, r.transitions, r.lag, r.follows)
	return r
}

// Leading records whether this replica leads, under which epoch.
func (m *Metrics) Leading(leads bool, epoch int64) {
	if m == nil {
		return
	}
	v := 0.0
	if leads {
		v = 1
	}
	m.replica.leader.Set(v)
	m.replica.epoch.Set(float64(epoch))
}

// LeaseAttempt records one attempt to take or renew the lease: ok, lost
// (another replica holds it) or error.
func (m *Metrics) LeaseAttempt(result string) {
	if m != nil {
		m.replica.renewals.WithLabelValues(result).Inc()
	}
}

// LeaderTransition records that this replica started (elected) or
// stopped (lost, released) leading.
func (m *Metrics) LeaderTransition(kind string) {
	if m != nil {
		m.replica.transitions.WithLabelValues(kind).Inc()
	}
}

// ReplicaLag records how far behind the leader's newest revision the
// served state is.
func (m *Metrics) ReplicaLag(lag time.Duration) {
	if m != nil {
		m.replica.lag.Set(lag.Seconds())
	}
}

// Followed records the time from the leader applying a revision to this
// replica serving it.
func (m *Metrics) Followed(d time.Duration) {
	if m != nil {
		m.replica.follows.Observe(d.Seconds())
	}
}
