package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store/sqlite"
	"github.com/pierhq/pier/internal/synth"
	"github.com/pierhq/pier/reconciler"
)

// derivedBench measures what computed properties and scorecards add to
// a reconcile, in process: a cold reconcile and publish of n services
// with and without them (3 scorecards of 10 rules, a calculation and a
// mirror per service, an aggregation per team), and a one-service change.
//
// profile, when not empty, names a file for a CPU profile of the
// derived variant's cold reconciles only.
func derivedBench(n, runs, edits int, profile string) error {
	root, err := os.MkdirTemp("", "pier-derived-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	variants := []struct {
		name string
		opts synth.Options
	}{
		{"plain", synth.Options{Services: n}},
		{"derived", synth.Options{Services: n, Derived: true}},
	}
	cold := map[string][]time.Duration{}
	warm := map[string][]time.Duration{}
	for i, v := range variants {
		if err := synth.Write(filepath.Join(root, v.name), v.opts); err != nil {
			return err
		}
		_ = i
	}
	for r := 0; r < runs; r++ {
		for _, v := range variants {
			dir := filepath.Join(root, v.name)
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(root, fmt.Sprintf("%s-%d.db", v.name, r)))
			if err != nil {
				return err
			}
			l, err := loader.New(0)
			if err != nil {
				return err
			}
			// As the daemon does: the next state, scorecards included,
			// is built while the store writes the revision, and
			// published once the write is done.
			h := state.NewHolder()
			var next *state.Prepared
			rec := reconciler.New(l, st, nil, reconciler.Options{
				WhileApplying: func(res *reconciler.Result) { next = h.Prepare(state.FromResult(res)) },
			})
			// A daemon reconciles cold right after it starts, on an empty
			// heap; without this the previous run's garbage is collected
			// on whichever variant's time it lands.
			runtime.GC()
			if profile != "" && v.name == "derived" {
				f, err := os.Create(fmt.Sprintf("%s.%d", profile, r))
				if err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
			}
			start := time.Now()
			res, err := rec.Reconcile(ctx, reconciler.Revision{ID: "cold", FS: os.DirFS(dir)})
			if err != nil || res.Outcome != reconciler.Applied {
				st.Close()
				return fmt.Errorf("%s: cold reconcile: %v %v", v.name, err, res.Diagnostics)
			}
			h.Commit(next)
			cold[v.name] = append(cold[v.name], time.Since(start))
			if profile != "" && v.name == "derived" {
				pprof.StopCPUProfile()
			}
			if r == 0 {
				// The cold reconcile leaves gigabytes of garbage; collect
				// it now so that its collection is not timed as part of
				// whichever edit it happens to land on.
				runtime.GC()
				for e := 0; e < edits; e++ {
					i := (e * 7919) % n
					p := synth.ServicePath(i)
					if err := os.WriteFile(filepath.Join(dir, p), synth.Service(i, e+1, v.opts), 0o644); err != nil {
						return err
					}
					start := time.Now()
					res, err := rec.Reconcile(ctx, reconciler.Revision{ID: fmt.Sprintf("e%d", e), FS: os.DirFS(dir), Changed: []string{p}})
					if err != nil || res.Outcome != reconciler.Applied {
						st.Close()
						return fmt.Errorf("%s: edit %d: %v %v", v.name, e, err, res.Diagnostics)
					}
					h.Commit(next)
					warm[v.name] = append(warm[v.name], time.Since(start))
				}
				if v.name == "derived" {
					sc := h.Load().Scores
					if sc == nil || sc.Err != nil || len(sc.Results) < n {
						st.Close()
						return fmt.Errorf("derived: scorecards not evaluated: %+v", sc)
					}
				}
			}
			st.Close()
		}
	}
	pc, dc := median(cold["plain"]), median(cold["derived"])
	pw, dw := median(warm["plain"]), median(warm["derived"])
	fmt.Printf("derived data, in process, %d services (3 scorecards x 10 rules, 1 calculation + 1 mirror per service, 1 aggregation per team):\n", n)
	fmt.Printf("  cold reconcile + publish (median of %d): plain %s, derived %s: +%.0f%% (target: < 25%%)\n",
		runs, pc.Round(time.Millisecond), dc.Round(time.Millisecond), 100*(float64(dc)/float64(pc)-1))
	fmt.Printf("  one-service change, reconcile + publish (median of %d): plain %s, derived %s: derived work %s (target: < 10ms)\n",
		edits, pw.Round(10*time.Microsecond), dw.Round(10*time.Microsecond), (dw - pw).Round(10*time.Microsecond))
	return nil
}
