package client

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestResolve(t *testing.T) {
	soon, later := time.Now().Add(30*time.Second), time.Now().Add(time.Hour)
	cfg := &Config{CurrentContext: "dev", Contexts: []Context{
		{Name: "dev", Server: "http://dev:8080", ClientID: "alice", ClientSecret: "a", Token: "tok-dev", TokenExpires: later},
		{Name: "prod", Server: "https://prod", ClientID: "bob", ClientSecret: "b", Token: "tok-prod", TokenExpires: soon},
	}}
	for _, tt := range []struct {
		name            string
		server, context string
		env             map[string]string
		want            Target
		err             string
	}{
		{name: "the current context", want: Target{Context: "dev", Server: "http://dev:8080", ClientID: "alice", ClientSecret: "a", Token: "tok-dev"}},
		{name: "--context; a token about to expire is not reused", context: "prod", want: Target{Context: "prod", Server: "https://prod", ClientID: "bob", ClientSecret: "b"}},
		{name: "PIER_CONTEXT", env: map[string]string{EnvContext: "prod"}, want: Target{Context: "prod", Server: "https://prod", ClientID: "bob", ClientSecret: "b"}},
		{name: "--server wins and the token stays with its server", server: "http://other", want: Target{Context: "dev", Server: "http://other", ClientID: "alice", ClientSecret: "a"}},
		{name: "PIER_URL", env: map[string]string{EnvURL: "http://env"}, want: Target{Context: "dev", Server: "http://env", ClientID: "alice", ClientSecret: "a"}},
		{name: "client from the environment", env: map[string]string{EnvClientID: "carol", EnvClientSecret: "c"}, want: Target{Context: "dev", Server: "http://dev:8080", ClientID: "carol", ClientSecret: "c"}},
		{name: "serve's variables are not the client's", env: map[string]string{"PIER_CLIENT_ID": "x", "PIER_CLIENT_SECRET": "y"}, want: Target{Context: "dev", Server: "http://dev:8080", ClientID: "alice", ClientSecret: "a", Token: "tok-dev"}},
		{name: "an unknown context", context: "nope", err: `no context "nope"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cfg.Resolve(tt.server, tt.context, func(k string) string { return tt.env[k] })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tt.want)
			}
		})
	}
	empty, _ := (&Config{}).Resolve("", "", func(string) string { return "" })
	if empty != (Target{Server: DefaultServer}) {
		t.Errorf("without a config: %+v", empty)
	}
}

func TestConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pier", "config")
	c, err := LoadConfig(path)
	if err != nil || len(c.Contexts) != 0 {
		t.Fatalf("a missing file: %v %v", c, err)
	}
	c.Set(Context{Name: "dev", Server: "http://a"})
	c.Set(Context{Name: "dev", Server: "http://b"})
	c.CurrentContext = "dev"
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	back, err := LoadConfig(path)
	if err != nil || fi.Mode().Perm() != 0o600 || len(back.Contexts) != 1 || back.Contexts[0].Server != "http://b" || back.CurrentContext != "dev" {
		t.Fatalf("round trip: %+v %v, mode %v", back, err, fi.Mode())
	}
	for _, bad := range []struct{ src, want string }{
		{"contexts: [{name: x}]", "contexts[0]: a context needs a name and a server"},
		{"contexts: {", "config"},
	} {
		os.WriteFile(path, []byte(bad.src), 0o600)
		if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: %v, want the file and %q", bad.src, err, bad.want)
		}
	}
}
