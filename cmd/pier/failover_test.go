package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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
	"sync"
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
		// A kill between recording the dispatch and GitHub taking it
		// leaves a dispatch that recovery looks for this long before
		// making it again.
		"--redispatch-after", "10s",
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
		// Within the redispatch wait when the kill came between recording
		// the dispatch and GitHub taking it.
		deadline := time.Now().Add(40 * time.Second)
		for {
			r := s.e.run(id)
			if r["lifecycle"] == "DISPATCHED" || r["lifecycle"] == "IN_PROGRESS" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: run %s not dispatched: %v", i+1, id, r)
			}
			time.Sleep(20 * time.Millisecond)
		}
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

// TestPausedLeaderDoesNothing pauses the leader with SIGSTOP past its
// lease while work addressed to it waits in the kernel (a push of a new
// commit, a run request); another replica leads and does the work. When
// the paused one wakes (SIGCONT) and its timers fire, it applies nothing
// and dispatches nothing: it learns it no longer leads, and follows.
func TestPausedLeaderDoesNothing(t *testing.T) {
	s := newReplicaSet(t, "1s")
	a := s.spawn()
	if s.leader(15*time.Second) != a {
		t.Fatal("the first replica does not lead")
	}
	b := s.spawn()
	s.use(b)
	s.e.waitRun(s.e.request("extend_ttl", "preview-42", map[string]any{"days": 1})["id"].(string), "dispatched", func(r map[string]any) bool {
		return r["lifecycle"] == "DISPATCHED"
	})

	if err := a.proc.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.proc.Process.Signal(syscall.SIGCONT) })
	sha := s.e.repo.commit("another environment", map[string]string{
		"catalog.cue": runsCatalog + "\nentities: environment: \"preview-43\": properties: type: \"ephemeral\"\n",
	})
	// What reaches a while it sleeps is answered when it wakes.
	slow := http.Client{Timeout: 60 * time.Second}
	pending := make(chan string, 2)
	var asleep string // the run a took while it slept
	var asleepMu sync.Mutex
	send := func(req *http.Request) {
		resp, err := slow.Do(req)
		if err != nil {
			pending <- err.Error()
			return
		}
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if run, ok := out["run"].(map[string]any); ok {
			asleepMu.Lock()
			asleep, _ = run["id"].(string)
			asleepMu.Unlock()
		}
		pending <- fmt.Sprint(resp.StatusCode, " ", out)
	}
	go send(signedHook(t, a.url, "push", pushPayload(t, "refs/heads/main", sha)))
	runReq, _ := http.NewRequest("POST", a.url+"/v1/actions/extend_ttl/runs", strings.NewReader(`{"entity": "preview-42", "properties": {"days": 2}}`))
	runReq.Header.Set("Authorization", "Bearer "+s.e.token)
	runReq.Header.Set("Content-Type", "application/json")
	go send(runReq)

	// b leads once a's lease has run out, and does the work itself.
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, body := b.get("/readyz")
		if rep, _ := body["replica"].(map[string]any); rep["leads"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b does not lead while a is paused:\n%s", b.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, bReady := b.get("/readyz")
	if code := (&testDaemon{url: b.url}).push(t, sha, runsWebhookSecret); code >= 300 {
		t.Fatalf("push to b: %d", code)
	}
	s.e.td.waitFor(t, "b applies the new commit", func(st map[string]any) bool { return st["lastAppliedRevision"] == sha })
	byB := s.e.request("extend_ttl", "preview-43", map[string]any{"days": 3})["id"].(string)
	s.e.waitStatus(byB, "DISPATCHED")

	mark := len(a.logs.String())
	if err := a.proc.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	var answers []string
	for range 2 {
		select {
		case got := <-pending:
			answers = append(answers, got)
		case <-time.After(30 * time.Second):
			t.Fatalf("a did not answer after waking:\n%s", a.logs.String()[mark:])
		}
	}
	time.Sleep(3 * time.Second) // a's sweeps, polls and lease checks fire
	woke := a.logs.String()[mark:]

	if strings.Contains(woke, "outcome=applied") {
		t.Errorf("the paused leader applied a revision after waking:\n%s", woke)
	}
	_, aReady := a.get("/readyz")
	aRep, _ := aReady["replica"].(map[string]any)
	bRep, _ := bReady["replica"].(map[string]any)
	if aRep["leads"] != false || aRep["leader"] != bRep["self"] || aRep["epoch"] != bRep["epoch"] {
		t.Errorf("after waking a should follow b: a says %v, b said %v", aRep, bRep)
	}
	if a := (&testDaemon{url: a.url}); a.status(t)["lastAppliedRevision"] != sha {
		t.Errorf("a does not serve b's revision: %v", a.status(t)["lastAppliedRevision"])
	}
	// Every run dispatched once: the run asked of a while it slept
	// (by b, the leader), b's, and the one before the pause.
	asleepMu.Lock()
	taken := asleep
	asleepMu.Unlock()
	if taken != "" {
		s.e.waitStatus(taken, "DISPATCHED")
	}
	count := map[string]int{}
	for _, d := range s.e.fake.Dispatches("acme", "workflows") {
		count[fmt.Sprint(d.Inputs["pier_run_id"])]++
	}
	for id, n := range count {
		if n != 1 {
			t.Errorf("run %s dispatched %d times", id, n)
		}
	}
	if count[byB] != 1 || taken != "" && count[taken] != 1 {
		t.Errorf("b's run or the one a took asleep was not dispatched once: %v", count)
	}
	t.Logf("answers of the paused replica: %q", answers)
	t.Logf("its log after waking:\n%s", woke)
}

// signedHook is a GitHub webhook request to url, signed as GitHub signs.
func signedHook(t *testing.T, url, event string, body []byte) *http.Request {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("paused-%d", deliveries.Add(1)))
	m := hmac.New(sha256.New, []byte(runsWebhookSecret))
	m.Write(body)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	return req
}
