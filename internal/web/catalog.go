package web

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/internal/search"
	"github.com/pierhq/pier/internal/state"
)

// pageSize is how many rows a catalog page shows.
const pageSize = 50

// column is one column of a blueprint's table.
type column struct {
	Key, Title string
	// Kind is "property", "computed" or "relation".
	Kind   string
	Target string // a relation's target blueprint
	Enum   []string
	Colors map[string]string
}

// columns are a blueprint's columns: its schema properties in the order
// the author wrote them (alphabetical for a state restored from the store,
// until the next load), its computed properties, then its relations.
func columns(snap *state.Snapshot, b *catalog.Blueprint) []column {
	var out []column
	seen := map[string]bool{}
	prop := func(name string) {
		p, ok := b.Schema.Properties[name]
		if !ok || seen[name] {
			return
		}
		seen[name] = true
		c := column{Key: name, Title: titleOr(p.Title, name), Kind: "property", Colors: p.EnumColors}
		if p.Calculation != nil {
			c.Kind = "computed"
		}
		for _, e := range p.Enum {
			if s, ok := e.(string); ok {
				c.Enum = append(c.Enum, s)
			}
		}
		out = append(out, c)
	}
	for _, f := range snap.Fields(catalog.Key{Kind: catalog.KindBlueprintObj, ID: b.Identifier}) {
		prop(f.Name)
	}
	for _, name := range sortedKeys(b.Schema.Properties) {
		prop(name)
	}
	computed := map[string]string{}
	for k, p := range b.MirrorProperties {
		computed[k] = titleOr(p.Title, k)
	}
	for k, p := range b.CalculationProperties {
		computed[k] = titleOr(p.Title, k)
	}
	for k, p := range b.AggregationProperties {
		computed[k] = titleOr(p.Title, k)
	}
	for _, k := range sortedKeys(computed) {
		if !seen[k] {
			out = append(out, column{Key: k, Title: computed[k], Kind: "computed"})
		}
	}
	for _, k := range sortedKeys(b.Relations) {
		rel := b.Relations[k]
		out = append(out, column{Key: k, Title: titleOr(rel.Title, k), Kind: "relation", Target: rel.Target})
	}
	return out
}

// catalogView is one page of a blueprint's table.
type catalogView struct {
	Blueprint  *catalog.Blueprint
	Columns    []column
	Header     []header
	Rows       []catalogRow
	Total      int
	Page       int
	Pages      int
	Prev, Next string
	// The filter, as the URL carries it.
	Text    string
	Query   string
	Filters []enumFilter
	Sort    string
	Desc    bool
	Error   string
	Create  []navLink
	Active  bool // some filter is set
}

type header struct {
	Title, URL, Sort string // Sort: aria-sort's value
}

type enumFilter struct {
	Key, Title string
	Values     []string
	Selected   string
}

type catalogRow struct {
	Link  entityLink
	Cells []cell
}

type cell struct {
	Text  string
	Color string
	Links []entityLink
}

func (s *Server) catalogPage(w http.ResponseWriter, r *http.Request, v *visit) {
	bp := r.PathValue("bp")
	b := v.snap.Blueprints[bp]
	if b == nil {
		s.fail(w, r, v, http.StatusNotFound, fmt.Sprintf("There is no blueprint %q.", bp))
		return
	}
	if !v.grants.Allows(access.Read, access.Blueprint, access.BlueprintView(b), nil) {
		s.fail(w, r, v, http.StatusForbidden, (&access.Denied{Subject: v.grants.Subject().Who(), Action: access.Read, Resource: access.Blueprint, Object: bp}).Error())
		return
	}
	q := r.URL.Query()
	view := catalogView{Blueprint: b, Columns: columns(v.snap, b), Text: strings.TrimSpace(q.Get("text")), Query: strings.TrimSpace(q.Get("query")),
		Sort: q.Get("sort"), Desc: q.Get("dir") == "desc"}
	cols := map[string]column{}
	for _, c := range view.Columns {
		cols[c.Key] = c
	}
	if view.Sort != "" && view.Sort != "$title" && view.Sort != "$identifier" {
		if _, ok := cols[view.Sort]; !ok {
			view.Sort = ""
		}
	}
	// Equality filters on enum properties (f.<property>=value); any
	// other f.<name> is a property of the blueprint too.
	var rules []catalog.Rule
	for _, c := range view.Columns {
		sel := q.Get("f." + c.Key)
		if len(c.Enum) > 0 {
			view.Filters = append(view.Filters, enumFilter{Key: c.Key, Title: c.Title, Values: c.Enum, Selected: sel})
		}
		if sel != "" && c.Kind != "relation" {
			rules = append(rules, catalog.Rule{Property: c.Key, Operator: "=", Value: sel})
		}
		if sel != "" && c.Kind == "relation" {
			rules = append(rules, catalog.Rule{Property: c.Key, Operator: "=", Value: sel})
		}
	}
	view.Active = view.Text != "" || view.Query != "" || len(rules) > 0
	var list []*state.Entity
	if view.Query != "" || len(rules) > 0 {
		qq := catalog.Query{Combinator: "and", Rules: append([]catalog.Rule{{Property: "$blueprint", Operator: "=", Value: bp}}, rules...)}
		if view.Query != "" {
			var user catalog.Query
			if err := json.Unmarshal([]byte(view.Query), &user); err != nil {
				view.Error = "The query is not JSON in the query language's shape: " + err.Error()
			} else {
				if user.Combinator == "" {
					user.Combinator = "and"
				}
				qq.Rules = append(qq.Rules, catalog.Rule{Combinator: user.Combinator, Rules: user.Rules})
			}
		}
		if view.Error == "" {
			found, err := search.Entities(v.snap, qq, v.grants.Filter(access.Read, access.Entity), s.opts.Now, 0)
			var qe *query.Error
			switch {
			case errors.As(err, &qe):
				view.Error = "The query does not compile: " + qe.Error()
			case err != nil:
				view.Error = "The query does not compile: " + err.Error()
			}
			list = found
		}
		if view.Sort != "" {
			list = sortedBy(list, view.Sort, view.Desc)
		} else if view.Desc {
			slices.Reverse(list)
		}
	} else {
		list = s.sorts.sorted(v.snap, bp, view.Sort, view.Desc)
		if v.readable != nil {
			kept := make([]*state.Entity, 0, len(list))
			for _, e := range list {
				if v.readable(e) {
					kept = append(kept, e)
				}
			}
			list = kept
		}
	}
	if view.Text != "" {
		needle := strings.ToLower(view.Text)
		kept := list[:0:0]
		for _, e := range list {
			if strings.Contains(strings.ToLower(e.Identifier), needle) || strings.Contains(strings.ToLower(e.Title), needle) {
				kept = append(kept, e)
			}
		}
		list = kept
	}
	view.Total = len(list)
	view.Pages = max(1, (len(list)+pageSize-1)/pageSize)
	view.Page = min(max(1, atoi(q.Get("page"))), view.Pages)
	start := (view.Page - 1) * pageSize
	for _, e := range list[start:min(start+pageSize, len(list))] {
		view.Rows = append(view.Rows, s.catalogRow(v, view.Columns, e))
	}
	link := func(change func(url.Values)) string {
		nq := url.Values{}
		for k, vs := range q {
			nq[k] = vs
		}
		change(nq)
		return "/catalog/" + url.PathEscape(bp) + "?" + nq.Encode()
	}
	if view.Page > 1 {
		view.Prev = link(func(nq url.Values) { nq.Set("page", strconv.Itoa(view.Page-1)) })
	}
	if view.Page < view.Pages {
		view.Next = link(func(nq url.Values) { nq.Set("page", strconv.Itoa(view.Page+1)) })
	}
	heads := append([]column{{Key: "$title", Title: "Title"}}, view.Columns...)
	for _, c := range heads {
		h := header{Title: c.Title}
		desc := false
		if view.Sort == c.Key || (view.Sort == "" && c.Key == "$title") {
			h.Sort = "ascending"
			if view.Desc {
				h.Sort = "descending"
			} else {
				desc = true
			}
		}
		key := c.Key
		if key == "$title" && view.Sort == "" {
			key = "" // the default order is by identifier
		}
		if c.Kind == "relation" {
			h.URL = ""
		} else {
			h.URL = link(func(nq url.Values) {
				nq.Del("page")
				if c.Key == "$title" {
					nq.Set("sort", "$title")
				} else {
					nq.Set("sort", key)
				}
				if desc {
					nq.Set("dir", "desc")
				} else {
					nq.Del("dir")
				}
			})
		}
		view.Header = append(view.Header, h)
	}
	for _, id := range sortedKeys(v.snap.Actions) {
		a := v.snap.Actions[id]
		if a.Trigger.BlueprintIdentifier == bp && (a.Trigger.Operation == "CREATE" || a.Trigger.Operation == "") &&
			v.grants.Allows(access.Execute, access.Action, access.ActionView(a), nil) {
			view.Create = append(view.Create, navLink{URL: "/actions/" + url.PathEscape(id), Title: titleOr(a.Title, id)})
		}
	}
	s.render(w, r, v, http.StatusOK, "catalog", titleOr(b.Title, bp), "catalog", view)
}

func (s *Server) catalogRow(v *visit, cols []column, e *state.Entity) catalogRow {
	row := catalogRow{Link: linkTo(v.snap, e), Cells: make([]cell, len(cols))}
	for i, c := range cols {
		if c.Kind == "relation" {
			for _, t := range catalog.Identifiers(e.Relations[c.Key]) {
				l := entityLink{URL: entityURL(c.Target, t), Title: t, Identifier: t, Blueprint: c.Target}
				if te := v.snap.Entity(c.Target, t); te != nil && v.canRead(te) {
					l.Title = titleOr(te.Title, t)
				}
				row.Cells[i].Links = append(row.Cells[i].Links, l)
			}
			continue
		}
		val := e.Properties[c.Key]
		row.Cells[i].Text = showValue(val)
		if sv, ok := val.(string); ok && c.Colors != nil {
			row.Cells[i].Color = colorClass(c.Colors[sv])
		}
	}
	return row
}

// sortCache keeps a few blueprints' entities sorted by a column, per
// snapshot: paging through a table sorted by a property at 20,000
// entities sorts once, not on every page.
type sortCache struct {
	mu   sync.Mutex
	max  int
	keys []sortKey
	vals map[sortKey][]*state.Entity
}

type sortKey struct {
	snap      *state.Snapshot
	bp, field string
	desc      bool
}

func newSortCache(max int) *sortCache {
	return &sortCache{max: max, vals: map[sortKey][]*state.Entity{}}
}

// sorted returns every entity of bp ordered by field ("" for identifier
// order), shared: callers must not modify it.
func (c *sortCache) sorted(snap *state.Snapshot, bp, field string, desc bool) []*state.Entity {
	k := sortKey{snap, bp, field, desc}
	c.mu.Lock()
	if v, ok := c.vals[k]; ok {
		c.mu.Unlock()
		return v
	}
	c.mu.Unlock()
	ids := snap.IDs(bp)
	list := make([]*state.Entity, len(ids))
	for i, id := range ids {
		list[i] = snap.Entities[bp][id]
	}
	if field != "" {
		list = sortedBy(list, field, desc)
	} else if desc {
		slices.Reverse(list)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.vals[k]; !ok {
		if len(c.keys) >= c.max {
			delete(c.vals, c.keys[0])
			c.keys = c.keys[1:]
		}
		c.keys = append(c.keys, k)
		c.vals[k] = list
	}
	return list
}

// sortedBy orders entities by a field, values missing last, ties by
// identifier; list is sorted in place.
func sortedBy(list []*state.Entity, field string, desc bool) []*state.Entity {
	val := func(e *state.Entity) any {
		switch field {
		case "$title":
			return strings.ToLower(titleOr(e.Title, e.Identifier))
		case "$identifier":
			return e.Identifier
		}
		if v, ok := e.Properties[field]; ok {
			return v
		}
		return nil
	}
	type keyed struct {
		e *state.Entity
		v any
	}
	ks := make([]keyed, len(list))
	for i, e := range list {
		ks[i] = keyed{e, val(e)}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		if a.v == nil || b.v == nil {
			switch {
			case a.v == nil && b.v == nil:
				return strings.Compare(a.e.Identifier, b.e.Identifier)
			case a.v == nil:
				return 1
			}
			return -1
		}
		c := compareValues(a.v, b.v)
		if desc {
			c = -c
		}
		return cmp.Or(c, strings.Compare(a.e.Identifier, b.e.Identifier))
	})
	for i := range ks {
		list[i] = ks[i].e
	}
	return list
}

// compareValues orders numbers as numbers, strings without case, and
// anything else by its text.
func compareValues(a, b any) int {
	fa, okA := query.Float(a)
	fb, okB := query.Float(b)
	if okA && okB {
		return cmp.Compare(fa, fb)
	}
	sa, okA := a.(string)
	sb, okB := b.(string)
	if okA && okB {
		return cmp.Or(strings.Compare(strings.ToLower(sa), strings.ToLower(sb)), strings.Compare(sa, sb))
	}
	return strings.Compare(showValue(a), showValue(b))
}
