package github

import "testing"

func TestParseRepoURL(t *testing.T) {
	for _, tc := range []struct {
		url         string
		owner, repo string
		ok          bool
	}{
		{"https://github.com/octo-org/catalog", "octo-org", "catalog", true},
		{"https://github.com/octo-org/catalog.git", "octo-org", "catalog", true},
		{"https://github.com/octo-org/catalog/", "octo-org", "catalog", true},
		{"https://github.com/Octo-Org/my.catalog_v2.git", "Octo-Org", "my.catalog_v2", true},
		{"http://github.com/o/r", "o", "r", true},
		{"https://x-access-token:ghs_abc@github.com/o/r.git", "o", "r", true},
		{"https://GitHub.com/o/r", "o", "r", true},
		{"  https://github.com/o/r\n", "o", "r", true},
		{"git@github.com:octo-org/catalog.git", "octo-org", "catalog", true},
		{"git@github.com:octo-org/catalog", "octo-org", "catalog", true},
		{"github.com:o/r.git", "o", "r", true},
		{"ssh://git@github.com/octo-org/catalog", "octo-org", "catalog", true},
		{"ssh://git@github.com/octo-org/catalog.git", "octo-org", "catalog", true},
		{"ssh://git@github.com:22/o/r.git", "o", "r", true},
		{"ssh://git@ssh.github.com:443/o/r.git", "o", "r", true},
		{"git://github.com/o/r.git", "o", "r", true},

		// Not a repository on a known host.
		{"https://gitlab.com/o/r", "", "", false},
		{"git@ghe.example.com:o/r.git", "", "", false},
		{"https://github.com.evil.com/o/r", "", "", false},
		{"https://github.com/o", "", "", false},
		{"https://github.com/o/r/tree/main", "", "", false},
		{"https://github.com/o/r/pulls", "", "", false},
		{"https://github.com/o/r?tab=readme", "", "", false},
		{"https://github.com//r", "", "", false},
		{"https://github.com/o/..", "", "", false},
		{"ftp://github.com/o/r", "", "", false},
		{"file:///srv/git/o/r", "", "", false},
		{"/srv/git/o/r", "", "", false},
		{"../catalog", "", "", false},
		{"o/r", "", "", false},
		{"", "", "", false},
	} {
		owner, repo, ok := ParseRepoURL(tc.url)
		if owner != tc.owner || repo != tc.repo || ok != tc.ok {
			t.Errorf("ParseRepoURL(%q) = %q, %q, %v; want %q, %q, %v", tc.url, owner, repo, ok, tc.owner, tc.repo, tc.ok)
		}
	}
}

func TestParseRepoURLEnterprise(t *testing.T) {
	c, err := New(Options{BaseURL: "https://ghe.example.com/api/v3"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://ghe.example.com/platform/catalog.git", true},
		{"git@ghe.example.com:platform/catalog.git", true},
		{"ssh://git@ghe.example.com:7999/platform/catalog", true},
		{"https://GHE.example.com/platform/catalog", true},
		{"https://github.com/platform/catalog", true}, // github.com is always known
		{"https://ghe.example.org/platform/catalog", false},
		{"https://example.com/platform/catalog", false},
	} {
		owner, repo, ok := c.ParseRepoURL(tc.url)
		if ok != tc.ok || ok && (owner != "platform" || repo != "catalog") {
			t.Errorf("ParseRepoURL(%q) = %q, %q, %v; want ok %v", tc.url, owner, repo, ok, tc.ok)
		}
	}
	// Hosts given with a port match any port.
	if _, _, ok := ParseRepoURL("git@ghe.example.com:o/r.git", "ghe.example.com:8443"); !ok {
		t.Error("host with port not matched")
	}
}
