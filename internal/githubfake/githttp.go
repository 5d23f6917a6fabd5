package githubfake

import (
	"io"
	"net/http"
	"strings"
)

// GitHTTP puts github.com's authentication of git over HTTPS in front of
// next, a git smart-HTTP server (git http-backend, in tests): the fake's
// repositories are made-up commits that git cannot fetch, so a test
// serves real ones and lets the fake decide who may fetch them. Paths are
// /{owner}/{repo}.git/...; the repository must have been added.
//
// As on GitHub, the password of Basic authentication is the token (the
// user name is not checked; git tools send x-access-token): RequireToken's
// token, or an unexpired installation token of an installation that holds
// the repository. Without credentials, or with a token GitHub would not
// take, the answer is 401 with a Basic challenge; a repository the token
// may not see is 404. Requests are recorded with the API's.
func (f *Fake) GitHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		owner, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		name, _, _ := strings.Cut(rest, "/")
		name = strings.TrimSuffix(name, ".git")
		_, password, _ := r.BasicAuth()

		f.mu.Lock()
		f.requests = append(f.requests, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone()})
		who, refused := f.credential(password)
		rp := f.repo(owner, name)
		if rp != nil && who.inst != nil && !who.inst.holds(rp) {
			rp = nil
		}
		f.mu.Unlock()

		switch {
		case refused != nil:
			w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "remote: Invalid username or token. Password authentication is not supported for Git operations.\n")
		case rp == nil:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "Repository not found.\n")
		default:
			next.ServeHTTP(w, r)
		}
	})
}
