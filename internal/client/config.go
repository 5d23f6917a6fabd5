package client

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
)

// Client-side environment variables. They are not PIER_<option> names
// of pier serve (PIER_CLIENT_ID would add an API client to a daemon
// started from the same shell), so a shell can hold both.
const (
	EnvURL          = "PIER_URL"
	EnvContext      = "PIER_CONTEXT"
	EnvConfig       = "PIER_CLI_CONFIG"
	EnvClientID     = "PIER_API_CLIENT_ID"
	EnvClientSecret = "PIER_API_CLIENT_SECRET"
)

// DefaultServer is where make run serves.
const DefaultServer = "http://127.0.0.1:8080"

// Config is the CLI's file of contexts (~/.config/pier/config), like
// kubectl's: a named server with the credentials to use there, one of
// them current.
type Config struct {
	CurrentContext string    `yaml:"current-context,omitempty"`
	Contexts       []Context `yaml:"contexts,omitempty"`
}

// Context is one server and the API client to reach it as.
type Context struct {
	Name         string `yaml:"name"`
	Server       string `yaml:"server"`
	ClientID     string `yaml:"clientId,omitempty"`
	ClientSecret string `yaml:"clientSecret,omitempty"`
	// Token is the last access token the client was given, kept so that
	// each command does not exchange the secret again: the server limits
	// token exchanges per address (--token-rate-limit, 0.2 a second).
	Token        string    `yaml:"token,omitempty"`
	TokenExpires time.Time `yaml:"tokenExpires,omitempty"`
}

// ConfigPath is $PIER_CLI_CONFIG, else ~/.config/pier/config.
func ConfigPath(getenv func(string) string) string {
	if p := getenv(EnvConfig); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = "."
	}
	return filepath.Join(dir, "pier", "config")
}

// LoadConfig reads the file at path; a missing file is an empty config.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, err
	}
	var c Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, ctx := range c.Contexts {
		if ctx.Name == "" || ctx.Server == "" {
			return nil, fmt.Errorf("%s: contexts[%d]: a context needs a name and a server", path, i)
		}
	}
	return &c, nil
}

// Save writes the config readable by its owner only: it holds secrets.
func (c *Config) Save(path string) error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Find returns the named context.
func (c *Config) Find(name string) (*Context, bool) {
	i := slices.IndexFunc(c.Contexts, func(x Context) bool { return x.Name == name })
	if i < 0 {
		return nil, false
	}
	return &c.Contexts[i], true
}

// Set adds or replaces a context by name.
func (c *Config) Set(ctx Context) {
	if old, ok := c.Find(ctx.Name); ok {
		*old = ctx
		return
	}
	c.Contexts = append(c.Contexts, ctx)
}

// Target is what a command connects to and as whom, resolved from flags,
// the environment and the config file.
type Target struct {
	Context      string // empty when no context applies
	Server       string
	ClientID     string
	ClientSecret string
	// Token is the context's cached token, when it is for this server
	// and client and has a minute left.
	Token string
}

// Resolve picks the server and credentials: --server, then $PIER_URL,
// then the context (--context, $PIER_CONTEXT, the current one), then
// make run's address; credentials from $PIER_API_CLIENT_ID/SECRET, else
// the context's. A named context that does not exist is an error.
func (c *Config) Resolve(server, context string, getenv func(string) string) (Target, error) {
	var t Target
	name := cmp.Or(context, getenv(EnvContext), c.CurrentContext)
	if name != "" {
		ctx, ok := c.Find(name)
		if !ok {
			if context != "" || getenv(EnvContext) != "" {
				return t, fmt.Errorf("no context %q in the config file (pier login --context %s adds it)", name, name)
			}
		} else {
			t = Target{Context: ctx.Name, Server: ctx.Server, ClientID: ctx.ClientID, ClientSecret: ctx.ClientSecret}
		}
	}
	own := t.Server
	t.Server = cmp.Or(server, getenv(EnvURL), t.Server, DefaultServer)
	if id := getenv(EnvClientID); id != "" {
		t.ClientID, t.ClientSecret = id, getenv(EnvClientSecret)
	}
	if ctx, ok := c.Find(t.Context); ok && ctx.Token != "" && ctx.ClientID == t.ClientID && own == t.Server && time.Until(ctx.TokenExpires) > time.Minute {
		t.Token = ctx.Token
	}
	return t, nil
}
