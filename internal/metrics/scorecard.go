package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

type scorecardMetrics struct {
	mu       sync.Mutex
	entities *prometheus.GaugeVec
	seen     map[[2]string]bool
}

func newScorecardMetrics(reg prometheus.Registerer) *scorecardMetrics {
	m := &scorecardMetrics{
		entities: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pier_scorecard_entities",
			Help: "Entities at each level of each scorecard, in the applied state.",
		}, []string{"scorecard", "level"}),
		seen: map[[2]string]bool{},
	}
	reg.MustRegister(m.entities)
	return m
}

// SetScorecardLevels sets the number of entities per scorecard and level.
// Pairs that vanished (a deleted scorecard or level) lose their series.
func (m *Metrics) SetScorecardLevels(counts map[string]map[string]int) {
	if m == nil {
		return
	}
	s := m.scorecard
	s.mu.Lock()
	defer s.mu.Unlock()
	now := map[[2]string]bool{}
	for card, levels := range counts {
		for level, n := range levels {
			s.entities.WithLabelValues(card, level).Set(float64(n))
			now[[2]string{card, level}] = true
		}
	}
	for k := range s.seen {
		if !now[k] {
			s.entities.DeleteLabelValues(k[0], k[1])
		}
	}
	s.seen = now
}
