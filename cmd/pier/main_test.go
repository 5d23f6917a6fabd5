package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// copyDir copies the example catalog so a test can break it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestValidateExampleCatalog(t *testing.T) {
	code, out, errOut := runCLI(t, "validate", "../../catalog-example")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "catalog is valid") {
		t.Errorf("output: %s", out)
	}
}

func TestValidateReportsABrokenEnum(t *testing.T) {
	dir := copyDir(t, "../../catalog-example")
	file := filepath.Join(dir, "entities", "service", "payments-api.cue")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	line := 0
	for i, l := range lines {
		if strings.Contains(l, `"Production"`) && strings.Contains(l, "lifecycle") {
			lines[i] = strings.Replace(l, `"Production"`, `"Prod"`, 1)
			line = i + 1
			break
		}
	}
	if line == 0 {
		t.Fatal("payments-api.cue has no lifecycle line to break")
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, _ := runCLI(t, "validate", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	want := filepath.ToSlash(file) + ":" + itoa(line) + ":"
	if !strings.Contains(out, want) || !strings.Contains(out, `got "Prod"`) {
		t.Fatalf("output does not name %s and the bad value:\n%s", want, out)
	}

	code, out, _ = runCLI(t, "validate", "--format", "github", dir)
	if code != 1 || !strings.Contains(out, "::error file="+filepath.ToSlash(file)+",line="+itoa(line)+",col=") {
		t.Fatalf("github format, exit %d:\n%s", code, out)
	}

	code, out, _ = runCLI(t, "validate", "--format", "json", dir)
	var report struct {
		Valid  bool `json:"valid"`
		Errors []struct {
			Pos struct {
				File string `json:"file"`
				Line int    `json:"line"`
			} `json:"pos"`
			Path string `json:"path"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	if code != 1 || report.Valid || len(report.Errors) != 1 || report.Errors[0].Pos.Line != line ||
		report.Errors[0].Path != `entities.service."payments-api".properties.lifecycle` {
		t.Fatalf("json report, exit %d: %+v", code, report)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"validate", "--format", "xml", "."},
		{"validate", "a", "b"},
		{"validate", "/does/not/exist"},
		{"diff", "HEAD~1"},
		{"diff", "--server", "http://127.0.0.1:1"},
		{"diff", "--server", "--base", "HEAD"},
		{"diff", "--base", "HEAD", "--format", "pdf"},
		{"diff", "--base", "HEAD", "--repo", "/does/not/exist"},
	} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("pier %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
}

func TestDiffBetweenCommits(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := copyDir(t, "../../catalog-example")
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.email=ci@example.com", "-c", "user.name=CI"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-qm", "base")
	// Update one service, delete a leaf entity, add a team.
	file := filepath.Join(dir, "entities", "service", "payments-api.cue")
	b, _ := os.ReadFile(file)
	changed := strings.Replace(string(b), `"Production"`, `"Staging"`, 1)
	if changed == string(b) {
		t.Fatal("nothing to change in payments-api.cue")
	}
	os.WriteFile(file, []byte(changed), 0o644)
	os.Remove(filepath.Join(dir, "entities", "cloud_resource", "fraud-features.json"))
	os.WriteFile(filepath.Join(dir, "entities", "team", "sre.json"), []byte(`{"entities": {"team": {"sre": {"title": "SRE", "properties": {"email": "sre@acme.example", "slack_channel": "#sre"}}}}}`), 0o644)
	git("add", "-A")
	git("commit", "-qm", "head")

	code, out, errOut := runCLI(t, "diff", "--repo", dir, "--base", "HEAD~1")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"+ entity team/sre",
		"~ entity service/payments-api",
		`properties.lifecycle: "Production" -> "Staging"`,
		"- entity cloud_resource/fraud-features-bq",
		"Plan: 1 to create, 1 to update, 1 to delete.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "diff", "--repo", dir, "--base", "HEAD~1", "--head", "HEAD", "--format", "markdown")
	if code != 0 || !strings.Contains(out, "| entity | 1 | 1 | 1 |") {
		t.Errorf("markdown plan, exit %d:\n%s", code, out)
	}
	code, out, _ = runCLI(t, "diff", "--repo", dir, "--base", "HEAD", "--head", "HEAD")
	if code != 0 || !strings.Contains(out, "No changes.") {
		t.Errorf("diff of a revision with itself, exit %d:\n%s", code, out)
	}
	// Without --base: the work tree's uncommitted edits against HEAD,
	// from the root or from the catalog's own directory.
	b, _ = os.ReadFile(file)
	os.WriteFile(file, []byte(strings.Replace(string(b), `"Staging"`, `"Development"`, 1)), 0o644)
	os.Remove(filepath.Join(dir, "entities", "team", "sre.json"))
	for _, args := range [][]string{{"diff", "--repo", dir}, {"diff", "--repo", filepath.Join(dir, "entities"), "--path", ".."}} {
		code, out, errOut = runCLI(t, args...)
		if code != 0 || !strings.Contains(out, `properties.lifecycle: "Staging" -> "Development"`) || !strings.Contains(out, "- entity team/sre") || !strings.Contains(out, "Plan: 0 to create, 1 to update, 1 to delete.") {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	code, _, errOut = runCLI(t, "diff", "--repo", dir, "--base", "no-such-branch")
	if code != 2 || !strings.Contains(errOut, "no-such-branch") {
		t.Errorf("unknown base: exit %d, %s", code, errOut)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestValidateReportsABrokenAutomation(t *testing.T) {
	dir := copyDir(t, "../../catalog-example")
	bad := `{"automations": {"broken": {"trigger": {"type": "automation", "event": {"type": "ENTITY_CREATED"},
  "condition": {"type": "JQ", "expressions": [".diff.after |"]}}, "actions": [{"type": "run-action", "action": "no_such_action"}]}}}`
	if err := os.WriteFile(filepath.Join(dir, "automations", "broken.json"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLI(t, "validate", dir)
	if code != 1 || !strings.Contains(out, "broken.json:1:18: automations.broken: automation broken: trigger.condition.expressions[0]") ||
		!strings.Contains(out, `run-action names action "no_such_action", which does not exist`) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
