// Package config reads pier serve's configuration. Every option is a
// flag, an environment variable PIER_<NAME> (upper case, dashes as
// underscores) and a key of an optional config file (YAML, JSON or CUE),
// in that order of precedence. A wrong option stops start-up with a
// message that names it and where it came from.
package config

import (
	"crypto/rsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"
	cuejson "cuelang.org/go/encoding/json"
	"github.com/robfig/cron/v3"

	"github.com/pierhq/pier/internal/github"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/yamlcue"
)

// Client is an API client (clientId/clientSecret for
// POST /v1/auth/access_token).
type Client struct {
	ID     string `json:"clientId"`
	Secret string `json:"clientSecret"`
	// Login is the GitHub login of the person the client acts for; Roles
	// are roles it holds of its own.
	Login string   `json:"login,omitempty"`
	Roles []string `json:"roles,omitempty"`
}

// Person is one of the people of the development sign-in (the config
// file's people list): who make run lets you be without GitHub.
type Person struct {
	Login string `json:"login"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	// Teams are catalog team identifiers or GitHub teams (org/slug).
	Teams []string `json:"teams,omitempty"`
}

// Config is pier serve's configuration.
type Config struct {
	ConfigFile      string
	Repo            string
	Branch          string
	Path            string
	Poll            string
	Listen          string
	DB              string
	CacheDir        string
	GitHubAPIURL    string
	GitHubToken     string
	GitHubRepo      string
	WebhookSecret   string
	WebhookInsecure bool
	SSHKey          string
	SSHKnownHosts   string
	ClientID        string
	ClientSecret    string
	Clients         []Client
	// People are the development sign-in's people.
	People              []Person
	OAuthClientID       string
	OAuthClientSecret   string
	GitHubWebURL        string
	DevSignIn           bool
	Admins              []string
	SessionTTL          time.Duration
	PersonalTokenMaxTTL time.Duration
	AnonymousReads      bool
	TokenTTL            time.Duration
	MaxDeletionShare    float64
	Debounce            time.Duration
	Timers              string
	RunsPoll            string
	RedispatchAfter     time.Duration
	LeaderLease         time.Duration
	PublicURL           string
	LogLevel            string
	LogFormat           string
	AuditRetention      time.Duration
	RateLimit           float64
	RateBurst           int
	TokenRateLimit      float64
	TokenRateBurst      int
	TrustedProxies      []netip.Prefix
	MetricsListen       string
	MetricsToken        string
	Limits

	// GitHubAppID, GitHubAppKey (a file) and GitHubAppInstallationID
	// authenticate as a GitHub App's installation instead of
	// GitHubToken; GitHubAppPrivateKey is the key read from the file.
	GitHubAppID             int64
	GitHubAppKey            string
	GitHubAppInstallationID int64
	GitHubAppPrivateKey     *rsa.PrivateKey

	fs *flag.FlagSet // the parsed options, for Redacted
	// origin says where each option not given as a flag was set: a
	// config file position or an environment variable.
	origin map[string]string
	// invalid holds the options whose value did not parse, which check
	// does not report a second time.
	invalid map[string]bool
}

// Secret options are never printed.
var secret = map[string]bool{"github-token": true, "webhook-secret": true, "client-secret": true, "metrics-token": true, "github-oauth-client-secret": true}

// FlagSet declares every option on a new flag set bound to c, setting
// c's fields to their defaults.
func (c *Config) FlagSet(out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.ConfigFile, "config", "", "config file (YAML, JSON or CUE) whose keys are these option names")
	fs.StringVar(&c.Repo, "repo", ".", "the catalog: a git URL (https://, ssh://, git@host:path, file://) followed by fetching, or a local directory watched for changes")
	fs.StringVar(&c.Branch, "branch", "main", "branch of a git repository")
	fs.StringVar(&c.Path, "path", "", "sub-directory of the repository holding the catalog")
	fs.StringVar(&c.Poll, "poll", "@every 5m", "cron schedule for polling a git repository (webhooks notice pushes at once; this is the fallback)")
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "address for the API, webhooks and metrics")
	fs.StringVar(&c.DB, "db", "./data/pier.db", "the state store: a SQLite file, or a PostgreSQL URL (postgres://user@host/db?sslmode=verify-full; its password is never logged)")
	fs.StringVar(&c.CacheDir, "cache-dir", "./data/git", "where clones of git repositories are kept")
	fs.StringVar(&c.GitHubAPIURL, "github-api-url", "https://api.github.com/", "GitHub API base URL (GitHub Enterprise Server: https://HOST/api/v3/)")
	fs.StringVar(&c.GitHubToken, "github-token", "", "GitHub token for fetching and commit statuses (also GITHUB_TOKEN); never logged")
	fs.Int64Var(&c.GitHubAppID, "github-app-id", 0, "authenticate as a GitHub App instead of --github-token: the App ID (with --github-app-key and --github-app-installation-id)")
	fs.StringVar(&c.GitHubAppKey, "github-app-key", "", "the GitHub App's private key, a PEM file as GitHub issues it")
	fs.Int64Var(&c.GitHubAppInstallationID, "github-app-installation-id", 0, "the id of the GitHub App's installation on the catalog's organisation")
	fs.StringVar(&c.GitHubRepo, "github-repo", "", "owner/name of the catalog on GitHub, for commit statuses when --repo is not a GitHub URL (a mirror, a local path)")
	fs.StringVar(&c.WebhookSecret, "webhook-secret", "", "secret GitHub signs webhook deliveries with; deliveries are refused without one")
	fs.BoolVar(&c.WebhookInsecure, "webhook-insecure", false, "accept unsigned webhook deliveries when no secret is set (local development only)")
	fs.StringVar(&c.SSHKey, "ssh-key", "", "private key file for ssh:// and git@ repositories")
	fs.StringVar(&c.SSHKnownHosts, "ssh-known-hosts", "", "known_hosts file for SSH host key checking")
	fs.StringVar(&c.ClientID, "client-id", "", "an API client id (more in the config file's clients list)")
	fs.StringVar(&c.ClientSecret, "client-secret", "", "the API client's secret; never logged")
	fs.StringVar(&c.OAuthClientID, "github-oauth-client-id", "", "client id of the GitHub OAuth application people sign in with (callback URL: PUBLIC-URL/auth/github/callback)")
	fs.StringVar(&c.OAuthClientSecret, "github-oauth-client-secret", "", "its client secret; never logged")
	fs.StringVar(&c.GitHubWebURL, "github-web-url", "https://github.com", "GitHub's web address, where people authorize the OAuth application (GitHub Enterprise Server: https://HOST)")
	fs.BoolVar(&c.DevSignIn, "dev-sign-in", false, "let people sign in as one of the config file's people, without GitHub (local development only; refused unless listen is a loopback address)")
	fs.Var((*list)(&c.Admins), "admins", "comma-separated GitHub logins of pier's administrators, who hold every right whatever the catalog's roles")
	fs.DurationVar(&c.SessionTTL, "session-ttl", 12*time.Hour, "how long a browser session lasts after sign-in")
	fs.DurationVar(&c.PersonalTokenMaxTTL, "personal-token-max-ttl", 90*24*time.Hour, "the longest a personal API token may live (0: tokens may never expire)")
	fs.BoolVar(&c.AnonymousReads, "anonymous-reads", false, "let unauthenticated callers read the API (writes always need a token)")
	fs.DurationVar(&c.TokenTTL, "token-ttl", time.Hour, "lifetime of issued access tokens")
	fs.Float64Var(&c.MaxDeletionShare, "max-deletion-share", 0.5, "share of entities one revision may delete unless it opts in (settings.deletionGuard.allow)")
	fs.DurationVar(&c.Debounce, "debounce", 100*time.Millisecond, "quiet time after a local file change before reconciling")
	fs.StringVar(&c.Timers, "timers", "@every 30s", "cron schedule for checking timer properties (TIMER_PROPERTY_EXPIRED)")
	fs.StringVar(&c.RunsPoll, "runs-poll", "@every 30s", "cron schedule for looking at unfinished action runs: decisions webhooks missed, approval expiry, interrupted dispatches, workflow runs")
	fs.DurationVar(&c.LeaderLease, "leader-lease", 6*time.Second, "with replicas on one PostgreSQL: how long the leader's lease lasts unless renewed (every third of it); a replica leads this long at most after the leader died, and a leader that cannot reach the database stops leading within it")
	fs.DurationVar(&c.RedispatchAfter, "redispatch-after", 2*time.Minute, "how long pier looks for the workflow run of a dispatch it was interrupted in (a crash, a timeout) before taking it that GitHub never took the dispatch and dispatching again; shorter risks running the workflow twice when GitHub is slow to list the run")
	fs.StringVar(&c.PublicURL, "public-url", "", "pier's URL as people and workflows reach it, for links in pull requests and notifications (default: http://LISTEN)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	fs.Var((*days)(&c.AuditRetention), "audit-retention", "how long the audit log keeps an entry (90d, 720h); 0 keeps every entry")
	fs.Float64Var(&c.RateLimit, "rate-limit", 50, "API requests a second per client, and per address for callers without a token; 0 turns the limits off")
	fs.IntVar(&c.RateBurst, "rate-burst", 100, "API requests a client or an address may make at once, above rate-limit")
	fs.Float64Var(&c.TokenRateLimit, "token-rate-limit", 0.2, "token exchanges (POST /v1/auth/access_token) a second per address, on top of rate-limit; 0 turns it off")
	fs.IntVar(&c.TokenRateBurst, "token-rate-burst", 10, "token exchanges an address may make at once")
	fs.Var((*prefixes)(&c.TrustedProxies), "trusted-proxies", "comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For names the caller, for the per-address limits (without, X-Forwarded-For is ignored)")
	fs.StringVar(&c.MetricsListen, "metrics-listen", "", "serve /metrics on this address of its own (for Prometheus), and not on the API's")
	fs.StringVar(&c.MetricsToken, "metrics-token", "", "a bearer token that may read /metrics on the API's address (for Prometheus's authorization); never logged")
	c.Limits.Flags(fs)
	return fs
}

// Parse reads the command line, the environment and the config file.
func Parse(args []string, getenv func(string) string, out io.Writer) (*Config, error) {
	c := &Config{origin: map[string]string{}, invalid: map[string]bool{}}
	fs := c.FlagSet(out)
	c.fs = fs
	// The flag package would print every option on --help and on a bad
	// option, before `pier serve` prints its usage or the error: once is
	// enough.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (options start with --)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	// The environment, then the file, fill what the command line left.
	if !set["config"] {
		if v := getenv(envName("config")); v != "" {
			c.ConfigFile = v
		}
	}
	var (
		keys []fileKey
		errs []error
	)
	if c.ConfigFile != "" {
		var err error
		if keys, err = readFile(c.ConfigFile); err != nil {
			return nil, err
		}
	}
	file := map[string]fileKey{}
	for _, k := range keys {
		file[k.name] = k
		if k.name != "clients" && k.name != "people" && (fs.Lookup(k.name) == nil || k.name == "config") {
			errs = append(errs, fmt.Errorf("%s: unknown option %q (see pier serve --help)", k.keyPos, k.name))
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == "config" {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			c.origin[f.Name] = "environment " + envName(f.Name)
			if err := setOption(f, v); err != nil {
				c.invalid[f.Name] = true
				errs = append(errs, fmt.Errorf("environment %s: option %s: %w", envName(f.Name), f.Name, err))
			}
			return
		}
		if k, ok := file[f.Name]; ok {
			c.origin[f.Name] = k.pos
			v, err := optionText(f, k.v)
			if err == nil {
				err = setOption(f, v)
			}
			if err != nil {
				c.invalid[f.Name] = true
				errs = append(errs, fmt.Errorf("%s: option %s: %w", k.pos, f.Name, err))
			}
		}
	})
	if c.GitHubToken == "" && !c.githubApp() {
		// Only without an App: GITHUB_TOKEN is often just there (in
		// GitHub Actions, say), and is no reason to refuse the App.
		c.GitHubToken = getenv("GITHUB_TOKEN")
	}
	if k, ok := file["clients"]; ok {
		cs, cerrs := listOf(k, func(c Client) string {
			if c.ID == "" || c.Secret == "" {
				return "needs clientId and clientSecret"
			}
			return ""
		})
		errs = append(errs, cerrs...)
		c.Clients = cs
	}
	if k, ok := file["people"]; ok {
		ps, perrs := listOf(k, func(p Person) string {
			if p.Login == "" {
				return "needs a login"
			}
			return ""
		})
		errs = append(errs, perrs...)
		c.People = ps
	}
	if c.ClientID != "" || c.ClientSecret != "" {
		if c.ClientID == "" || c.ClientSecret == "" {
			errs = append(errs, errors.New("option client-id and client-secret must be set together"))
		}
		c.Clients = append(c.Clients, Client{ID: c.ClientID, Secret: c.ClientSecret})
	}
	errs = append(errs, c.check()...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// optionText is the text a config file's value sets an option to. A
// string option takes only a string: reading `branch: 1.10` as the
// number it is in YAML would set the branch to "1.1", and a list, a map
// or null has no text an option could mean.
func optionText(f *flag.Flag, v cue.Value) (string, error) {
	wantString := false
	if g, ok := f.Value.(flag.Getter); ok {
		_, wantString = g.Get().(string)
	}
	switch v.Kind() {
	case cue.StringKind:
		return v.String()
	case cue.BoolKind, cue.IntKind, cue.FloatKind, cue.NumberKind:
		if wantString {
			return "", fmt.Errorf("want a string, got %s (quote it)", describe(v))
		}
		b, err := v.MarshalJSON()
		return string(b), err
	case cue.BottomKind:
		if err := v.Err(); err != nil {
			return "", err
		}
		return "", errors.New("not a concrete value")
	}
	return "", fmt.Errorf("want a string, number or boolean, got %s", describe(v))
}

func kindName(k cue.Kind) string {
	switch k {
	case cue.NullKind:
		return "null"
	case cue.StringKind:
		return "a string"
	case cue.BoolKind:
		return "the boolean"
	case cue.IntKind, cue.FloatKind, cue.NumberKind:
		return "the number"
	case cue.ListKind:
		return "a list"
	case cue.StructKind:
		return "a map"
	case cue.BytesKind:
		return "bytes"
	}
	return "a value of kind " + k.String()
}

// setOption sets f to s, saying what was wrong with the value: flag's
// own errors ("parse error") do not. A secret's value is not repeated.
func setOption(f *flag.Flag, s string) error {
	err := f.Value.Set(s)
	if err == nil {
		return nil
	}
	what := fmt.Sprintf("invalid value %q", s)
	if secret[f.Name] {
		what = "invalid value"
	}
	switch f.Value.(flag.Getter).Get().(type) {
	case time.Duration:
		return fmt.Errorf("%s: want a duration such as 100ms, 30s or 1h", what)
	case bool:
		return fmt.Errorf("%s: want true or false", what)
	case float64:
		return fmt.Errorf("%s: want a number", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// check validates values that parse but make no sense. Each error says
// where the option was set (the config file's line, the environment
// variable), so that the value can be found.
func (c *Config) check() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		if c.invalid[name] {
			return // reported as it was read
		}
		err := fmt.Errorf("option "+name+": "+format, args...)
		if o := c.origin[name]; o != "" {
			err = fmt.Errorf("%s: %w", o, err)
		}
		errs = append(errs, err)
	}
	if _, err := cron.ParseStandard(c.Poll); err != nil {
		bad("poll", "%q is not a cron schedule: %w", c.Poll, err)
	}
	if _, err := cron.ParseStandard(c.Timers); err != nil {
		bad("timers", "%q is not a cron schedule: %w", c.Timers, err)
	}
	if _, err := cron.ParseStandard(c.RunsPoll); err != nil {
		bad("runs-poll", "%q is not a cron schedule: %w", c.RunsPoll, err)
	}
	if _, err := store.DriverOf(c.DB); err != nil {
		errs = append(errs, fmt.Errorf("option db: %w", err))
	}
	if (c.OAuthClientID == "") != (c.OAuthClientSecret == "") {
		errs = append(errs, errors.New("option github-oauth-client-id and github-oauth-client-secret must be set together"))
	}
	if c.DevSignIn {
		if host, _, err := net.SplitHostPort(c.Listen); err != nil || !loopback(host) {
			errs = append(errs, fmt.Errorf("option dev-sign-in: lets anyone sign in as anyone, so only on a loopback address; listen is %q", c.Listen))
		}
		if len(c.People) == 0 {
			errs = append(errs, errors.New("option dev-sign-in: the config file lists no people to sign in as (people: [{login, name, email, teams}])"))
		}
	}
	if c.LeaderLease < 500*time.Millisecond || c.LeaderLease > 5*time.Minute {
		bad("leader-lease", "%s is out of range (500ms to 5m)", c.LeaderLease)
	}
	if c.RedispatchAfter < 10*time.Second {
		bad("redispatch-after", "%s is too short: GitHub takes seconds to list a dispatched run, and a shorter wait risks dispatching twice (at least 10s)", c.RedispatchAfter)
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("public-url", "%q is not an http(s) URL", c.PublicURL)
		}
	}
	if c.MaxDeletionShare <= 0 || c.MaxDeletionShare > 1 {
		bad("max-deletion-share", "%v is not in (0, 1]", c.MaxDeletionShare)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log-level", "%q is not debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("log-format", "%q is not text or json", c.LogFormat)
	}
	if c.Repo == "" {
		bad("repo", "empty")
	} else if !isRemote(c.Repo) {
		// A path (a work tree, a bare repository or a plain directory)
		// must exist; a URL may be unreachable for a while.
		if fi, err := os.Stat(c.Repo); err != nil || !fi.IsDir() {
			bad("repo", "%s is not a directory, nor a repository URL (https://, ssh://, git@host:path, file://)", c.Repo)
		}
	}
	errs = append(errs, c.checkGitHubApp()...)
	if c.GitHubRepo != "" {
		if o, r, ok := strings.Cut(c.GitHubRepo, "/"); !ok || o == "" || r == "" || strings.Contains(r, "/") {
			bad("github-repo", "%q is not owner/name", c.GitHubRepo)
		}
	}
	if c.Listen == "" {
		bad("listen", "empty")
	}
	if c.TokenTTL <= 0 {
		bad("token-ttl", "%v is not positive", c.TokenTTL)
	}
	if c.Debounce < 0 {
		bad("debounce", "%v is negative", c.Debounce)
	}
	if c.AuditRetention < 0 {
		errs = append(errs, fmt.Errorf("option audit-retention: %v is negative (0 keeps every entry)", c.AuditRetention))
	}
	for _, l := range []struct {
		rate, burst string
		r           float64
		b           int
	}{{"rate-limit", "rate-burst", c.RateLimit, c.RateBurst}, {"token-rate-limit", "token-rate-burst", c.TokenRateLimit, c.TokenRateBurst}} {
		if l.r < 0 {
			errs = append(errs, fmt.Errorf("option %s: %v is negative (0 turns the limit off)", l.rate, l.r))
		}
		if l.r > 0 && l.b < 1 {
			errs = append(errs, fmt.Errorf("option %s: %d: a limited caller must be able to make at least one request", l.burst, l.b))
		}
	}
	if c.MetricsListen != "" && c.MetricsToken != "" {
		errs = append(errs, errors.New("option metrics-token: it guards /metrics on the API's address, and metrics-listen serves /metrics on its own address instead: set one of them"))
	}
	if err := c.Limits.Check(); err != nil {
		errs = append(errs, err)
	}
	seen := map[string]bool{}
	for _, cl := range c.Clients {
		if cl.ID == "" || cl.Secret == "" {
			errs = append(errs, errors.New("option clients: every client needs clientId and clientSecret"))
		}
		if seen[cl.ID] {
			errs = append(errs, fmt.Errorf("option clients: clientId %q is listed twice", cl.ID))
		}
		seen[cl.ID] = true
	}
	return errs
}

// githubApp reports whether any GitHub App option is set.
func (c *Config) githubApp() bool {
	return c.GitHubAppID != 0 || c.GitHubAppKey != "" || c.GitHubAppInstallationID != 0
}

// checkGitHubApp checks the GitHub App options, which go together and
// instead of a token, and reads the key, so that a wrong file stops pier
// at start.
func (c *Config) checkGitHubApp() []error {
	if !c.githubApp() {
		return nil
	}
	var errs []error
	if c.GitHubToken != "" {
		errs = append(errs, errors.New("option github-token and the github-app options are exclusive: pier authenticates as a token or as a GitHub App, not both"))
	}
	for _, o := range []struct {
		name string
		set  bool
	}{
		{"github-app-id", c.GitHubAppID != 0},
		{"github-app-key", c.GitHubAppKey != ""},
		{"github-app-installation-id", c.GitHubAppInstallationID != 0},
	} {
		if !o.set {
			errs = append(errs, fmt.Errorf("option %s: missing: github-app-id, github-app-key and github-app-installation-id go together", o.name))
		}
	}
	if c.GitHubAppID < 0 {
		errs = append(errs, fmt.Errorf("option github-app-id: %d is not an App ID (a positive integer, on the App's settings page)", c.GitHubAppID))
	}
	if c.GitHubAppInstallationID < 0 {
		errs = append(errs, fmt.Errorf("option github-app-installation-id: %d is not an installation id (a positive integer, at the end of the installation's settings URL)", c.GitHubAppInstallationID))
	}
	if c.GitHubAppKey != "" {
		k, err := github.ReadAppKey(c.GitHubAppKey)
		if err != nil {
			errs = append(errs, fmt.Errorf("option github-app-key: %w", err))
		}
		c.GitHubAppPrivateKey = k
	}
	return errs
}

// Redacted lists the configuration for the start-up log, secrets masked.
func (c *Config) Redacted() []any {
	var out []any
	fs := c.fs
	if fs == nil {
		return nil
	}
	names := []string{}
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	for _, n := range names {
		v := fs.Lookup(n).Value.String()
		if secret[n] && v != "" {
			v = "REDACTED"
		}
		if n == "db" {
			v = store.Redact(v)
		}
		out = append(out, n, v)
	}
	return append(out, "clients", len(c.Clients), "people", len(c.People))
}

// IsLocalDir reports whether Repo names a local directory that is watched
// for edits, rather than a repository that is fetched. A bare repository
// is fetched; so is any URL.
func (c *Config) IsLocalDir() bool {
	if isRemote(c.Repo) {
		return false
	}
	fi, err := os.Stat(c.Repo)
	if err != nil || !fi.IsDir() {
		return false
	}
	_, err = os.Stat(filepath.Join(c.Repo, "HEAD"))
	return err != nil // a bare repository has HEAD at its top
}

// isRemote reports a URL or an scp-like address (git@host:path).
func isRemote(r string) bool {
	if strings.Contains(r, "://") {
		return true
	}
	at, colon := strings.Index(r, "@"), strings.Index(r, ":")
	return colon > 0 && (at >= 0 && at < colon || !strings.ContainsAny(r[:colon], `/\`))
}

func envName(flag string) string {
	return "PIER_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// fileKey is a top-level key of the config file, with its value and
// where the key and the value were written ("pier.yaml:3:9").
type fileKey struct {
	name   string
	v      cue.Value
	keyPos string
	pos    string
	src    *source
}

// readFile decodes a YAML, JSON or CUE config file into its top-level
// keys, in the order they were written. A .json file must be JSON: it is
// not evaluated as CUE, so that a typo gets a JSON syntax error where it
// is.
func readFile(path string) ([]fileKey, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	ext := strings.ToLower(filepath.Ext(path))
	lines := src
	if ext == ".yaml" || ext == ".yml" {
		lines = yamlcue.NormalizeCR(src) // lines as YAML counts them
	}
	file := newSource(path, lines)
	if !utf8.Valid(src) {
		// The decoders say "invalid JSON" or nothing of where.
		return nil, fmt.Errorf("%s: not valid UTF-8", file.offset(invalidUTF8(src)))
	}
	ctx := cuecontext.New()
	var v cue.Value
	switch ext {
	case ".yaml", ".yml":
		f, err := yamlcue.Extract(path, src)
		if err != nil {
			return nil, file.cueError(err)
		}
		v = ctx.BuildFile(f)
	case ".json":
		expr, err := cuejson.Extract(path, src)
		if err != nil {
			return nil, file.cueError(err)
		}
		v = ctx.BuildExpr(expr)
	default:
		v = ctx.CompileBytes(src, cue.Filename(path))
	}
	if err := v.Err(); err != nil {
		return nil, file.cueError(err)
	}
	if v.IncompleteKind() == cue.TopKind || v.Kind() == cue.NullKind {
		return nil, nil // an empty YAML document ("", "---", comments) sets nothing
	}
	if k := v.Kind(); k != cue.StructKind {
		return nil, fmt.Errorf("%s: config file must map option names to values; got %s", file.at(v.Pos()), describe(v))
	}
	it, err := v.Fields()
	if err != nil {
		return nil, file.cueError(err)
	}
	json := ext == ".json"
	var keys []fileKey
	for it.Next() {
		k := fileKey{name: it.Selector().Unquoted(), v: it.Value(), src: file}
		label, value := it.Value().Pos(), it.Value().Pos()
		if f, ok := it.Value().Source().(*ast.Field); ok {
			label, value = f.Label.Pos(), f.Value.Pos()
			if _, ident := f.Label.(*ast.Ident); ident && json && label.IsValid() && label.Column() > 1 {
				// CUE's JSON decoder makes "key" an identifier one
				// column past its quote.
				label = label.Add(-1)
			}
		}
		k.keyPos, k.pos = file.at(label), file.at(value)
		keys = append(keys, k)
	}
	return keys, nil
}

// invalidUTF8 returns the offset of the first byte of src that is not
// valid UTF-8.
func invalidUTF8(src []byte) int {
	for i := 0; i < len(src); {
		r, n := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(src)
}

// source is a config file, for saying where in it something is.
type source struct {
	path  string
	lines []int // the offset at which each line starts
	size  int
}

func newSource(path string, src []byte) *source {
	s := &source{path: path, lines: []int{0}, size: len(src)}
	for i, b := range src {
		if b == '\n' {
			s.lines = append(s.lines, i+1)
		}
	}
	return s
}

// offset is path:line:col of a byte offset.
func (s *source) offset(off int) string {
	l := sort.SearchInts(s.lines, off+1) - 1
	return fmt.Sprintf("%s:%d:%d", s.path, l+1, off-s.lines[l]+1)
}

// at is path:line:col of p, within the file: the YAML decoder counts a
// lone \r as a line break and then places values past the end of the
// line the file has ("\r 0" put 0 at 1:5 of a 3-byte line), so a column
// is held to the end of its line, and a line to the last.
func (s *source) at(p token.Pos) string {
	if !p.IsValid() || p.Line() == 0 {
		return s.path
	}
	line := min(p.Line(), len(s.lines))
	end := s.size
	if line < len(s.lines) {
		end = s.lines[line] - 1 // the newline
	}
	col := min(p.Column(), end-s.lines[line-1]+1)
	if p.Line() > len(s.lines) {
		col = end - s.lines[line-1] + 1
	}
	return fmt.Sprintf("%s:%d:%d", s.path, line, max(col, 1))
}

// of is where v was written.
func (s *source) of(v cue.Value) string {
	if f, ok := v.Source().(*ast.Field); ok {
		return s.at(f.Value.Pos())
	}
	return s.at(v.Pos())
}

// describe names what v is, for "got ..." in errors.
func describe(v cue.Value) string {
	k := v.Kind()
	switch k {
	case cue.BoolKind, cue.IntKind, cue.FloatKind, cue.NumberKind:
		return kindName(k) + " " + literalText(v)
	}
	return kindName(k)
}

// literalText is a scalar as written in the file (1.10, not 1.1).
func literalText(v cue.Value) string {
	src := v.Source()
	if f, ok := src.(*ast.Field); ok {
		src = f.Value
	}
	if lit, ok := src.(*ast.BasicLit); ok {
		return lit.Value
	}
	if u, ok := src.(*ast.UnaryExpr); ok {
		if lit, ok := u.X.(*ast.BasicLit); ok {
			return u.Op.String() + lit.Value
		}
	}
	b, _ := v.MarshalJSON()
	return string(b)
}

// cueError gives each of CUE's errors the position it is about.
func (s *source) cueError(err error) error {
	path := s.path
	var out []error
	for _, e := range cueerrors.Errors(err) {
		p := e.Position()
		if ps := cueerrors.Positions(e); !p.IsValid() && len(ps) > 0 {
			p = ps[0]
		}
		if !p.IsValid() {
			// The YAML decoder's errors say "file:line: message".
			msg := e.Error()
			if !strings.HasPrefix(msg, path) {
				msg = path + ": " + msg
			}
			out = append(out, errors.New(msg))
			continue
		}
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		if cause := errors.Unwrap(e); cause != nil && !strings.Contains(msg, cause.Error()) {
			msg += ": " + cause.Error() // encoding/json's reason for "invalid JSON"
		}
		if p := e.Path(); len(p) > 0 {
			msg = strings.Join(p, ".") + ": " + msg
		}
		out = append(out, fmt.Errorf("%s: %s", s.at(p), msg))
	}
	if len(out) == 0 {
		return fmt.Errorf("%s: %w", path, err)
	}
	return errors.Join(out...)
}

// listOf reads a list of objects (clients, people) into T's json-tagged
// fields, each error at the item or key it is about; missing says what a
// decoded item lacks, or "".
func listOf[T any](k fileKey, missing func(T) string) ([]T, []error) {
	keys := fieldsOf[T]()
	shape := "{" + strings.Join(keys, ", ") + "}"
	bad := func(v cue.Value, format string, args ...any) error {
		return fmt.Errorf("%s: option %s: "+format, append([]any{k.src.of(v), k.name}, args...)...)
	}
	if k.v.Kind() != cue.ListKind {
		return nil, []error{bad(k.v, "must be a list of %s, got %s", shape, describe(k.v))}
	}
	list, err := k.v.List()
	if err != nil {
		return nil, []error{bad(k.v, "%v", err)}
	}
	var (
		out  []T
		errs []error
	)
	for i := 0; list.Next(); i++ {
		el := list.Value()
		if el.Kind() != cue.StructKind {
			errs = append(errs, bad(el, "item %d: must be %s, got %s", i, shape, describe(el)))
			continue
		}
		fields, err := el.Fields()
		if err != nil {
			errs = append(errs, bad(el, "item %d: %v", i, err))
			continue
		}
		var item T
		dst := reflect.ValueOf(&item).Elem()
		ok := true
		for fields.Next() {
			name, fv := fields.Selector().Unquoted(), fields.Value()
			j := slices.Index(keys, name)
			if j < 0 {
				errs = append(errs, bad(fv, "item %d: unknown key %q (want %s)", i, name, strings.Join(keys, ", ")))
				ok = false
				continue
			}
			f := dst.Field(j)
			if err := fv.Decode(f.Addr().Interface()); err != nil {
				want := "a string"
				if f.Kind() == reflect.Slice {
					want = "a list of strings"
				}
				errs = append(errs, bad(fv, "item %d: %s must be %s, got %s", i, name, want, describe(fv)))
				ok = false
			}
		}
		if !ok {
			continue
		}
		if m := missing(item); m != "" {
			errs = append(errs, bad(el, "item %d: %s", i, m))
			continue
		}
		out = append(out, item)
	}
	return out, errs
}

// fieldsOf lists T's json keys, in field order.
func fieldsOf[T any]() []string {
	t := reflect.TypeFor[T]()
	keys := make([]string, t.NumField())
	for i := range keys {
		keys[i], _, _ = strings.Cut(t.Field(i).Tag.Get("json"), ",")
	}
	return keys
}

// list is a comma-separated list of names.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }

func (l *list) Set(v string) error {
	*l = nil
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// days is a duration option that also takes whole days: 90d.
type days time.Duration

func (d *days) String() string { return time.Duration(*d).String() }

func (d *days) Set(v string) error {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if i, err := strconv.Atoi(n); err == nil {
			*d = days(time.Duration(i) * 24 * time.Hour)
			return nil
		}
	}
	x, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q is not a duration (90d, 720h, 0)", v)
	}
	*d = days(x)
	return nil
}

// prefixes is a comma-separated list of CIDRs or single addresses.
type prefixes []netip.Prefix

func (p *prefixes) String() string {
	out := make([]string, len(*p))
	for i, x := range *p {
		out[i] = x.String()
	}
	return strings.Join(out, ",")
}

func (p *prefixes) Set(v string) error {
	*p = nil
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		x, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return fmt.Errorf("%q is not an address or a CIDR", s)
			}
			x = netip.PrefixFrom(a, a.BitLen())
		}
		*p = append(*p, x.Masked())
	}
	return nil
}

// loopback reports whether host is a loopback address or localhost.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
