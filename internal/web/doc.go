// Package web is pier's portal: the pages people use in a browser,
// served by `pier serve` at / beside the API (/v1).
//
// It is shaped like miniflux's UI: one small handler per page (one file
// each: home.go, catalog.go, entity.go, action.go, run.go, ...), each
// building one view model and rendering one template; the templates and
// assets are embedded in the binary (templates/, static/), with no
// JavaScript build step. Pages are complete without script; app.js only
// improves them (live run logs over server-sent events, the entity
// picker, conditional form fields) and degrades to plain links and forms.
//
// A page is built from what the API uses, never from the API itself:
// the state holder (internal/state), the search (internal/search), the
// run engine (internal/runs, whose input validator and vote rule the
// forms and buttons ask), and the one permission check (identity.Rights
// turning a person into access.Grants). No page calls pier over HTTP and
// no rule is written twice.
//
// Safety: html/template escapes every value; the Content-Security-Policy
// allows scripts, styles and connections from pier only (no inline
// script or style: colours are classes, charts are SVG attributes);
// every form carries the session's CSRF token, checked by the same
// identity.CheckCSRF the API applies; pages never show secrets (the
// catalog's secret templates are not rendered, run inputs are shown as
// the run keeps them).
package web
