package runs

import (
	"context"
	"testing"

	"github.com/pierhq/pier/internal/store"
)

// BenchmarkRequestChecks is what a run request costs before anything is
// stored: its inputs validated and its approval rule's when evaluated.
func BenchmarkRequestChecks(b *testing.B) {
	e := newEnv(b)
	snap := e.eng.opts.Catalog()
	a := snap.Actions["extend_ttl"]
	in := map[string]any{"days": 10, "reason": "a demo"}
	for b.Loop() {
		inputs, problems := CheckInputs(snap, a, in)
		if len(problems) > 0 {
			b.Fatal(problems[0])
		}
		needs, err := approvalNeeded(context.Background(), a, store.Run{ID: "r", Inputs: inputs}, nil, "")
		if err != nil || !needs {
			b.Fatal(needs, err)
		}
	}
}
