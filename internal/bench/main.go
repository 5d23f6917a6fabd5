// Command bench measures pier's catalog loader against the cue tool on the
// same synthetic catalog, side by side in one run, and prints medians:
//
//   - cold load and validation: `pier validate` vs `cue vet` (wall time
//     and peak RSS of each process, runs interleaved);
//   - re-validation after a one-file change (in process): Loader.Reload
//     vs a cold Loader.Load of the same tree.
//
// Run it with `make bench` (which builds both binaries), or
// `go run ./internal/bench -n 100000` for the large catalog.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/synth"
)

func main() {
	n := flag.Int("n", 20000, "services in the synthetic catalog")
	runs := flag.Int("runs", 5, "runs of each cold measurement")
	edits := flag.Int("edits", 30, "one-file changes for the incremental measurement")
	pierBin := flag.String("pier", ".bin/pier", "pier binary")
	cueBin := flag.String("cue", ".bin/cue", "cue binary")
	keep := flag.String("dir", "", "write the catalog here and keep it (default: a temporary directory)")
	mode := flag.String("mode", "all", "loader (vs cue vet), derived (scorecards and computed properties), daemon (push latency, search load) or all")
	pushes := flag.Int("pushes", 20, "one-entity pushes timed in daemon mode")
	loadFor := flag.Duration("load", 10*time.Second, "duration of each search load in daemon mode")
	conc := flag.Int("clients", 8, "concurrent search clients in daemon mode")
	kills := flag.Int("kills", 20, "daemon mode on postgres: leader kills timed with three replicas (0: no replica figures)")
	stores := flag.String("db", "sqlite,postgres", "daemon mode: the stores to measure side by side (sqlite, postgres: a throwaway server from the installed binaries)")
	profile := flag.String("cpuprofile", "", "derived mode: write CPU profiles of the derived cold reconciles to FILE.N")
	flag.Parse()
	var err error
	if *mode == "loader" || *mode == "all" {
		err = run(*n, *runs, *edits, *pierBin, *cueBin, *keep)
	}
	if err == nil && (*mode == "derived" || *mode == "all") {
		err = derivedBench(*n, 5, 31, *profile)
	}
	if err == nil && (*mode == "daemon" || *mode == "all") {
		err = daemonBench(*n, *pushes, *kills, *loadFor, *conc, *pierBin, strings.Split(*stores, ","))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type sample struct {
	wall time.Duration
	rss  int64 // bytes
}

func run(n, runs, edits int, pierBin, cueBin, dir string) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "pier-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	opts := synth.Options{Services: n, CUECheck: true}
	start := time.Now()
	if err := synth.Write(dir, opts); err != nil {
		return err
	}
	teams := max(1, n/200)
	fmt.Printf("synthetic catalog: %d services + %d teams, one CUE file per service (%d files), written in %s\n",
		n, teams, n+2, time.Since(start).Round(time.Millisecond))
	fmt.Printf("both tools validate every service against the service blueprint (cue through entities/check.cue,\n" +
		"the blueprint compiled to CUE; pier through its Go validator); pier also resolves relations.\n\n")

	var pierS, cueS []sample
	for i := 0; i < runs; i++ {
		s, err := measure(dir, pierBin, "validate", ".")
		if err != nil {
			return fmt.Errorf("pier validate: %w", err)
		}
		pierS = append(pierS, s)
		s, err = measure(dir, cueBin, "vet", "-c", "./entities/")
		if err != nil {
			return fmt.Errorf("cue vet: %w", err)
		}
		cueS = append(cueS, s)
	}
	pw, pm := medians(pierS)
	cw, cm := medians(cueS)
	fmt.Printf("cold load + validate, median of %d interleaved runs:\n", runs)
	fmt.Printf("  %-22s %10s %12s\n", "", "wall", "peak RSS")
	fmt.Printf("  %-22s %10s %9.0f MB\n", "cue vet -c ./entities", cw.Round(time.Millisecond), mb(cm))
	fmt.Printf("  %-22s %10s %9.0f MB\n", "pier validate", pw.Round(time.Millisecond), mb(pm))
	fmt.Printf("  pier is %.1fx faster and uses %.0f%% of cue's peak memory (targets: >= 5x, <= 50%%)\n\n",
		float64(cw)/float64(pw), 100*float64(pm)/float64(cm))

	return incremental(dir, n, runs, edits, opts)
}

// incremental compares, in process, a cold load with a reload after a
// one-file change.
func incremental(dir string, n, runs, edits int, opts synth.Options) error {
	ctx := context.Background()
	fsys := os.DirFS(dir)
	var cold []time.Duration
	for i := 0; i < runs; i++ {
		l, err := loader.New(0)
		if err != nil {
			return err
		}
		start := time.Now()
		res, err := l.Load(ctx, fsys)
		if err != nil {
			return err
		}
		cold = append(cold, time.Since(start))
		if !res.OK() {
			return fmt.Errorf("synthetic catalog invalid: %v", res.Diagnostics[0])
		}
	}
	l, err := loader.New(0)
	if err != nil {
		return err
	}
	if _, err := l.Load(ctx, fsys); err != nil {
		return err
	}
	var warm []time.Duration
	start := time.Now()
	res, err := l.Load(ctx, fsys)
	if err != nil {
		return err
	}
	fullRescan := time.Since(start)
	if res.Evaluated != 0 {
		return fmt.Errorf("unchanged rescan evaluated %d files", res.Evaluated)
	}
	for e := 0; e < edits; e++ {
		i := (e * 7919) % n
		p := synth.ServicePath(i)
		if err := os.WriteFile(filepath.Join(dir, p), synth.Service(i, e+1, opts), 0o644); err != nil {
			return err
		}
		start := time.Now()
		res, err := l.Reload(ctx, fsys, []string{p})
		if err != nil {
			return err
		}
		warm = append(warm, time.Since(start))
		if !res.OK() || res.Evaluated != 1 {
			return fmt.Errorf("reload after editing %s: %d errors, %d files evaluated", p, len(res.Diagnostics), res.Evaluated)
		}
	}
	c, w := median(cold), median(warm)
	fmt.Printf("re-validation after a one-file change, in process (median of %d cold loads, %d edits):\n", runs, edits)
	fmt.Printf("  cold Loader.Load          %10s\n", c.Round(time.Millisecond))
	fmt.Printf("  Loader.Reload(1 file)     %10s   %.0fx faster than cold (target: >= 50x)\n", w.Round(10*time.Microsecond), float64(c)/float64(w))
	fmt.Printf("  Loader.Load, no change    %10s   (full rescan: every file read and hashed, nothing re-parsed)\n", fullRescan.Round(time.Millisecond))
	return nil
}

// measure runs a command in dir and returns its wall time and peak RSS.
func measure(dir, bin string, args ...string) (sample, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return sample{}, err
	}
	cmd := exec.Command(abs, args...)
	cmd.Dir = dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%v: %s", err, truncate(out))
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return sample{}, fmt.Errorf("no rusage on this platform")
	}
	return sample{wall: wall, rss: ru.Maxrss * 1024}, nil
}

func medians(ss []sample) (time.Duration, int64) {
	walls := make([]time.Duration, len(ss))
	rss := make([]int64, len(ss))
	for i, s := range ss {
		walls[i], rss[i] = s.wall, s.rss
	}
	sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
	return median(walls), rss[len(rss)/2]
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func truncate(b []byte) string {
	if len(b) > 500 {
		return string(b[:500]) + "..."
	}
	return string(b)
}
