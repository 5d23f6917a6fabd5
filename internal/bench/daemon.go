package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pierhq/pier/internal/store/postgres/pgtest"
	"github.com/pierhq/pier/internal/synth"
)

// daemonBench measures pier serve as a process, on loopback, on each of
// the stores named (sqlite, postgres), one after the other on the same
// repository, and prints the figures side by side:
//
//   - first clone and cold reconcile of n services;
//   - push webhook → state applied, for a one-entity change in a catalog
//     of n services fetched from a local bare repository;
//   - a runtime property written through the API (PATCH, one at a time);
//   - POST /v1/entities/search throughput and latency, from a load
//     generator sharing the machine's two cores with the server.
//
// PostgreSQL is a throwaway server started from the installed binaries
// (package pgtest), with the durability it has in production: fsync and
// synchronous commit on. pier's SQLite runs in WAL mode with
// synchronous=NORMAL, as always.
func daemonBench(n, pushes, kills int, loadFor time.Duration, conc int, pierBin string, stores []string) error {
	root, err := os.MkdirTemp("", "pier-daemon-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	work, bare := filepath.Join(root, "work"), filepath.Join(root, "remote.git")
	opts := synth.Options{Services: n}
	start := time.Now()
	if err := synth.Write(work, opts); err != nil {
		return err
	}
	b := &daemonRun{n: n, opts: opts, work: work, bare: bare, root: root, pierBin: pierBin}
	for _, args := range [][]string{{"init", "-q", "--bare", "-b", "main", bare}} {
		if _, err := b.git(root, args...); err != nil {
			return err
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-qm", "synthetic catalog"}, {"remote", "add", "origin", bare}, {"push", "-q", "origin", "main"}} {
		if _, err := b.git(work, args...); err != nil {
			return err
		}
	}
	fmt.Printf("daemon: %d services in a git repository (file://), prepared in %s\n", n, time.Since(start).Round(time.Millisecond))

	var figures []*storeFigures
	for _, st := range stores {
		var db string
		switch st {
		case "sqlite":
			db = filepath.Join(root, "pier.db")
		case "postgres":
			srv, err := pgtest.Start("fsync=on", "synchronous_commit=on", "full_page_writes=on", "shared_buffers=128MB")
			if err != nil {
				return fmt.Errorf("postgres: %w", err)
			}
			defer srv.Stop()
			if db, err = srv.CreateDatabase("pier_bench"); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown store %q (sqlite, postgres)", st)
		}
		fmt.Printf("\n%s:\n", st)
		f, err := b.measure(st, db, pushes, loadFor, conc)
		if err != nil {
			return fmt.Errorf("%s: %w", st, err)
		}
		figures = append(figures, f)
		if st == "postgres" && kills > 0 {
			if err := b.replicasBench(db, 200, kills, loadFor, conc); err != nil {
				return fmt.Errorf("replicas: %w", err)
			}
		}
	}
	if len(figures) > 1 {
		printSideBySide(figures, n, pushes)
	}
	return nil
}

// daemonRun is the repository the stores are measured on, one after
// the other; pushes go on from where the last measure left them.
type daemonRun struct {
	n                int
	opts             synth.Options
	work, bare, root string
	pierBin          string
	pushed           int
}

func (b *daemonRun) git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-c", "user.email=bench@example.com", "-c", "user.name=bench", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// storeFigures are one store's measures; latencies sorted.
type storeFigures struct {
	store         string
	cold          time.Duration
	push, runtime []time.Duration
	search        []searchFigures
}

type searchFigures struct {
	name     string
	rps      float64
	p50, p99 time.Duration
}

const benchClient, benchSecret = "bench", "bench-secret"

func (b *daemonRun) measure(st, db string, pushes int, loadFor time.Duration, conc int) (*storeFigures, error) {
	f := &storeFigures{store: st}
	const secret = benchWebhookSecret
	srv, err := b.serve(st, db)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	base, logs := srv.base, srv.logs
	start := time.Now()
	if err := waitReady(base, 5*time.Minute); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, logs.String())
	}
	f.cold = time.Since(start)
	fmt.Printf("  first clone + cold reconcile of %d entities: %s\n", b.n+max(1, b.n/200), f.cold.Round(time.Millisecond))

	for range pushes {
		i := b.pushed
		b.pushed++
		svc := (i * 7919) % b.n
		p := synth.ServicePath(svc)
		if err := os.WriteFile(filepath.Join(b.work, p), synth.Service(svc, i+1, b.opts), 0o644); err != nil {
			return nil, err
		}
		if _, err := b.git(b.work, "commit", "-qam", fmt.Sprintf("change %d", i)); err != nil {
			return nil, err
		}
		if _, err := b.git(b.work, "push", "-q", "origin", "main"); err != nil {
			return nil, err
		}
		sha, err := b.git(b.work, "rev-parse", "HEAD")
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		if err := sendPush(base, secret, sha, i); err != nil {
			return nil, err
		}
		if err := waitApplied(base, sha, 30*time.Second); err != nil {
			return nil, fmt.Errorf("%w\n%s", err, logs.String())
		}
		f.push = append(f.push, time.Since(t0))
	}
	sort.Slice(f.push, func(i, j int) bool { return f.push[i] < f.push[j] })
	fmt.Printf("  push webhook -> one-entity change applied (n=%d): median %s, p90 %s, max %s (target: median < 300ms)\n",
		len(f.push), median(f.push), pct(f.push, 0.9), f.push[len(f.push)-1].Round(100*time.Microsecond))

	if f.runtime, err = runtimeWrites(base, b.n, 200); err != nil {
		return nil, err
	}
	fmt.Printf("  runtime property written through the API (n=%d, one at a time): median %s, p90 %s\n",
		len(f.runtime), median(f.runtime), pct(f.runtime, 0.9))

	queries := []struct {
		name string
		body string
	}{
		{"one service by $identifier", `{"combinator":"and","rules":[{"property":"$identifier","operator":"=","value":"svc-004242"}]}`},
		{"a team's documented services", `{"combinator":"and","rules":[{"property":"$blueprint","operator":"=","value":"service"},{"property":"team","operator":"=","value":"team-042"},{"property":"has_readme","operator":"=","value":true}]}`},
		{"scan: test_coverage >= 95.5 and has_readme", `{"combinator":"and","rules":[{"property":"$blueprint","operator":"=","value":"service"},{"property":"test_coverage","operator":">=","value":95.5},{"property":"has_readme","operator":"=","value":true}]}`},
	}
	for _, q := range queries {
		sf, err := load([]string{base}, q.name, q.body, loadFor, conc)
		if err != nil {
			return nil, err
		}
		f.search = append(f.search, sf)
	}
	return f, nil
}

const benchWebhookSecret = "bench-secret"

// server is one pier serve the bench started.
type server struct {
	proc *exec.Cmd
	base string
	logs *bytes.Buffer
}

// serve starts pier serve on db with the bench's options (and extra),
// without waiting for it to be ready.
func (b *daemonRun) serve(name, db string, extra ...string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	pierAbs, err := filepath.Abs(b.pierBin)
	if err != nil {
		return nil, err
	}
	srv := exec.Command(pierAbs, append([]string{"serve", "--repo", "file://" + b.bare, "--db", db,
		"--cache-dir", filepath.Join(b.root, "git-"+name), "--listen", addr, "--webhook-secret", benchWebhookSecret,
		"--anonymous-reads", "--client-id", benchClient, "--client-secret", benchSecret,
		"--poll", "@every 1h", "--log-level", "warn",
		"--rate-limit", "0"}, extra...)...) // throughput, not the limiter, is measured
	logs := &bytes.Buffer{}
	srv.Stdout, srv.Stderr = logs, logs
	if err := srv.Start(); err != nil {
		return nil, err
	}
	return &server{proc: srv, base: "http://" + addr, logs: logs}, nil
}

// stop asks the server to stop and waits for it.
func (s *server) stop() {
	s.proc.Process.Signal(os.Interrupt)
	s.proc.Wait()
}

// pct is the q-quantile of sorted ds.
func pct(ds []time.Duration, q float64) time.Duration {
	return ds[min(len(ds)-1, int(q*float64(len(ds))))].Round(100 * time.Microsecond)
}

// runtimeWrites PATCHes a runtime property of n services in turn, one
// request at a time, and returns the latencies, sorted.
func runtimeWrites(base string, services, n int) ([]time.Duration, error) {
	tok, err := accessToken(base)
	if err != nil {
		return nil, err
	}
	var lat []time.Duration
	for i := range n {
		svc := (i * 104729) % services
		req, _ := http.NewRequest("PATCH", fmt.Sprintf("%s/v1/blueprints/service/entities/svc-%06d", base, svc),
			strings.NewReader(fmt.Sprintf(`{"properties":{"health":"check %d"}}`, i)))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("PATCH runtime property: %s: %s", resp.Status, b)
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat, nil
}

// printSideBySide prints the stores' figures in columns, with the ratio
// of each to the first store's.
func printSideBySide(fs []*storeFigures, n, pushes int) {
	fmt.Printf("\nside by side, %d services, one replica (ratio: to %s):\n", n, fs[0].store)
	row := func(name string, v func(*storeFigures) float64, format func(float64) string) {
		fmt.Printf("  %-44s", name)
		for _, f := range fs {
			fmt.Printf(" %12s", format(v(f)))
		}
		if len(fs) > 1 && v(fs[0]) != 0 {
			fmt.Printf("   %.2fx", v(fs[len(fs)-1])/v(fs[0]))
		}
		fmt.Println()
	}
	ms := func(x float64) string { return fmt.Sprintf("%.1f ms", x) }
	dur := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	fmt.Printf("  %-44s", "")
	for _, f := range fs {
		fmt.Printf(" %12s", f.store)
	}
	fmt.Println()
	row("cold reconcile (first clone included)", func(f *storeFigures) float64 { return dur(f.cold) }, ms)
	row(fmt.Sprintf("push to applied, median (n=%d)", pushes), func(f *storeFigures) float64 { return dur(median(f.push)) }, ms)
	row("push to applied, p90", func(f *storeFigures) float64 { return dur(pct(f.push, 0.9)) }, ms)
	row("runtime write, median (n=200)", func(f *storeFigures) float64 { return dur(median(f.runtime)) }, ms)
	row("runtime write, p90", func(f *storeFigures) float64 { return dur(pct(f.runtime, 0.9)) }, ms)
	for i := range fs[0].search {
		row("search "+fs[0].search[i].name+", req/s", func(f *storeFigures) float64 { return f.search[i].rps }, func(x float64) string { return fmt.Sprintf("%.0f", x) })
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitReady(base string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("pier serve did not become ready within %s", within)
}

// sendPush delivers a signed push webhook as GitHub does.
func sendPush(base, secret, sha string, i int) error {
	body, _ := json.Marshal(map[string]any{
		"ref": "refs/heads/main", "after": sha, "before": strings.Repeat("1", 40), "created": false, "deleted": false,
		"repository": map[string]any{"full_name": "acme/catalog", "name": "catalog"},
	})
	req, _ := http.NewRequest("POST", base+"/webhooks/github", bytes.NewReader(body))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("push webhook answered %d: %s", resp.StatusCode, b)
	}
	return nil
}

// waitApplied polls /readyz, which names the revision being served.
func waitApplied(base, sha string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			var body struct{ Revision string }
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if body.Revision == sha {
				return nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("revision %s not applied within %s", sha, within)
}

// load posts one search with conc concurrent clients for d, spread over
// the servers at bases, and reports
// throughput and latency percentiles.
func load(bases []string, name, body string, d time.Duration, conc int) (searchFigures, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	var (
		mu      sync.Mutex
		lat     []time.Duration
		errs    int
		matches int
		wg      sync.WaitGroup
	)
	for c := 0; c < conc; c++ {
		base := bases[c%len(bases)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for ctx.Err() == nil {
				t0 := time.Now()
				resp, err := client.Post(base+"/v1/entities/search", "application/json", strings.NewReader(body))
				if err != nil {
					if ctx.Err() == nil {
						mu.Lock()
						errs++
						mu.Unlock()
					}
					continue
				}
				// The generator shares the two cores with the server:
				// it reads the answer without decoding it, except once
				// to count the matches.
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					mu.Lock()
					errs++
					mu.Unlock()
					continue
				}
				local = append(local, time.Since(t0))
				if len(local) == 1 {
					var out struct{ Entities []json.RawMessage }
					json.Unmarshal(raw, &out)
					mu.Lock()
					matches = len(out.Entities)
					mu.Unlock()
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(lat) == 0 {
		return searchFigures{}, fmt.Errorf("search %s: no successful request (%d errors)", name, errs)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) time.Duration {
		return lat[min(len(lat)-1, int(q*float64(len(lat))))].Round(10 * time.Microsecond)
	}
	fmt.Printf("  search %-45s %6.0f req/s, p50 %s, p99 %s, %d matches, %d errors (%d clients, %s; target >= 3000 req/s, p99 < 25ms)\n",
		name+":", float64(len(lat))/d.Seconds(), p(0.5), p(0.99), matches, errs, conc, d)
	return searchFigures{name: name, rps: float64(len(lat)) / d.Seconds(), p50: p(0.5), p99: p(0.99)}, nil
}
