package main

import (
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/pierhq/pier/internal/api"
	"github.com/pierhq/pier/internal/identity"
	"github.com/pierhq/pier/internal/web"
)

// portal builds the web portal over the daemon's state, store and run
// engine, with the API's people: the same sessions and the same rule of
// who may do what.
func (d *daemon) portal(people *api.People) (*web.Server, error) {
	opts := web.Options{
		State: d.holder, Store: d.store, Runs: d.runs.engine, Status: d.loop.Status,
		Sessions: people.Sessions, Rights: &identity.Rights{Directory: people.Directory, Admins: people.Admins},
		AnonymousReads: d.cfg.AnonymousReads, Logger: d.log.With("component", "web"),
	}
	if d.owner != "" && d.repo != "" {
		base := strings.TrimSuffix(d.cfg.GitHubWebURL, "/") + "/" + url.PathEscape(d.owner) + "/" + url.PathEscape(d.repo)
		opts.FileURL = func(rev, file string, line int) string {
			u := base + "/blob/" + url.PathEscape(rev) + "/" + (&url.URL{Path: path.Join(d.cfg.Path, file)}).EscapedPath()
			if line > 0 {
				u += fmt.Sprintf("#L%d", line)
			}
			return u
		}
		opts.CommitURL = func(rev string) string { return base + "/commit/" + url.PathEscape(rev) }
	}
	return web.New(opts)
}
