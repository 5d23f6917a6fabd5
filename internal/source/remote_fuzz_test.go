package source

import (
	"net/url"
	"strings"
	"testing"
)

func TestParseRemote(t *testing.T) {
	for _, tc := range []struct {
		raw, display, protocol, user, password string
	}{
		{"https://github.com/acme/catalog.git", "https://github.com/acme/catalog.git", "https", "", ""},
		{"https://x-access-token:tok3n@github.com/acme/catalog", "https://github.com/acme/catalog", "https", "x-access-token", "tok3n"},
		{"https://ghp_abc@github.com/acme/catalog", "https://github.com/acme/catalog", "https", "ghp_abc", ""},
		{"http://127.0.0.1:8080/r.git", "http://127.0.0.1:8080/r.git", "http", "", ""},
		{"ssh://git@github.com:22/acme/catalog.git", "ssh://git@github.com:22/acme/catalog.git", "ssh", "", ""},
		{"git@github.com:acme/catalog.git", "git@github.com:acme/catalog.git", "ssh", "", ""},
		{"git://example.com/catalog", "git://example.com/catalog", "git", "", ""},
		{"file:///srv/git/catalog.git", "/srv/git/catalog.git", "file", "", ""},
		{"/srv/git/catalog.git", "/srv/git/catalog.git", "file", "", ""},
	} {
		r, err := parseRemote(tc.raw)
		if err != nil {
			t.Errorf("%s: %v", tc.raw, err)
			continue
		}
		if r.display != tc.display || r.endpoint.Protocol != tc.protocol || r.user != tc.user || r.password != tc.password {
			t.Errorf("%s: %q %s %q %q, want %q %s %q %q", tc.raw, r.display, r.endpoint.Protocol, r.user, r.password, tc.display, tc.protocol, tc.user, tc.password)
		}
		if r.endpoint.Password != "" {
			t.Errorf("%s: the endpoint carries the password", tc.raw)
		}
	}
	for _, raw := range []string{"", "ftp://h/r", "https:///path", "ssh://u:pw@h/r", "u:pw@host:org/repo", "file://otherhost/r"} {
		if _, err := parseRemote(raw); err == nil {
			t.Errorf("%q parsed", raw)
		}
	}
}

// FuzzParseRemote checks that whatever URL parseRemote accepts, what it
// shows carries no password, and that an error about an HTTP URL with a
// password never repeats it.
func FuzzParseRemote(f *testing.F) {
	f.Add("https://x-access-token:tok3n@github.com/acme/catalog")
	f.Add("https://x:p%40ss@host:8443/a/b?c=d#e")
	f.Add("git@github.com:acme/catalog.git")
	f.Add("ssh://git@host/path")
	f.Add("file:///tmp/x")
	f.Add("./relative/path")
	f.Add("https://u:p@[::1]:80/x")
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := parseRemote(raw)
		u, uerr := url.Parse(raw)
		secret := ""
		if uerr == nil && u.User != nil {
			secret, _ = u.User.Password()
		}
		if err != nil {
			if len(secret) >= 4 && strings.Contains(err.Error(), secret) && !strings.Contains(strings.Replace(raw, secret, "", 1), secret) {
				t.Fatalf("error %q repeats the password of %q", err, raw)
			}
			return
		}
		if d, err := url.Parse(r.display); err == nil && d.User != nil {
			if _, ok := d.User.Password(); ok {
				t.Fatalf("display %q of %q carries a password", r.display, raw)
			}
		}
		if r.endpoint.Password != "" {
			t.Fatalf("endpoint of %q carries a password", raw)
		}
	})
}
