package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/pierhq/pier/internal/store"
)

// Every listing that pages reads ?limit and its cursor with readPage and
// answers with writePage (entities, whose answer is assembled from cached
// bytes, with writeEntities), so that a bad value is the same 400 on every
// listing and an empty page is [], never null.

// pageRule is how a listing pages.
type pageRule struct {
	cursor    string // the cursor's query parameter
	def, most int    // the page size without ?limit, and the largest
	// numbered listings page by row number (a positive integer); the
	// others by an item's id, which must exist.
	numbered bool
}

var (
	// numberedPages: the audit log and level histories, newest first.
	numberedPages = pageRule{cursor: "before", def: 100, most: 1000, numbered: true}
	// idPages: runs and webhook deliveries, newest first.
	idPages = pageRule{cursor: "before", def: 100, most: 1000}
	// entityPages: a blueprint's entities, in identifier order from
	// any string.
	entityPages = pageRule{cursor: "from", def: maxPage, most: maxPage}
)

// page is one request's page of a listing.
type page struct {
	rule   pageRule
	limit  int
	cursor string // "" from the start
	number int64  // the cursor of a numbered listing
}

// readPage reads ?limit — a non-negative integer, clamped to 1 .. most —
// and the cursor, which is what the listing's previous page answered as
// next.
func readPage(r *http.Request, rule pageRule) (page, error) {
	q := r.URL.Query()
	p := page{rule: rule, limit: rule.def, cursor: q.Get(rule.cursor)}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, fmt.Errorf("query parameter limit=%s is not a non-negative integer", quote(v))
		}
		p.limit = min(max(n, 1), rule.most)
	}
	if rule.numbered && p.cursor != "" {
		n, err := strconv.ParseInt(p.cursor, 10, 64)
		if err != nil || n <= 0 {
			return p, fmt.Errorf("query parameter %s=%s is not a positive integer; pass the next of the previous page", rule.cursor, quote(p.cursor))
		}
		p.number = n
	}
	return p, nil
}

// pageRequest reads the page a request asks for, answering a bad one.
func pageRequest(w http.ResponseWriter, r *http.Request, rule pageRule) (page, int, bool) {
	p, err := readPage(r, rule)
	if err != nil {
		return p, writeError(w, http.StatusBadRequest, "invalid_parameter", err.Error()), false
	}
	return p, 0, true
}

// failed answers a listing the store could not read: a cursor that
// names no item is the caller's mistake.
func (p page) failed(w http.ResponseWriter, err error) int {
	if errors.Is(err, store.ErrNotFound) {
		return writeError(w, http.StatusBadRequest, "invalid_parameter",
			fmt.Sprintf("query parameter %s=%s names nothing to page from; pass the next of the previous page", p.rule.cursor, quote(p.cursor)))
	}
	return storeError(w, err)
}

// writePage answers a page of items under key, with the cursor of the
// following page as next when the page is full.
func writePage[T any](w http.ResponseWriter, key string, items []T, p page, next func(T) string) int {
	items = nonNil(items)
	body := map[string]any{key: items}
	if len(items) == p.limit {
		body["next"] = next(items[len(items)-1])
	}
	return writeJSON(w, http.StatusOK, body)
}

// writeKept answers a page of which the caller may see only what keep
// keeps (nil: all). "next" continues after the page the store answered,
// not after the last item kept, so that paging goes over everything the
// caller may see however sparse it is.
func writeKept[T, V any](w http.ResponseWriter, key string, fetched []T, keep func(T) bool, view func(T) V, p page, next func(T) string) int {
	kept := make([]V, 0, len(fetched))
	for _, it := range fetched {
		if keep == nil || keep(it) {
			kept = append(kept, view(it))
		}
	}
	body := map[string]any{key: kept}
	if len(fetched) == p.limit {
		body["next"] = next(fetched[len(fetched)-1])
	}
	return writeJSON(w, http.StatusOK, body)
}

// nonNil is list, or an empty list for nil: a listing answers [] when it
// has nothing, never null.
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}
