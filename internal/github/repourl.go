package github

import (
	"net/url"
	"strings"
)

// ParseRepoURL returns the owner and name of the repository at the git
// remote or web URL rawURL on github.com, or on one of hosts (GitHub
// Enterprise hosts, compared without their port). It accepts the forms
// people paste and git uses:
//
//	https://github.com/owner/repo(.git)(/)
//	git@github.com:owner/repo(.git)
//	ssh://git@github.com(:port)/owner/repo(.git)
//	git://github.com/owner/repo(.git)
//
// It is not ok for any other host, or for a URL that names more than a
// repository (.../tree/main): pier must not guess which repository was
// meant.
func ParseRepoURL(rawURL string, hosts ...string) (owner, repo string, ok bool) {
	host, path, ok := splitRemote(strings.TrimSpace(rawURL))
	if !ok || !knownHost(host, hosts) {
		return "", "", false
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	owner, repo, found := strings.Cut(path, "/")
	if !found || !validOwner(owner) || !validRepo(repo) {
		return "", "", false
	}
	return owner, repo, true
}

// ParseRepoURL is ParseRepoURL for github.com and the host of c's GitHub
// (a GitHub Enterprise Server, say).
func (c *Client) ParseRepoURL(rawURL string) (owner, repo string, ok bool) {
	return ParseRepoURL(rawURL, c.webHost)
}

// splitRemote splits a URL or an scp-like remote (user@host:path) into
// its host name and path.
func splitRemote(s string) (host, path string, ok bool) {
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil || u.RawQuery != "" || u.Fragment != "" {
			return "", "", false
		}
		switch u.Scheme {
		case "https", "http", "ssh", "git", "git+ssh", "ssh+git":
		default:
			return "", "", false
		}
		return u.Hostname(), u.Path, true
	}
	// scp-like syntax, as git defines it: no "://", and a colon before
	// any slash.
	hostPart, path, found := strings.Cut(s, ":")
	if !found || strings.Contains(hostPart, "/") {
		return "", "", false
	}
	if i := strings.LastIndex(hostPart, "@"); i >= 0 {
		hostPart = hostPart[i+1:]
	}
	return hostPart, path, hostPart != ""
}

func knownHost(host string, hosts []string) bool {
	host = strings.ToLower(host)
	switch host {
	case "github.com", "www.github.com", "ssh.github.com":
		return true
	}
	for _, h := range hosts {
		if h == "" {
			continue
		}
		if u, err := url.Parse("//" + h); err == nil && u.Hostname() != "" {
			h = u.Hostname()
		}
		if strings.EqualFold(host, h) {
			return true
		}
	}
	return false
}

// validOwner accepts GitHub user and organisation names: letters, digits
// and hyphens, plus the underscore of Enterprise Managed Users.
func validOwner(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// validRepo accepts GitHub repository names: letters, digits, '.', '-'
// and '_', but not "." or "..".
func validRepo(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
