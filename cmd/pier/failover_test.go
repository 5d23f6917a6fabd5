package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/store/postgres/pgtest"
)

// child is one pier serve run as a child process, so that it can be
// killed with SIGKILL or paused with SIGSTOP as a machine would.
type child struct {
	name string
	proc *exec.Cmd
	logs *syncBuffer
	url  string
}

// replicaSet is three (or more) pier serve on one PostgreSQL with the
// GitHub fake, over the runs fixture's catalog.
type replicaSet struct {
	t    *testing.T
	e    *runsEnv
	args []string
	n    int
	live []*child
}

func newReplicaSet(t *testing.T, lease string) *replicaSet {
	t.Helper()
	if os.Getenv("PIER_TEST_NO_SUBPROCESS") != "" {
		t.Skip("subprocesses disabled")
	}
	e := newRunsFixture(t, runsCatalog)
	e.fake.RequireToken("ghs_runs")
	e.db = pgtest.URL(t)
	args := []string{
		"--repo", e.repoURL, "--db", e.db,
		"--github-api-url", e.fake.URL(), "--github-web-url", e.fake.URL(), "--github-repo", "acme/catalog",
		"--github-token", "ghs_runs", "--webhook-secret", runsWebhookSecret, "--config", e.config,
		"--anonymous-reads", "--leader-lease", lease, "--runs-poll", "@every 1s",
	}
	return &replicaSet{t: t, e: e, args: args}
}

// spawn starts one more replica and waits until it serves.
func (s *replicaSet) spawn() *child {
	s.t.Helper()
	s.n++
	r := &child{name: fmt.Sprintf("r%d", s.n), logs: &syncBuffer{}}
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--cache-dir", filepath.Join(s.t.TempDir(), r.name)}, s.args...)
	r.proc = exec.Command(os.Args[0], "-test.run=^TestPierProcess$")
	r.proc.Env = append(os.Environ(), "PIER_TEST_PROCESS="+strings.Join(args, "\x1f"))
	r.proc.Stdout, r.proc.Stderr = r.logs, r.logs
	if err := r.proc.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { r.proc.Process.Kill(); r.proc.Wait() })
	r.url = "http://" + waitForAddr(s.t, r.logs)
	s.live = append(s.live, r)
	return r
}

// get asks one replica, answering 0 when it does not answer.
func (r *child) get(path string) (int, map[string]any) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(r.url + path)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// leaders are the live replicas that say they lead.
func (s *replicaSet) leaders() []*child {
	var out []*child
	for _, r := range s.live {
		if _, body := r.get("/readyz"); body != nil {
			if rep, _ := body["replica"].(map[string]any); rep["leads"] == true {
				out = append(out, r)
			}
		}
	}
	return out
}

// leader waits until exactly one live replica leads.
func (s *replicaSet) leader(within time.Duration) *child {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		if ls := s.leaders(); len(ls) == 1 {
			return ls[0]
		} else if len(ls) > 1 {
			s.t.Fatalf("%d replicas lead at once", len(ls))
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no replica leads within %s:\n%s", within, s.live[0].logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL to r and forgets it.
func (s *replicaSet) kill(r *child) {
	s.t.Helper()
	r.proc.Process.Signal(syscall.SIGKILL)
	r.proc.Wait()
	for i, l := range s.live {
		if l == r {
			s.live = append(s.live[:i], s.live[i+1:]...)
			break
		}
	}
}

// other is a live replica that is not r.
func (s *replicaSet) other(r *child) *child {
	for _, l := range s.live {
		if l != r {
			return l
		}
	}
	s.t.Fatal("no other replica")
	return nil
}

// use points the runs fixture's calls at r.
func (s *replicaSet) use(r *child) {
	s.e.td = &testDaemon{url: r.url}
	if s.e.token == "" {
		code, body := s.e.call("POST", "/v1/auth/access_token", "", map[string]any{"clientId": "alice", "clientSecret": runsClientSecret})
		if code != 200 {
			s.t.Fatalf("token: %d %v", code, body)
		}
		s.e.token = body["accessToken"].(string)
	}
}

// failoverKills is how many times TestReplicasFailoverDispatchesOnce
// kills the leader; PIER_FAILOVER_KILLS changes it.
func failoverKills(t *testing.T) int {
	if v := os.Getenv("PIER_FAILOVER_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("PIER_FAILOVER_KILLS=%q: want a positive count", v)
		}
		return n
	}
	return 50
}

// TestReplicasFailoverDispatchesOnce is issue 16's failover test: three
// replicas on one PostgreSQL with the GitHub fake; fifty times a run that
// needs the platform team's approval is asked for, approved on its pull
// request through a replica that does not lead, and the leader is killed
// with SIGKILL at a random moment around the approval and the dispatch
// that follows; a new replica replaces it. Every approved run is
// dispatched exactly once (the fake counts dispatches), none is lost, and
// the audit log holds every status change each run went through.
func TestReplicasFailoverDispatchesOnce(t *testing.T) {
	s := newReplicaSet(t, "1s")
	for range 3 {
		s.spawn()
	}
	kills := failoverKills(t)
	var ids []string
	var failovers []time.Duration
	for i := range kills {
		leader := s.leader(15 * time.Second)
		via := s.other(leader)
		s.use(via)
		id := s.e.request("extend_ttl", "preview-42", map[string]any{"days": 10})["id"].(string)
		ids = append(ids, id)
		n := s.e.pullRequest(id)
		// The moment: before the approval reaches pier, while pier
		// advances the run, or while it dispatches.
		delay := time.Duration(rand.IntN(400)) * time.Millisecond
		before := i%4 == 0
		if before {
			time.Sleep(delay)
			s.kill(leader)
			s.e.review(n, "pat", "APPROVED")
		} else {
			s.e.review(n, "pat", "APPROVED")
			time.Sleep(delay)
			s.kill(leader)
		}
		killed := time.Now()
		s.spawn()
		s.leader(15 * time.Second)
		failovers = append(failovers, time.Since(killed))
		s.use(s.live[0])
		s.e.waitRun(id, "dispatched", func(r map[string]any) bool {
			return r["status"] == "DISPATCHED" || r["status"] == "IN_PROGRESS"
		})
	}

	// Every run once, and nothing else.
	count := map[string]int{}
	for _, d := range s.e.fake.Dispatches("acme", "workflows") {
		count[fmt.Sprint(d.Inputs["pier_run_id"])]++
	}
	for _, id := range ids {
		if count[id] != 1 {
			t.Errorf("run %s dispatched %d times", id, count[id])
		}
		delete(count, id)
	}
	if len(count) > 0 {
		t.Errorf("dispatches of runs nobody asked for: %v", count)
	}

	// The audit log has each status change of each run.
	s.use(s.live[0])
	audited := map[string]bool{}
	path := "/v1/audit-log?limit=500"
	for path != "" {
		code, page := s.e.call("GET", path, "", nil)
		if code != 200 {
			t.Fatalf("audit log: %d %v", code, page)
		}
		for _, e := range page["entries"].([]any) {
			e := e.(map[string]any)
			audited[fmt.Sprint(e["resource"], " ", e["action"])] = true
		}
		path = ""
		if next, _ := page["next"].(string); next != "" {
			path = "/v1/audit-log?limit=500&before=" + next
		}
	}
	for _, id := range ids {
		for _, to := range strings.Split(statuses(s.e.run(id)), ",") {
			if key := "actions/extend_ttl/runs/" + id + " run." + strings.ToLower(to); !audited[key] {
				t.Errorf("audit log misses %s", key)
			}
		}
	}
	t.Logf("%d kills; failover (kill to a single leader) %s", kills, summarize(failovers))
}

// summarize is a sample's median and maximum.
func summarize(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no sample"
	}
	s := slices.Sorted(slices.Values(ds))
	return fmt.Sprintf("median %s, max %s", s[len(s)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}
