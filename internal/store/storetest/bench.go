package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/pierhq/pier/internal/store"
)

const benchEntities = 20000

func benchChanges() []store.Change {
	changes := make([]store.Change, 0, benchEntities+1)
	changes = append(changes, create(bpService, doc(`{"identifier":"service","schema":{"properties":{}}}`)))
	for i := range benchEntities {
		id := fmt.Sprintf("service-%05d", i)
		js := doc(`{"identifier":%q,"title":"Service %d","properties":{"lifecycle":"production","tier":"%d","language":"go","url":"https://git.example.com/org/%s"},"relations":{"owner":"team-%d"}}`,
			id, i, i%4, id, i%50)
		changes = append(changes, create(entityKey("service", id), js))
	}
	return changes
}

// BenchmarkApply measures a cold reconcile's write: 20,000 entities
// created in one revision, into a fresh store each time.
func BenchmarkApply(b *testing.B, d Driver) {
	h := &harness{Driver: d}
	changes := benchChanges()
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := h.openUnclosed(b, h.Fresh(b))
		b.StartTimer()
		if err := s.Apply(ctx, applied("r1"), changes); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(changes)), "ns/change")
}

// BenchmarkState measures the read of the applied state at start: 20,000
// entities.
func BenchmarkState(b *testing.B, d Driver) {
	h := &harness{Driver: d}
	s := h.new(b)
	ctx := context.Background()
	apply(b, s, applied("r1"), benchChanges()...)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := s.State(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(st.Objects) != benchEntities+1 {
			b.Fatalf("State() has %d objects", len(st.Objects))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(benchEntities+1)), "ns/object")
}
