// Package catalog holds the typed catalog that every other part of pier
// works on: blueprints, entities, actions, scorecards and automations as
// Port shapes them, plus the diagnostics a catalog author reads when a
// revision is wrong.
//
// The types are plain data with JSON tags matching Port's REST bodies, so
// the same value is what the loader produces, what the store persists and
// what the API serves. Nothing here evaluates CUE or touches the disk; the
// loader (internal/loader) builds a Catalog and the reconciler consumes it.
package catalog
