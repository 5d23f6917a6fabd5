package review

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store/sqlite"
	"github.com/pierhq/pier/internal/synth"
	"github.com/pierhq/pier/reconciler"
)

// overlay is base with one file's content replaced: a one-file pull
// request's tree.
type overlay struct {
	base fs.FS
	path string
	file fstest.MapFS
}

func (o overlay) Open(name string) (fs.File, error) {
	if name == o.path {
		return o.file.Open(name)
	}
	return o.base.Open(name)
}

// BenchmarkPlanOneFile plans a one-file pull request of a catalog of
// 20,000 services, without and with scorecards and computed properties
// (synth's Derived), against its applied state, with the planner's loader warm
// from the plan before, as a daemon's is: the figure behind "a one-file
// pull request planned under 500 ms". CUE is evaluated in this process
// (the daemon's sandbox adds its child processes' round trips).
func BenchmarkPlanOneFile(b *testing.B) {
	for _, derived := range []bool{false, true} {
		name := "plain"
		if derived {
			name = "derived"
		}
		b.Run(name, func(b *testing.B) { benchPlanOneFile(b, derived) })
	}
}

func benchPlanOneFile(b *testing.B, derived bool) {
	const n = 20000
	dir := b.TempDir()
	o := synth.Options{Services: n, Teams: n / 200, Derived: derived}
	if err := synth.Write(dir, o); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "pier.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	l, _ := loader.New(0)
	rec := reconciler.New(l, st, nil, reconciler.Options{})
	base := os.DirFS(dir)
	res, err := rec.Reconcile(ctx, reconciler.Revision{ID: "main", FS: base})
	if err != nil || res.Outcome == reconciler.Failed {
		b.Fatalf("main: %v %v", err, res.Diagnostics[:min(3, len(res.Diagnostics))])
	}
	h := state.NewHolder()
	h.Publish(state.FromResult(res))
	p := &Planner{Reconciler: rec, State: h, Loader: func() (*loader.Loader, error) { return loader.New(0) }, Workers: 1}
	path := synth.ServicePath(7)
	head := func(i int) reconciler.Revision {
		return reconciler.Revision{ID: "pr-" + strconv.Itoa(i), FS: overlay{base, path, fstest.MapFS{path: {Data: synth.Service(7, i+1, o)}}}}
	}
	if _, err := p.Plan(ctx, head(-1)); err != nil { // the loader's first, full load
		b.Fatal(err)
	}
	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		rep, err := p.Plan(ctx, head(i))
		if err != nil || !rep.Valid || rep.Counts.Updated == 0 {
			b.Fatalf("plan: %v %v", err, rep.Summary())
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(took[len(took)*9/10].Milliseconds()), "p90-ms")
}
