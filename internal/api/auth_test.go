package api

import (
	"fmt"
	"slices"
	"testing"
)

var devClients = []Client{{ID: "pier-dev", Secret: "pier-dev-secret"}, {ID: "platform-lead", Secret: "platform-lead-secret"}}

// TestClientCheckDoesTheSameWork: an unknown client id, a wrong secret
// and the right one make the same comparisons, of the same lengths, so
// that none is answered sooner. (A timing test would be flaky;
// BenchmarkClientCheck shows the times.)
func TestClientCheckDoesTheSameWork(t *testing.T) {
	a := &Auth{Clients: devClients}
	compare := constantTimeCompare
	defer func() { constantTimeCompare = compare }()
	var calls []string
	constantTimeCompare = func(x, y []byte) int {
		calls = append(calls, fmt.Sprintf("%d/%d", len(x), len(y)))
		return compare(x, y)
	}
	work := func(id, secret string, want bool) []string {
		calls = nil
		if got := a.check(id, secret); got != want {
			t.Fatalf("check(%q, %q) = %v, want %v", id, secret, got, want)
		}
		return calls
	}
	right := work("platform-lead", "platform-lead-secret", true)
	for _, tt := range []struct{ name, id, secret string }{
		{"an unknown id", "nobody", "x"},
		{"a wrong secret", "platform-lead", "platform-lead-secreT"},
		{"a short secret", "pier-dev", "p"},
		{"another client's secret", "pier-dev", "platform-lead-secret"},
	} {
		if got := work(tt.id, tt.secret, false); !slices.Equal(got, right) || len(got) != 2*len(devClients) {
			t.Errorf("%s: comparisons %v, the right secret's %v", tt.name, got, right)
		}
	}
}

// BenchmarkClientCheck: an unknown client id, a wrong secret and the
// right one take the same time.
func BenchmarkClientCheck(b *testing.B) {
	a := &Auth{Clients: devClients}
	for _, bc := range []struct{ name, id, secret string }{
		{"unknown id", "nobody", "pier-dev-secret"},
		{"wrong secret", "platform-lead", "platform-lead-secreT"},
		{"right secret", "platform-lead", "platform-lead-secret"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				a.check(bc.id, bc.secret)
			}
		})
	}
}
