package state

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
)

// BenchmarkSetRuntime is one runtime write on 20,000 services whose
// search indexes are built, and the search that follows it needing
// them: the indexes are carried over and patched, not built again.
func BenchmarkSetRuntime(b *testing.B) {
	c := catalogWith("Staging")
	for i := range 20000 {
		id := fmt.Sprintf("svc-%05d", i)
		c.Entities["service"][id] = &catalog.Entity{Blueprint: "service", Identifier: id,
			Properties: map[string]any{"lifecycle": "Production", "coverage": json.Number(fmt.Sprint(i % 100))},
			Relations:  map[string]any{"team": "payments"}}
	}
	h := NewHolder()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	h.Publish(Applied{Revision: "r1", At: at, Catalog: c})
	search := func(s *Snapshot) {
		s.IDs("service")
		s.Index("service", "$identifier")
		s.Index("service", "lifecycle")
		s.NumberIndex("service", "coverage")
	}
	search(h.Load())
	i := 0
	for b.Loop() {
		i++
		h.SetRuntime("service", fmt.Sprintf("svc-%05d", i%20000), map[string]any{"coverage": json.Number(fmt.Sprint(i % 100))}, at, "ci")
		search(h.Load())
	}
}
