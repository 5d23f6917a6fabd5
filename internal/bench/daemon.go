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

	"github.com/pierhq/pier/internal/synth"
)

// daemonBench measures pier serve as a process, on loopback:
//
//   - push webhook → state applied, for a one-entity change in a catalog
//     of n services fetched from a local bare repository;
//   - POST /v1/entities/search throughput and latency, from a load
//     generator sharing the machine's two cores with the server.
func daemonBench(n, pushes int, loadFor time.Duration, conc int, pierBin string) error {
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
	git := func(dir string, args ...string) (string, error) {
		cmd := exec.Command("git", append([]string{"-c", "user.email=bench@example.com", "-c", "user.name=bench", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	for _, args := range [][]string{{"init", "-q", "--bare", "-b", "main", bare}} {
		if _, err := git(root, args...); err != nil {
			return err
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-qm", "synthetic catalog"}, {"remote", "add", "origin", bare}, {"push", "-q", "origin", "main"}} {
		if _, err := git(work, args...); err != nil {
			return err
		}
	}
	fmt.Printf("daemon: %d services in a git repository (file://), prepared in %s\n", n, time.Since(start).Round(time.Millisecond))

	addr, err := freeAddr()
	if err != nil {
		return err
	}
	pierAbs, err := filepath.Abs(pierBin)
	if err != nil {
		return err
	}
	const secret = "bench-secret"
	// The load generator is one address, far above the default limit of
	// 50 requests a second: the limit is raised so that every search is
	// still counted against it (its cost is in the figures) but none is
	// refused.
	srv := exec.Command(pierAbs, "serve", "--repo", "file://"+bare, "--db", filepath.Join(root, "pier.db"),
		"--cache-dir", filepath.Join(root, "git"), "--listen", addr, "--webhook-secret", secret,
		"--anonymous-reads", "--poll", "@every 1h", "--log-level", "warn", "--rate-limit", "1e9", "--rate-burst", "1000000000")
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
	}()
	base := "http://" + addr
	start = time.Now()
	if err := waitReady(base, 5*time.Minute); err != nil {
		return fmt.Errorf("%w\n%s", err, logs.String())
	}
	fmt.Printf("  first clone + cold reconcile of %d entities: %s\n", n+max(1, n/200), time.Since(start).Round(time.Millisecond))

	var lat []time.Duration
	for i := 0; i < pushes; i++ {
		svc := (i * 7919) % n
		p := synth.ServicePath(svc)
		if err := os.WriteFile(filepath.Join(work, p), synth.Service(svc, i+1, opts), 0o644); err != nil {
			return err
		}
		if _, err := git(work, "commit", "-qam", fmt.Sprintf("change %d", i)); err != nil {
			return err
		}
		if _, err := git(work, "push", "-q", "origin", "main"); err != nil {
			return err
		}
		sha, err := git(work, "rev-parse", "HEAD")
		if err != nil {
			return err
		}
		t0 := time.Now()
		if err := sendPush(base, secret, sha, i); err != nil {
			return err
		}
		if err := waitApplied(base, sha, 30*time.Second); err != nil {
			return fmt.Errorf("%w\n%s", err, logs.String())
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("  push webhook -> one-entity change applied (n=%d): median %s, p90 %s, max %s (target: median < 300ms)\n",
		len(lat), lat[len(lat)/2].Round(100*time.Microsecond), lat[len(lat)*9/10].Round(100*time.Microsecond), lat[len(lat)-1].Round(100*time.Microsecond))

	queries := []struct {
		name string
		body string
	}{
		{"one service by $identifier", `{"combinator":"and","rules":[{"property":"$identifier","operator":"=","value":"svc-004242"}]}`},
		{"a team's documented services", `{"combinator":"and","rules":[{"property":"$blueprint","operator":"=","value":"service"},{"property":"team","operator":"=","value":"team-042"},{"property":"has_readme","operator":"=","value":true}]}`},
		{"scan: test_coverage >= 95.5 and has_readme", `{"combinator":"and","rules":[{"property":"$blueprint","operator":"=","value":"service"},{"property":"test_coverage","operator":">=","value":95.5},{"property":"has_readme","operator":"=","value":true}]}`},
	}
	for _, q := range queries {
		if err := load(base, q.name, q.body, loadFor, conc); err != nil {
			return err
		}
	}
	return nil
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

// load posts one search with conc concurrent clients for d and reports
// throughput and latency percentiles.
func load(base, name, body string, d time.Duration, conc int) error {
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
		return fmt.Errorf("search %s: no successful request (%d errors)", name, errs)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) time.Duration {
		return lat[min(len(lat)-1, int(q*float64(len(lat))))].Round(10 * time.Microsecond)
	}
	fmt.Printf("  search %-45s %6.0f req/s, p50 %s, p99 %s, %d matches, %d errors (%d clients, %s; target >= 3000 req/s, p99 < 25ms)\n",
		name+":", float64(len(lat))/d.Seconds(), p(0.5), p(0.99), matches, errs, conc, d)
	return nil
}
