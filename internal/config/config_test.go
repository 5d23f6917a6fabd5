package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pier.yaml")
	os.WriteFile(file, []byte("branch: from-file\npoll: '@every 1m'\nlisten: 127.0.0.1:9999\nclients:\n  - {clientId: ci, clientSecret: s3cret}\n"), 0o644)
	c, err := Parse([]string{"--config", file, "--branch", "from-flag"}, env(map[string]string{
		"PIER_POLL": "@every 2m", "GITHUB_TOKEN": "ghp_x",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Branch != "from-flag" || c.Poll != "@every 2m" || c.Listen != "127.0.0.1:9999" || c.GitHubToken != "ghp_x" {
		t.Fatalf("precedence: %+v", c)
	}
	if len(c.Clients) != 1 || c.Clients[0].ID != "ci" {
		t.Fatalf("clients: %+v", c.Clients)
	}
	if c.TokenTTL != time.Hour || c.DB != "./data/pier.db" {
		t.Fatalf("defaults: %+v", c)
	}
	red := c.Redacted()
	if c.Branch != "from-flag" || len(red) < 40 {
		t.Fatalf("Redacted changed the config or listed too little: %v", red)
	}
	for i, v := range red {
		if s, ok := v.(string); ok && strings.Contains(s, "ghp_x") {
			t.Fatalf("redacted config shows the token at %d", i)
		}
	}
}

func TestErrorsNameTheOption(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"repoo": "x", "max-deletion-share": 2}`), 0o644)
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--poll", "every 5"}, nil, "option poll"},
		{nil, map[string]string{"PIER_TOKEN_TTL": "soon"}, "environment PIER_TOKEN_TTL"},
		{[]string{"--config", bad}, nil, `unknown option "repoo"`},
		{[]string{"--config", bad}, nil, "max-deletion-share"},
		{[]string{"--log-level", "loud"}, nil, "option log-level"},
		{[]string{"--redispatch-after", "1s"}, nil, "option redispatch-after: 1s is too short"},
		{[]string{"--client-id", "x"}, nil, "client-id and client-secret"},
		{[]string{"--nope"}, nil, "flag provided but not defined: -nope"},
		{[]string{"--config", filepath.Join(dir, "missing.yaml")}, nil, "config file"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.args, env(tt.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v %v: error %v, want it to mention %q", tt.args, tt.env, err, tt.want)
		}
	}
}

// TestFileErrorsNameTheLine checks that what a config file gets wrong is
// reported at its line and column, and that values with no text an
// option could mean are refused rather than printed into it ("<nil>",
// "[a b]", "1.1" for 1.10).
func TestFileErrorsNameTheLine(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, src, want string }{
		{"null.yaml", "branch: main\npath: null\n", `null.yaml:2:7: option path: want a string, number or boolean, got null`},
		{"list.yaml", "branch: [a, b]\n", `list.yaml:1:9: option branch: want a string, number or boolean, got a list`},
		{"number.yaml", "branch: 1.10\n", `number.yaml:1:9: option branch: want a string, got the number 1.10 (quote it)`},
		{"ttl.json", "{\n  \"token-ttl\": 5\n}", `ttl.json:2:16: option token-ttl: invalid value "5": want a duration`},
		{"unknown.yaml", "branch: x\n\nrepoo: y\n", `unknown.yaml:3:1: unknown option "repoo"`},
		{"cron.yaml", "\npoll: every 5\n", `cron.yaml:2:7: option poll: "every 5" is not a cron schedule`},
		{"clients.yaml", "clients:\n  - {clientId: a}\n", `clients.yaml:2:5: option clients: item 0: needs clientId and clientSecret`},
		{"cue.json", `{"branch": "a" + "b"}`, `cue.json:1:16: invalid JSON for file`},
		{"utf8.yaml", "branch: \"\xff\"\n", `utf8.yaml:1:10: not valid UTF-8`},
		{"twice.yaml", "branch: a\nbranch: b\n", `twice.yaml:1:9: branch: conflicting values "b" and "a"`},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, tt.name)
		os.WriteFile(p, []byte(tt.src), 0o644)
		_, err := Parse([]string{"--config", p}, env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, tt.want)) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
	for _, src := range []string{"", "---\n", "# nothing set\n"} {
		p := filepath.Join(dir, "empty.yaml")
		os.WriteFile(p, []byte(src), 0o644)
		if _, err := Parse([]string{"--config", p}, env(nil), io.Discard); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
}
