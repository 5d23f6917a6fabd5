package main

import (
	"bytes"
	"fmt"
	"io"
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

	"github.com/pierhq/pier/internal/githubfake"
	"github.com/pierhq/pier/internal/store/postgres/pgtest"
)

// TestMain lets the test binary be pier in a child process: as the
// hidden evaluation command, which the loaders of the commands under test
// run (os.Executable() is this binary), and, with PIER_TEST_MAIN set, as
// pier's main itself, signal handling included.
func TestMain(m *testing.M) {
	if os.Getenv("PIER_TEST_MAIN") != "" || len(os.Args) > 1 && os.Args[1] == evalCommand {
		main()
	}
	pgtest.Main(m) // runs the tests, then stops the PostgreSQL server if one was started
}

// slowCUE is issue 11's reproduction: CUE took more than 400 s and
// 1.6 GB to evaluate it, never returning, and the daemon with it.
const slowCUE = `package catalog
import "list"
_n: [for i in list.Range(0,3000,1) for j in list.Range(0,3000,1) {i*j}]
entities: team: slow: title: "\(len(_n))"
`

// A revision over its budget — CUE that does not finish, a file over the
// size limit, a link out of the repository — fails within the bound,
// naming the file, in the status, the metrics and the commit status; the
// last good state keeps serving and the next good commit is applied.
func TestDaemonBoundsARevision(t *testing.T) {
	repo := newGitRepo(t)
	first := repo.commit("initial", map[string]string{"blueprints.cue": testBlueprints, "services/api.cue": service("api", "Staging")})
	gh := githubfake.New()
	defer gh.Close()
	gh.AddRepo("acme", "catalog")
	dataDir := t.TempDir()
	td := startDaemon(t,
		"--repo", "file://"+repo.bare, "--db", filepath.Join(dataDir, "pier.db"), "--cache-dir", filepath.Join(dataDir, "git"),
		"--webhook-secret", "hook-secret", "--anonymous-reads",
		"--github-api-url", gh.URL(), "--github-token", "ghs_test", "--github-repo", "acme/catalog",
		"--eval-timeout", "2s", "--max-file-size", "64KB",
	)
	td.waitFor(t, "the first revision", func(st map[string]any) bool { return st["lastAppliedRevision"] == first })

	failed := func(sha string, start time.Time, within time.Duration, n int, want ...string) {
		t.Helper()
		td.waitFor(t, "the revision to fail", func(st map[string]any) bool { return st["lastAttemptedRevision"] == sha })
		took := time.Since(start)
		t.Logf("the revision failed %s after its push", took)
		if took > within {
			t.Errorf("the revision failed %s after its push, later than %s", took, within)
		}
		st := td.status(t)
		var errs string
		for _, e := range st["errors"].([]any) {
			e := e.(map[string]any)
			errs += fmt.Sprintf("%v: %v [%v]\n", e["pos"].(map[string]any)["file"], e["message"], e["kind"])
		}
		if st["lastAppliedRevision"] != first || len(st["errors"].([]any)) != n {
			t.Fatalf("status after the bad commit: %v", st)
		}
		for _, w := range want {
			if !strings.Contains(errs, w) {
				t.Errorf("the errors %s do not say %q", errs, w)
			}
		}
		if got := td.lifecycle(t, "api"); got != "Staging" {
			t.Errorf("the bad revision changed the served state: %v", got)
		}
	}

	start := time.Now()
	slow := repo.commit("slow", map[string]string{"lib/slow.cue": slowCUE})
	td.push(t, slow, "hook-secret")
	// While CUE works on it in a child, the daemon answers at once and
	// says what it is doing.
	td.waitFor(t, "the slow revision to be reconciling", func(st map[string]any) bool {
		return slices.ContainsFunc(st["conditions"].([]any), func(c any) bool {
			return c.(map[string]any)["type"] == "Reconciling" && c.(map[string]any)["status"] == "True"
		})
	})
	asked := time.Now()
	if st := td.status(t); st["lastAttemptedRevision"] != first || time.Since(asked) > 500*time.Millisecond {
		t.Errorf("during the evaluation /v1/status took %s: %v", time.Since(asked), st)
	}
	failed(slow, start, 2*time.Second+3*time.Second, 1, "lib/slow.cue: evaluation exceeded 2s (option eval-timeout)")
	if m := scrape(t, td); !strings.Contains(m, `pier_validation_errors{kind="limit"} 1`) {
		t.Errorf("metrics lack the failed evaluation:\n%s", m)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !slices.ContainsFunc(gh.Statuses("acme", "catalog", slow), func(s githubfake.Status) bool {
		return s.State == "failure" && strings.Contains(*s.Description, "lib/slow.cue: evaluation exceeded 2s")
	}) {
		if time.Now().After(deadline) {
			t.Fatalf("no failure commit status naming the file: %+v", gh.Statuses("acme", "catalog", slow))
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A file over the size limit, and a link out of the repository,
	// refused without being read.
	if err := os.Symlink("../../outside.json", filepath.Join(repo.work, "services", "out.json")); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	big := repo.commit("big", map[string]string{"lib/slow.cue": "package catalog\n", "services/big.json": `{"pad": "` + strings.Repeat("x", 100<<10) + `"}`})
	td.push(t, big, "hook-secret")
	failed(big, start, 3*time.Second, 2,
		"services/big.json: file is 100 KB, more than the 64 KB a catalog file may hold (option max-file-size): split it into smaller files [limit]",
		`services/out.json: symbolic link to "../../outside.json" leads outside the catalog`)

	// The fix is applied, in its own time.
	os.Remove(filepath.Join(repo.work, "services", "out.json"))
	os.Remove(filepath.Join(repo.work, "services", "big.json"))
	fixed := repo.commit("fix", map[string]string{
		"lib/slow.cue":     "package catalog\nimport \"list\"\n_n: [for i in list.Range(0,3,1) {i}]\nentities: team: slow: title: \"\\(len(_n))\"\n",
		"services/api.cue": service("api", "Production"),
	})
	start = time.Now()
	td.push(t, fixed, "hook-secret")
	td.waitFor(t, "the fix", func(st map[string]any) bool { return st["lastAppliedRevision"] == fixed })
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the fix was applied %s after its push", took)
	}
	if got := td.lifecycle(t, "api"); got != "Production" {
		t.Errorf("api after the fix: %v", got)
	}
	if code, body := td.get(t, "/v1/blueprints/team/entities/slow"); code != 200 || body["entity"].(map[string]any)["title"] != "3" {
		t.Errorf("the evaluated entity: %d %v", code, body)
	}
}

// issue 11's reproduction: serving a directory, `ln -s /etc/passwd
// CAT/entities/service/p.yaml` showed the file in /v1/status, and a JSON
// file from outside the catalog was served as an entity. Links out are
// errors naming them; nothing they point to is read.
func TestDaemonServesOnlyTheDirectory(t *testing.T) {
	root := t.TempDir()
	cat, outside := filepath.Join(root, "catalog"), filepath.Join(root, "outside")
	for dir, files := range map[string]map[string]string{
		cat:     {"blueprints.cue": testBlueprints, "entities/service/api.cue": service("api", "Staging")},
		outside: {"passwd": "root:x:0:0:root:/root:/bin/bash\n", "svc.json": `{"entities": {"team": {"outsider": {"title": "from outside"}}}}`},
	} {
		for name, data := range files {
			os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	td := startDaemon(t, "--repo", cat, "--db", filepath.Join(root, "pier.db"), "--anonymous-reads", "--debounce", "20ms")
	td.waitFor(t, "the catalog", func(st map[string]any) bool { return st["lastAppliedRevision"] != nil })
	applied := td.status(t)["lastAppliedRevision"]

	links := map[string]string{
		"entities/service/p.yaml": filepath.Join(outside, "passwd"),
		"entities/team.json":      "../../outside/svc.json",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(cat, filepath.FromSlash(name))); err != nil {
			t.Skip("no symbolic links here:", err)
		}
	}
	td.waitFor(t, "the links", func(st map[string]any) bool { errs, _ := st["errors"].([]any); return len(errs) == 2 })
	resp, err := http.Get(td.url + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(raw, []byte("root:x")) || !bytes.Contains(raw, []byte(`"file":"entities/service/p.yaml"`)) || !bytes.Contains(raw, []byte(`"file":"entities/team.json"`)) || !bytes.Contains(raw, []byte("leads outside the catalog")) {
		t.Fatalf("/v1/status: %s", raw)
	}
	if st := td.status(t); st["lastAppliedRevision"] != applied {
		t.Errorf("a revision with links out was applied: %v", st)
	}
	if code, _ := td.get(t, "/v1/blueprints/team/entities/outsider"); code != http.StatusNotFound {
		t.Errorf("the entity from outside the catalog is served: %d", code)
	}

	// A link that stays inside is followed.
	for name := range links {
		os.Remove(filepath.Join(cat, filepath.FromSlash(name)))
	}
	os.WriteFile(filepath.Join(cat, ".team.json"), []byte(`{"entities": {"team": {"insider": {}}}}`), 0o644)
	os.Symlink("../.team.json", filepath.Join(cat, "entities", "team.json"))
	td.waitFor(t, "the link inside", func(st map[string]any) bool {
		code, _ := td.get(t, "/v1/blueprints/team/entities/insider")
		return code == http.StatusOK
	})
}

// pier validate applies the same rules as the daemon: a link out of the
// directory, a file over the size limit and CUE over its time budget are
// errors naming the file, and the file a link points to is not read.
func TestValidateBounds(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "passwd"), []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644)
	tests := []struct {
		name  string
		files map[string]string
		link  string // made a link to ../passwd
		args  []string
		want  string
	}{
		{"link out", nil, "p.yaml", nil, `p.yaml: symbolic link to "../passwd" leads outside the catalog`},
		{"file too large", map[string]string{"big.json": `{"pad": "` + strings.Repeat("x", 2048) + `"}`}, "", []string{"--max-file-size", "1KB"}, "big.json: file is 2 KB, more than the 1 KB a catalog file may hold"},
		{"evaluation too long", map[string]string{"slow.cue": slowCUE}, "", []string{"--eval-timeout", "1s"}, "slow.cue: evaluation exceeded 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, err := os.MkdirTemp(root, "catalog")
			if err != nil {
				t.Fatal(err)
			}
			for name, data := range tt.files {
				os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644)
			}
			if tt.link != "" {
				if err := os.Symlink("../passwd", filepath.Join(dir, tt.link)); err != nil {
					t.Skip("no symbolic links here:", err)
				}
			}
			start := time.Now()
			code, out, errOut := runCLI(t, append(append([]string{"validate"}, tt.args...), dir)...)
			if code != 1 || !strings.Contains(out, filepath.Base(dir)+"/"+tt.want) || strings.Contains(out, "root:x") {
				t.Fatalf("exit %d after %s\n%s%s", code, time.Since(start), out, errOut)
			}
		})
	}
}

// pierProcess starts pier (this test binary playing it, signals
// included) with args, and returns it with its output.
func pierProcess(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	if os.Getenv("PIER_TEST_NO_SUBPROCESS") != "" {
		t.Skip("subprocesses disabled")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "PIER_TEST_MAIN=1")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, out
}

// evaluators lists the processes evaluating CUE for this test's pier
// processes: this binary run as the hidden evaluation command.
func evaluators(t *testing.T) []int {
	t.Helper()
	exe, _ := os.Executable()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil || len(procs) == 0 {
		t.Skip("no /proc here")
	}
	var out []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && string(b) == exe+"\x00"+evalCommand+"\x00" {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			out = append(out, pid)
		}
	}
	return out
}

// SIGTERM stops pier at once: an idle daemon, and one or pier validate
// in the middle of an evaluation, whose child process goes with it.
func TestSIGTERMStopsPierAtOnce(t *testing.T) {
	slow := t.TempDir()
	os.WriteFile(filepath.Join(slow, "slow.cue"), []byte(slowCUE), 0o644)
	good := t.TempDir()
	os.WriteFile(filepath.Join(good, "blueprints.cue"), []byte(testBlueprints), 0o644)
	tests := []struct {
		name       string
		args       []string
		evaluating bool
		want       string // in the output after the signal
	}{
		{"validate evaluating", []string{"validate", "--eval-timeout", "1m", slow}, true, "pier validate: interrupted"},
		{"serve idle", []string{"serve", "--repo", good}, false, "shutting down"},
		{"serve evaluating", []string{"serve", "--repo", slow, "--eval-timeout", "1m"}, true, "shutting down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if args[0] == "serve" {
				data := t.TempDir()
				args = append(args, "--listen", "127.0.0.1:0", "--db", filepath.Join(data, "pier.db"), "--anonymous-reads")
			}
			before := len(evaluators(t))
			proc, out := pierProcess(t, args...)
			deadline := time.Now().Add(15 * time.Second)
			ready := func() bool {
				if tt.evaluating {
					return len(evaluators(t)) > before
				}
				return strings.Contains(out.String(), `msg=reconciled`)
			}
			for !ready() {
				if time.Now().After(deadline) {
					t.Fatalf("pier did not get going:\n%s", out)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if tt.evaluating {
				time.Sleep(300 * time.Millisecond) // well into the evaluation
			}
			start := time.Now()
			if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- proc.Wait() }()
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				t.Fatalf("pier did not exit within 10 s of SIGTERM:\n%s", out)
			}
			took := time.Since(start)
			t.Logf("exited %s after SIGTERM", took)
			if took > time.Second {
				t.Errorf("pier took %s to exit after SIGTERM", took)
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out)
			}
			if n := len(evaluators(t)); n > before {
				t.Errorf("%d evaluating processes outlived pier", n-before)
			}
		})
	}
}
