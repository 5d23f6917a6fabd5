package source

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPollerRuns(t *testing.T) {
	t.Parallel()
	var runs atomic.Int32
	p, err := NewPoller(PollerOptions{Schedule: "@every 100ms", Jitter: -1}, func(context.Context) {
		if runs.Add(1) == 1 {
			panic("first run fails")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	deadline := time.Now().Add(5 * time.Second)
	for runs.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Three runs, despite the first one's panic.
	if n := runs.Load(); n < 3 {
		t.Fatalf("%d runs, want at least 3", n)
	}
	n := runs.Load()
	time.Sleep(250 * time.Millisecond)
	if m := runs.Load(); m != n {
		t.Errorf("%d runs after Stop", m-n)
	}
}

func TestPollerStopWaits(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	var finished atomic.Bool
	p, err := NewPoller(PollerOptions{Schedule: "@every 50ms", Jitter: -1}, func(ctx context.Context) {
		select {
		case started <- struct{}{}:
		default:
			return
		}
		<-release
		finished.Store(true)
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	<-started
	stopped := make(chan error)
	go func() { stopped <- p.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned %v while the job ran", err)
	case <-time.After(150 * time.Millisecond):
	}
	close(release)
	if err := <-stopped; err != nil || !finished.Load() {
		t.Errorf("Stop = %v, job finished %v", err, finished.Load())
	}
}

func TestPollerStopTimeout(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	cancelled := make(chan struct{})
	p, err := NewPoller(PollerOptions{Schedule: "@every 50ms", Jitter: -1}, func(ctx context.Context) {
		started <- struct{}{}
		<-ctx.Done()
		close(cancelled)
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop = %v, want DeadlineExceeded", err)
	}
	select {
	case <-cancelled:
	case <-time.After(2 * time.Second):
		t.Error("the job's context was not cancelled")
	}
}

func TestPollerJitter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		schedule string
		jitter   float64
		max      time.Duration
	}{
		{"@every 10s", 0, time.Second}, // the default 10%
		{"@every 10s", 0.5, 5 * time.Second},
		{"*/5 * * * *", 0.1, 30 * time.Second},
		{"@every 10s", -1, 0},
	} {
		p, err := NewPoller(PollerOptions{Schedule: tc.schedule, Jitter: tc.jitter}, func(context.Context) {})
		if err != nil {
			t.Fatal(err)
		}
		var longest time.Duration
		for range 1000 {
			d := p.delay(time.Now())
			if d < 0 || d > tc.max {
				t.Fatalf("%s jitter %v: delay %v outside [0, %v]", tc.schedule, tc.jitter, d, tc.max)
			}
			longest = max(longest, d)
		}
		if longest < tc.max/2 {
			t.Errorf("%s jitter %v: longest delay %v of 1000, want spread up to %v", tc.schedule, tc.jitter, longest, tc.max)
		}
	}
}

func TestPollerErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts PollerOptions
		want string
	}{
		{PollerOptions{Schedule: "every 5"}, `poll schedule "every 5": `},
		{PollerOptions{Schedule: "@every 5"}, `poll schedule "@every 5": `},
		{PollerOptions{Schedule: "@every -1m"}, `poll schedule "@every -1m": the interval must be positive`},
		{PollerOptions{Schedule: "61 * * * *"}, `poll schedule "61 * * * *": `},
		{PollerOptions{Jitter: 2}, "poll jitter 2"},
	} {
		_, err := NewPoller(tc.opts, func(context.Context) {})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.opts, err, tc.want)
		}
	}
	if _, err := NewPoller(PollerOptions{}, func(context.Context) {}); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
