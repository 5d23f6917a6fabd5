package scorecard

import (
	"context"
	"os"
	"testing"

	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/query"
)

// TestCatalogExample evaluates the shipped example catalog and checks
// the counts an independent check script found.
func TestCatalogExample(t *testing.T) {
	l, err := loader.New(0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Load(context.Background(), os.DirFS("../../catalog-example"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("catalog-example does not load: %v", res.Diagnostics)
	}
	c := res.Catalog
	set, err := CompileAll(c, opts())
	if err != nil {
		t.Fatal(err)
	}
	results := set.EvaluateAll(Entities(c), query.GraphOf(c))
	services := len(c.Entities["service"])
	tests := []struct {
		scorecard string
		levels    map[string]int
		excluded  int // services the scorecard does not apply to
	}{
		{"production_readiness", map[string]int{"Gold": 5, "Silver": 1, "Bronze": 5, "Basic": 1}, 3},
		{"security_compliance", map[string]int{"Gold": 6, "Silver": 3, "Bronze": 2, "Basic": 4}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.scorecard, func(t *testing.T) {
			s := set.Scorecard(tt.scorecard)
			if s == nil {
				t.Fatal("no such scorecard")
			}
			sum := s.Summary(results)
			for _, l := range sum.Levels {
				if l.Entities != tt.levels[l.Title] {
					t.Errorf("%s: %d entities, want %d", l.Title, l.Entities, tt.levels[l.Title])
				}
			}
			if got := services - sum.Entities; got != tt.excluded {
				t.Errorf("%d of %d services excluded, want %d", got, services, tt.excluded)
			}
			if testing.Verbose() {
				for k, byCard := range results {
					if r, ok := byCard.Lookup(tt.scorecard); ok {
						t.Logf("%s: %s %v", k.ID, r.Level, statuses(r))
					}
				}
			}
		})
	}
}
