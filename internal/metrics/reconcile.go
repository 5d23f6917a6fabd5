package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reconcile results, the values of the result label. The first three are
// the reconciler's outcomes; ResultError is a reconcile that could not be
// done at all (the tree could not be read, the store failed).
const (
	ResultApplied   = "applied"
	ResultUnchanged = "unchanged"
	ResultFailed    = "failed"
	ResultError     = "error"
)

type reconcileMetrics struct {
	duration          *prometheus.HistogramVec
	total             *prometheus.CounterVec
	appliedInfo       *prometheus.GaugeVec
	appliedTimestamp  prometheus.Gauge
	attemptedInfo     *prometheus.GaugeVec
	entities          *prometheus.GaugeVec
	validationErrors  *prometheus.GaugeVec
	ready             prometheus.Gauge
	pushToApplied     prometheus.Histogram
	mu                sync.Mutex // serialises the read-modify-write updates below
	blueprints        map[string]bool
	validationKinds   map[string]bool
	appliedRevision   string
	attemptedRevision string
}

func newReconcileMetrics(reg prometheus.Registerer) *reconcileMetrics {
	r := &reconcileMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "reconcile_duration_seconds",
			Help:      "Time taken by one reconcile of a catalog revision, by result.",
			Buckets:   []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"result"}),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "reconcile_total",
			Help:      "Reconciles of a catalog revision, by result (applied, unchanged, failed, error).",
		}, []string{"result"}),
		appliedInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "revision_applied_info",
			Help:      "The catalog revision currently applied (always 1; the revision is the label).",
		}, []string{"revision"}),
		appliedTimestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "revision_applied_timestamp_seconds",
			Help:      "Unix time at which the current catalog revision was applied.",
		}),
		attemptedInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "revision_attempted_info",
			Help:      "The catalog revision last attempted, applied or not (always 1; the revision is the label).",
		}, []string{"revision"}),
		entities: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "entities",
			Help:      "Entities in the applied catalog, by blueprint.",
		}, []string{"blueprint"}),
		validationErrors: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "validation_errors",
			Help:      "Errors found in the last attempted catalog revision, by diagnostic kind.",
		}, []string{"kind"}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "ready",
			Help:      "Whether pier is ready to serve: 1 once a catalog revision is applied, else 0.",
		}),
		pushToApplied: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "push_to_applied_seconds",
			Help:      "Time from receiving a push webhook to the pushed revision being applied.",
			Buckets:   []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}),
		blueprints:      map[string]bool{},
		validationKinds: map[string]bool{},
	}
	// Every result has a series from the first scrape, so rate() and
	// absent() behave before the first failure.
	for _, res := range []string{ResultApplied, ResultUnchanged, ResultFailed, ResultError} {
		r.duration.WithLabelValues(res)
		r.total.WithLabelValues(res)
	}
	reg.MustRegister(r.duration, r.total, r.appliedInfo, r.appliedTimestamp, r.attemptedInfo,
		r.entities, r.validationErrors, r.ready, r.pushToApplied)
	return r
}

// ReconcileDone records one finished reconcile: result is one of
// ResultApplied, ResultUnchanged, ResultFailed or ResultError, and d how
// long it took.
func (m *Metrics) ReconcileDone(result string, d time.Duration) {
	if m == nil {
		return
	}
	m.reconcile.duration.WithLabelValues(result).Observe(d.Seconds())
	m.reconcile.total.WithLabelValues(result).Inc()
}

// RevisionApplied records that rev is now the applied revision, applied at
// at. Only the current revision keeps a pier_revision_applied_info series,
// so a dashboard can show it without picking the newest of many.
func (m *Metrics) RevisionApplied(rev string, at time.Time) {
	if m == nil {
		return
	}
	r := m.reconcile
	r.mu.Lock()
	defer r.mu.Unlock()
	swapInfo(r.appliedInfo, &r.appliedRevision, rev)
	r.appliedTimestamp.Set(float64(at.UnixNano()) / 1e9)
}

// RevisionAttempted records that rev was the last revision attempted,
// whether it was applied or not. With RevisionApplied it tells when the
// portal serves an older revision than the branch head.
func (m *Metrics) RevisionAttempted(rev string) {
	if m == nil {
		return
	}
	r := m.reconcile
	r.mu.Lock()
	defer r.mu.Unlock()
	swapInfo(r.attemptedInfo, &r.attemptedRevision, rev)
}

// swapInfo makes rev the only series of an info vector. It deletes the
// previous series instead of resetting the vector, so a concurrent scrape
// sees the old or the new revision, never none.
func swapInfo(v *prometheus.GaugeVec, cur *string, rev string) {
	v.WithLabelValues(rev).Set(1)
	if *cur != "" && *cur != rev {
		v.DeleteLabelValues(*cur)
	}
	*cur = rev
}

// SetEntities sets the number of entities of every blueprint of the
// applied catalog. Blueprints absent from counts lose their series: a
// deleted blueprint does not linger in dashboards.
func (m *Metrics) SetEntities(counts map[string]int) {
	if m == nil {
		return
	}
	r := m.reconcile
	r.mu.Lock()
	defer r.mu.Unlock()
	for bp, n := range counts {
		r.entities.WithLabelValues(bp).Set(float64(n))
		r.blueprints[bp] = true
	}
	for bp := range r.blueprints {
		if _, ok := counts[bp]; !ok {
			r.entities.DeleteLabelValues(bp)
			delete(r.blueprints, bp)
		}
	}
}

// SetValidationErrors sets the errors of the last attempted revision by
// diagnostic kind (catalog.Kind*). Kinds seen before but absent from
// counts are set to 0 rather than deleted: the set of kinds is small and
// fixed, and a series that drops to 0 is what an alert needs to resolve.
func (m *Metrics) SetValidationErrors(counts map[string]int) {
	if m == nil {
		return
	}
	r := m.reconcile
	r.mu.Lock()
	defer r.mu.Unlock()
	for kind := range r.validationKinds {
		if _, ok := counts[kind]; !ok {
			r.validationErrors.WithLabelValues(kind).Set(0)
		}
	}
	for kind, n := range counts {
		r.validationErrors.WithLabelValues(kind).Set(float64(n))
		r.validationKinds[kind] = true
	}
}

// SetReady records whether pier is ready to serve.
func (m *Metrics) SetReady(ready bool) {
	if m == nil {
		return
	}
	v := 0.0
	if ready {
		v = 1
	}
	m.reconcile.ready.Set(v)
}

// PushApplied records the time from receiving a push webhook to its
// revision being applied: the latency a catalog author feels.
func (m *Metrics) PushApplied(d time.Duration) {
	if m == nil {
		return
	}
	m.reconcile.pushToApplied.Observe(d.Seconds())
}

type sourceMetrics struct {
	fetchDuration prometheus.Histogram
	fetchFailures prometheus.Counter
}

func newSourceMetrics(reg prometheus.Registerer) *sourceMetrics {
	s := &sourceMetrics{
		fetchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "source_fetch_duration_seconds",
			Help:      "Time taken by one fetch of the catalog source (git fetch or directory scan), failed or not.",
			Buckets:   []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
		}),
		fetchFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "source_fetch_failures_total",
			Help:      "Fetches of the catalog source that failed.",
		}),
	}
	reg.MustRegister(s.fetchDuration, s.fetchFailures)
	return s
}

// FetchDone records one fetch of the catalog source that took d; a
// non-nil err counts it as a failure too.
func (m *Metrics) FetchDone(d time.Duration, err error) {
	if m == nil {
		return
	}
	m.source.fetchDuration.Observe(d.Seconds())
	if err != nil {
		m.source.fetchFailures.Inc()
	}
}
