package config

import (
	"crypto/rsa"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/githubfake"
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
		{[]string{"--audit-retention", "ninety days"}, nil, `"ninety days" is not a duration (90d, 720h, 0)`},
		{[]string{"--audit-retention", "-1h"}, nil, "option audit-retention: -1h0m0s is negative"},
		{[]string{"--rate-limit", "-1"}, nil, "option rate-limit: -1 is negative"},
		{[]string{"--token-rate-burst", "0"}, nil, "option token-rate-burst: 0"},
		{[]string{"--trusted-proxies", "10.0.0.0/8,proxy.internal"}, nil, `"proxy.internal" is not an address or a CIDR`},
		{[]string{"--metrics-listen", ":9090", "--metrics-token", "t"}, nil, "option metrics-token"},
		{[]string{"--max-file-size", "10XB"}, nil, `invalid value "10XB" for flag -max-file-size`},
		{nil, map[string]string{"PIER_EVAL_TIMEOUT": "0s"}, "option eval-timeout: 0s is not positive"},
		{[]string{"--eval-memory", "1MB"}, nil, "option eval-memory: 1MB is less than the 64MB"},
		{[]string{"--max-revision-size", "1MB"}, nil, "option max-revision-size: 1MB is less than max-file-size (10MB)"},
		{[]string{"--db", "mysql://pier:hunter2@db/pier"}, nil, `option db: "mysql://pier:REDACTED@db/pier" is neither a SQLite file path nor a postgres:// URL`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.args, env(tt.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v %v: error %v, want it to mention %q", tt.args, tt.env, err, tt.want)
		}
	}
}

// TestDatabasePasswordNotLogged: a PostgreSQL URL's password, in its
// user information or its parameters, is masked in the start-up log.
func TestDatabasePasswordNotLogged(t *testing.T) {
	for _, db := range []string{
		"postgres://pier:hunter2@db.internal:5432/pier?sslmode=verify-full",
		"postgresql://pier@db.internal/pier?password=hunter2&sslmode=require",
	} {
		c, err := Parse([]string{"--db", db}, env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		red := fmt.Sprint(c.Redacted()...)
		if strings.Contains(red, "hunter2") || !strings.Contains(red, "db.internal") {
			t.Errorf("--db %s is logged as %s", db, red)
		}
		if c.DB != db {
			t.Errorf("Redacted changed the option: %s", c.DB)
		}
	}
}

// TestNoOptionIsACatalogSecret: no option is read from the catalog's
// secrets (PIER_SECRET_*), so that a catalog can never name one.
func TestNoOptionIsACatalogSecret(t *testing.T) {
	(&Config{}).FlagSet(io.Discard).VisitAll(func(f *flag.Flag) {
		env := envName(f.Name)
		if strings.HasPrefix(env, SecretPrefix) {
			t.Errorf("option %s is read from %s, among the catalog's secrets", f.Name, env)
		}
		if opt, ok := EnvOption(env); !ok || opt != f.Name {
			t.Errorf("EnvOption(%s) = %q %v, want %s", env, opt, ok, f.Name)
		}
	})
}

func TestCheckSecretEnv(t *testing.T) {
	for _, tt := range []struct{ env, want string }{
		{"", ""},
		{"PIER_SECRET_PLATFORM_EVENTS", ""},
		{"PIER_WEBHOOK_SECRET", `is pier serve's --webhook-secret`},
		{"PIER_CLIENT_SECRET", `is pier serve's --client-secret`},
		{"GITHUB_TOKEN", `is pier serve's --github-token`},
		{"PIER_SECRET_", `is not a PIER_SECRET_* variable`},
		{"HOME", `is not a PIER_SECRET_* variable`},
	} {
		err := CheckSecretEnv(tt.env, "platform-events")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v", tt.env, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `write secretEnv: "PIER_SECRET_PLATFORM_EVENTS"`)):
			t.Errorf("%q: %v, want it to say %q and what to write", tt.env, err, tt.want)
		}
	}
}

func TestHardeningOptions(t *testing.T) {
	c, err := Parse(nil, env(map[string]string{
		"PIER_AUDIT_RETENTION": "90d", "PIER_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7,2001:db8::/32", "PIER_METRICS_TOKEN": "scrape-me",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.AuditRetention != 90*24*time.Hour {
		t.Errorf("audit-retention %v", c.AuditRetention)
	}
	if got := (*prefixes)(&c.TrustedProxies).String(); got != "10.0.0.0/8,192.0.2.7/32,2001:db8::/32" {
		t.Errorf("trusted-proxies %s", got)
	}
	if c.RateLimit != 50 || c.RateBurst != 100 || c.TokenRateLimit != 0.2 || c.TokenRateBurst != 10 {
		t.Errorf("default limits %v %v %v %v", c.RateLimit, c.RateBurst, c.TokenRateLimit, c.TokenRateBurst)
	}
	for _, v := range c.Redacted() {
		if v == "scrape-me" {
			t.Error("the metrics token is logged")
		}
	}
}

// writeAppKey writes a GitHub App key as GitHub issues it.
func writeAppKey(t *testing.T, dir string) (string, *rsa.PrivateKey) {
	t.Helper()
	key, pem := githubfake.NewAppKey()
	path := filepath.Join(dir, "app.pem")
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, key
}

func TestGitHubApp(t *testing.T) {
	dir := t.TempDir()
	keyFile, key := writeAppKey(t, dir)
	// From the environment, as a deployment gives them; GITHUB_TOKEN,
	// which CI runners set, does not get in the way.
	c, err := Parse(nil, env(map[string]string{
		"PIER_GITHUB_APP_ID": "12345", "PIER_GITHUB_APP_KEY": keyFile, "PIER_GITHUB_APP_INSTALLATION_ID": "678",
		"GITHUB_TOKEN": "ghs_from_the_runner",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.GitHubAppID != 12345 || c.GitHubAppInstallationID != 678 || c.GitHubAppKey != keyFile || !key.Equal(c.GitHubAppPrivateKey) || c.GitHubToken != "" {
		t.Fatalf("App options: %+v", c)
	}

	notKey := filepath.Join(dir, "not-a-key.pem")
	os.WriteFile(notKey, []byte("ghp_a_token_by_mistake\n"), 0o600)
	missing := filepath.Join(dir, "missing.pem")
	app := []string{"--github-app-id", "12345", "--github-app-key", keyFile, "--github-app-installation-id", "678"}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{append([]string{"--github-token", "ghp_x"}, app...), "option github-token and the github-app options are exclusive"},
		{[]string{"--github-app-id", "12345"}, "option github-app-key: missing"},
		{[]string{"--github-app-id", "12345"}, "option github-app-installation-id: missing"},
		{[]string{"--github-app-key", keyFile, "--github-app-installation-id", "678"}, "option github-app-id: missing"},
		{[]string{"--github-app-id", "-3", "--github-app-key", keyFile, "--github-app-installation-id", "678"}, "option github-app-id: -3 is not an App ID"},
		{[]string{"--github-app-id", "12345", "--github-app-key", keyFile, "--github-app-installation-id", "-1"}, "option github-app-installation-id: -1 is not an installation id"},
		{[]string{"--github-app-id", "pier"}, `invalid value "pier" for flag -github-app-id`},
		{[]string{"--github-app-id", "12345", "--github-app-key", missing, "--github-app-installation-id", "678"}, "option github-app-key: GitHub App key: open " + missing},
		{[]string{"--github-app-id", "12345", "--github-app-key", notKey, "--github-app-installation-id", "678"}, "option github-app-key: GitHub App key " + notKey + ": no PEM block"},
	} {
		_, err := Parse(tt.args, env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want it to mention %q", tt.args, err, tt.want)
		}
	}
	// The environment's token and an App on the command line: the
	// person asked for both.
	_, err = Parse(app, env(map[string]string{"PIER_GITHUB_TOKEN": "ghp_x"}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "exclusive") {
		t.Errorf("PIER_GITHUB_TOKEN and an App: %v", err)
	}
}

func TestLimits(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pier.yaml")
	os.WriteFile(file, []byte("max-file-size: 20MB\nmax-revision-size: 1073741824\n"), 0o644)
	c, err := Parse([]string{"--config", file, "--eval-memory", "1.5GB"}, env(map[string]string{"PIER_EVAL_TIMEOUT": "3s"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{MaxFileSize: 20 << 20, MaxRevisionSize: 1 << 30, EvalTimeout: 3 * time.Second, EvalMemory: 3 << 29}
	if c.Limits != want {
		t.Fatalf("limits %+v, want %+v", c.Limits, want)
	}
	c, err = Parse(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(c.MaxFileSize, c.MaxRevisionSize, c.EvalTimeout, c.EvalMemory); got != "10MB 256MB 10s 512MB" {
		t.Errorf("defaults: %s", got)
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{
		"123": 123, "10MB": 10 << 20, "10 mb": 10 << 20, "10MiB": 10 << 20, "64k": 64 << 10, "2G": 2 << 30,
		"1.5KB": 1536, "1.048576e+07": 10485760, "7B": 7,
	} {
		var b ByteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "MB", "ten", "-1MB", "10XB", "1e30GB"} {
		var b ByteSize
		if err := b.Set(in); err == nil {
			t.Errorf("Set(%q) = %d, want an error", in, b)
		}
	}
	for b, want := range map[ByteSize]string{10 << 20: "10MB", 1 << 30: "1GB", 1536: "1536", 3 << 10: "3KB"} {
		if b.String() != want {
			t.Errorf("%d prints as %s, want %s", int64(b), b, want)
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
