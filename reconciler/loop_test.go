package reconciler

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"
)

// revSource serves whatever revision the test sets, counting fetches.
type revSource struct {
	mu      sync.Mutex
	rev     Revision
	fetches atomic.Int32
	gate    chan struct{} // when set, each fetch waits for a token
	err     error
}

func (s *revSource) set(id string, fs fstest.MapFS) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rev = Revision{ID: id, FS: fs}
}

func (s *revSource) fetch(ctx context.Context) (Revision, error) {
	s.fetches.Add(1)
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return Revision{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev, s.err
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLoopFollowsRevisionsAndReportsConditions(t *testing.T) {
	r, _, _ := setup(t)
	src := &revSource{}
	src.set("good1", catalogFS(3, "Staging"))
	var results atomic.Int32
	l := NewLoop(r, src.fetch, "", time.Time{}, LoopOptions{
		MinBackoff: 10 * time.Millisecond,
		OnResult:   func(Revision, *Result, error) { results.Add(1) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "first apply", func() bool { return l.Status().LastAppliedRevision == "good1" })
	if c := l.Status().Condition(ConditionReady); c.Status != "True" || c.Reason != ReasonApplied {
		t.Fatalf("Ready after a good revision: %+v", c)
	}

	src.set("bad", catalogFS(3, "Prod"))
	l.Trigger()
	waitFor(t, "bad attempt", func() bool { return l.Status().LastAttemptedRevision == "bad" })
	st := l.Status()
	if st.LastAppliedRevision != "good1" || len(st.Errors) != 3 {
		t.Fatalf("after a bad revision: applied %q, %d errors", st.LastAppliedRevision, len(st.Errors))
	}
	if c := st.Condition(ConditionReady); c.Status != "False" || c.Reason != ReasonInvalid {
		t.Fatalf("Ready after a bad revision: %+v", c)
	}
	if c := st.Condition(ConditionStalled); c.Status != "True" {
		t.Fatalf("Stalled after a bad revision: %+v", c)
	}

	// Triggering again without a new revision does not reconcile again.
	before := results.Load()
	l.Trigger()
	time.Sleep(50 * time.Millisecond)
	if results.Load() != before {
		t.Fatalf("the same bad revision was reconciled again")
	}
	// Force does.
	l.Force()
	waitFor(t, "forced reconcile", func() bool { return results.Load() == before+1 })

	src.set("good2", catalogFS(3, "Production"))
	l.Trigger()
	waitFor(t, "recovery", func() bool { return l.Status().LastAppliedRevision == "good2" })
	if st := l.Status(); len(st.Errors) != 0 || st.Condition(ConditionStalled).Status != "False" {
		t.Fatalf("after recovery: %+v", st)
	}
}

func TestLoopCoalescesABurst(t *testing.T) {
	r, _, _ := setup(t)
	src := &revSource{gate: make(chan struct{})}
	src.set("r0", catalogFS(2, "Staging"))
	var attempts atomic.Int32
	l := NewLoop(r, src.fetch, "", time.Time{}, LoopOptions{OnResult: func(Revision, *Result, error) { attempts.Add(1) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// The first fetch is held at the gate while ten pushes arrive.
	waitFor(t, "first fetch", func() bool { return src.fetches.Load() == 1 })
	for i := 1; i <= 10; i++ {
		src.set(fmt.Sprintf("r%d", i), catalogFS(2+i%3, "Staging"))
		l.Trigger()
	}
	close(src.gate) // let every fetch through from now on
	waitFor(t, "newest head applied", func() bool { return l.Status().LastAppliedRevision == "r10" })
	time.Sleep(50 * time.Millisecond)
	if n := attempts.Load(); n > 2 {
		t.Fatalf("a burst of 10 triggers caused %d reconciles, want at most 2", n)
	}
}

func TestLoopBacksOffOnFetchErrors(t *testing.T) {
	r, _, _ := setup(t)
	src := &revSource{err: errors.New("remote hung up")}
	var fetchErrors atomic.Int32
	l := NewLoop(r, src.fetch, "old", time.Time{}, LoopOptions{
		MinBackoff:   20 * time.Millisecond,
		MaxBackoff:   40 * time.Millisecond,
		OnFetchError: func(error) { fetchErrors.Add(1) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	waitFor(t, "three retries", func() bool { return fetchErrors.Load() >= 3 })
	if c := l.Status().Condition(ConditionReady); c.Reason != ReasonFetchFailed || c.Status != "False" {
		t.Fatalf("Ready while the source fails: %+v", c)
	}
	if l.Status().LastAppliedRevision != "old" {
		t.Fatal("the applied revision from the store was forgotten")
	}
	// The source recovers: the loop applies without a trigger.
	src.mu.Lock()
	src.err = nil
	src.rev = Revision{ID: "new", FS: catalogFS(1, "Staging")}
	src.mu.Unlock()
	waitFor(t, "recovery after backoff", func() bool { return l.Status().LastAppliedRevision == "new" })
	cancel()
	<-done
}

// cancellingFS ends a context when the loader first opens a file.
type cancellingFS struct {
	fstest.MapFS
	cancel context.CancelFunc
}

func (c cancellingFS) Open(name string) (fs.File, error) {
	if name != "." {
		c.cancel()
	}
	return c.MapFS.Open(name)
}

// Stopping the loop while a revision is fetched or loaded abandons it
// (the daemon's SIGTERM): nothing is written, recorded or reported, and
// Run returns at once.
func TestLoopAbandonsARevisionWhenStopped(t *testing.T) {
	for _, during := range []string{"fetch", "load"} {
		t.Run(during, func(t *testing.T) {
			r, st, _ := setup(t)
			ctx, cancel := context.WithCancel(context.Background())
			fetch := func(ctx context.Context) (Revision, error) {
				if during == "fetch" {
					cancel()
					<-ctx.Done()
					return Revision{}, ctx.Err()
				}
				return Revision{ID: "r1", FS: cancellingFS{catalogFS(3, "Staging"), cancel}}, nil
			}
			var reported atomic.Int32
			l := NewLoop(r, fetch, "", time.Time{}, LoopOptions{
				OnResult:     func(Revision, *Result, error) { reported.Add(1) },
				OnFetchError: func(error) { reported.Add(1) },
			})
			done := make(chan error)
			go func() { done <- l.Run(ctx) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return after its context ended")
			}
			s := l.Status()
			if reported.Load() != 0 || s.LastAttemptedRevision != "" || s.Reconciles != 0 || s.Condition(ConditionReady).Reason != ReasonNotYet {
				t.Errorf("an abandoned revision was reported: %d reports, status %+v", reported.Load(), s)
			}
			if revs, err := st.Revisions(context.Background(), 10); err != nil || len(revs) != 0 {
				t.Errorf("an abandoned revision was recorded: %v %v", revs, err)
			}
		})
	}
}
