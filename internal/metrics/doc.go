// Package metrics owns every Prometheus metric pier exposes.
//
// Other packages never touch a collector: they call methods on *Metrics
// that say what happened (ReconcileDone, WebhookDelivery, FetchDone...),
// and this package decides how that becomes series. Keeping the
// declarations in one place keeps names, units, help texts and label sets
// consistent, and makes the label cardinality of the whole daemon
// reviewable in one package.
//
// # Shape
//
// Metrics holds one group of collectors per area (reconcile, source,
// webhook, http, github), each declared in its own file with a
// constructor that registers it. A new area — action runs, say — is one
// more file with one more group and one line in New.
//
// New builds a private prometheus.Registry rather than using the global
// default one, so tests can build as many as they like and nothing a
// library registers behind pier's back reaches the exposition.
//
// # Nil receiver
//
// Every method accepts a nil *Metrics and does nothing, so a component
// built without metrics (a test, a CLI command) needs no stub.
//
// # Labels
//
// Label values come from small, closed sets: reconcile results, diagnostic
// kinds, webhook results, API refusal reasons and limits, route patterns (never raw paths), HTTP status
// codes, blueprint identifiers. Callers must keep them that way; see each
// method's doc comment for what it expects.
package metrics
