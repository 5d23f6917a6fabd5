package outbox

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	w := NewWorker(nil, nil, Options{MinBackoff: time.Second, MaxBackoff: 10 * time.Second})
	for _, c := range []struct {
		attempts int
		base     time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second}, {5, 10 * time.Second}, {100, 10 * time.Second}} {
		for range 50 {
			d := w.backoff(c.attempts)
			if lo, hi := c.base*8/10, c.base*12/10; d < lo || d > hi {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", c.attempts, d, lo, hi)
			}
		}
	}
}
