package source

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// remote is a repository address with its credentials taken out, so that
// what is shown, logged and written to the clone's config never holds a
// secret.
type remote struct {
	// display is the address without a password: what errors and logs
	// show and what the clone's config records.
	display  string
	endpoint *transport.Endpoint
	// user and password come from the URL's user info, for HTTP.
	user, password string
}

// parseRemote reads a repository address: an http(s)://, ssh://, git://
// or file:// URL, an scp-like address (git@host:org/repo) or a local
// path. A relative path is made absolute, so a later change of working
// directory does not move the repository. Errors never repeat the
// address, which may hold a token.
func parseRemote(raw string) (remote, error) {
	if raw == "" {
		return remote{}, errors.New("repository URL is empty")
	}
	if !strings.Contains(raw, "://") {
		return parseSchemeless(raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL; keep only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return remote{}, fmt.Errorf("invalid repository URL: %v", err)
	}
	r := remote{}
	switch u.Scheme {
	case "http", "https":
		if u.User != nil {
			r.user = u.User.Username()
			r.password, _ = u.User.Password()
			u.User = nil
		}
	case "ssh", "git":
		if _, ok := u.User.Password(); ok {
			return remote{}, fmt.Errorf("invalid repository URL: %s URLs cannot carry a password", u.Scheme)
		}
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return remote{}, fmt.Errorf("invalid repository URL: file URL with host %q", u.Host)
		}
		return localRemote(u.Path)
	default:
		return remote{}, fmt.Errorf("invalid repository URL: unsupported scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return remote{}, errors.New("invalid repository URL: no host")
	}
	r.display = u.String()
	if r.endpoint, err = transport.NewEndpoint(r.display); err != nil {
		return remote{}, fmt.Errorf("invalid repository URL %s: %w", r.display, err)
	}
	return r, nil
}

// parseSchemeless reads an scp-like address or a local path, the two
// forms git accepts without a scheme.
func parseSchemeless(raw string) (remote, error) {
	ep, err := transport.NewEndpoint(raw)
	if err != nil {
		return remote{}, errors.New("invalid repository URL")
	}
	if ep.Protocol == "file" {
		return localRemote(raw)
	}
	// scp-like: [user@]host:path. Its user part may not hold a
	// password; the scp syntax has none.
	if strings.Contains(ep.User, ":") {
		return remote{}, errors.New("invalid repository URL: scp-like addresses cannot carry a password")
	}
	return remote{display: raw, endpoint: ep}, nil
}

func localRemote(p string) (remote, error) {
	if p == "" {
		return remote{}, errors.New("invalid repository URL: empty path")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return remote{}, fmt.Errorf("repository path %s: %w", p, err)
	}
	return remote{
		display:  abs,
		endpoint: &transport.Endpoint{Protocol: "file", Path: abs},
	}, nil
}

// isHTTP reports whether the address is fetched over HTTP(S).
func (r remote) isHTTP() bool {
	return r.endpoint.Protocol == "http" || r.endpoint.Protocol == "https"
}
