// Package examples holds real webhook payloads as GitHub sends them, for
// tests of the webhook handlers and of what pier does with each event.
//
// They come from the octokit/webhooks project
// (payload-examples/api.github.com/<event>/<action>.payload.json, MIT
// licence, copyright 2018 Gregor Martynus), named <event>.<action>.json:
// the event is what GitHub sends in X-GitHub-Event. Tests change only
// the fields they need (ids, state, ref, SHAs). Note that
// pull_request_review.submitted.json says "state": "commented"; GitHub
// sends approved, changes_requested, commented or dismissed (lower case
// in webhooks, upper case in the REST API).
//
// They are embedded so that a fresh clone tests on its own.
package examples

import (
	"embed"
	"fmt"
)

//go:embed *.json
var files embed.FS

// Load returns the example payload name ("push.json"); it panics on a
// name that is not here, a mistake in the test.
func Load(name string) []byte {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("githubfake/examples: no example %q", name))
	}
	return b
}
