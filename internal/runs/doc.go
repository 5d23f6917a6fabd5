// Package runs carries self-service action runs through their life:
// request → approval → dispatch → tracking → done.
//
// Every run lives in the store, and every step is a compare-and-swap
// write of the whole run (store.UpdateRun): two paths that want to move
// the same run — a review webhook and the expiry sweep, a workflow's
// report and a workflow_run webhook — never both win, and a step that
// lost re-reads the run and starts over. The engine keeps nothing in
// memory that a restart would lose; Recover picks every unfinished run up
// again.
//
// Dispatch is exactly once. Before calling GitHub (or the webhook) the
// engine records that it is dispatching; after the call it records the
// outcome. A run found with the first record and not the second was
// interrupted — a crash, a timeout with an unknown outcome — and the
// engine looks for the workflow run it may have started (by the run id,
// which every dispatch carries) before it would dispatch again. A webhook
// invocation cannot be looked for: an interrupted one fails rather than
// risk a second request. A run is never dispatched without an approval
// decision recorded first, and a pull request's approval is checked
// against its head commit once more just before the call.
package runs
