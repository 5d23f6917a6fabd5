package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/internal/search"
	"github.com/pierhq/pier/internal/state"
)

// dashboardsView lists the catalog's dashboards.
type dashboardsView struct {
	Dashboards []navLink
}

func (s *Server) dashboardsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	var view dashboardsView
	for _, id := range sortedKeys(v.snap.Dashboards) {
		d := v.snap.Dashboards[id]
		view.Dashboards = append(view.Dashboards, navLink{URL: "/dashboards/" + url.PathEscape(id), Title: titleOr(d.Title, id)})
	}
	s.render(w, r, v, http.StatusOK, "dashboards", "Dashboards", "dashboards", view)
}

// dashboardView is one dashboard, each widget computed over the entities
// the visitor may read, with {{ user.* }} filled in for them.
type dashboardView struct {
	Dashboard *catalog.Dashboard
	Widgets   []widgetView
	Filters   []string
}

type widgetView struct {
	Title, Type, Description, Error string
	// number
	Number, Caption string
	// pie-chart
	Pie pieChart
	// line-chart
	Line lineChart
	// table
	Columns []string
	Rows    []catalogRow
	More    int
	Total   int
}

func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request, v *visit) {
	id := r.PathValue("id")
	d := v.snap.Dashboards[id]
	if d == nil {
		s.fail(w, r, v, http.StatusNotFound, fmt.Sprintf("There is no dashboard %q.", id))
		return
	}
	view := dashboardView{Dashboard: d}
	sub := v.grants.Subject()
	var filters []catalog.Rule
	for _, f := range d.Filters {
		filled, err := access.FillRule(f, sub)
		if err != nil {
			view.Filters = append(view.Filters, "filter on "+f.Property+" left out: "+err.Error())
			continue
		}
		filters = append(filters, filled)
		view.Filters = append(view.Filters, fmt.Sprintf("%s %s %s", f.Property, f.Operator, showValue(f.Value)))
	}
	view.Widgets = s.widgets.get(widgetKey{v.snap, id, v.grants, s.opts.Now().UTC().Format(time.DateOnly)}, func() []widgetView {
		out := make([]widgetView, 0, len(d.Widgets))
		for _, wd := range d.Widgets {
			out = append(out, s.widget(v, wd, filters))
		}
		return out
	})
	s.render(w, r, v, http.StatusOK, "dashboard", titleOr(d.Title, id), "dashboards", view)
}

// widget computes one widget.
func (s *Server) widget(v *visit, wd catalog.Widget, filters []catalog.Rule) widgetView {
	out := widgetView{Title: titleOr(wd.Title, wd.ID), Type: wd.Type, Description: wd.Description}
	q := catalog.Query{Combinator: wd.Dataset.Combinator}
	for _, rule := range wd.Dataset.Rules {
		filled, err := access.FillRule(rule, v.grants.Subject())
		if err != nil {
			out.Error = err.Error()
			return out
		}
		q.Rules = append(q.Rules, filled)
	}
	if q.Combinator == "" {
		q.Combinator = "and"
	}
	// A dashboard filter narrows the widgets whose entities have its
	// property (the seed's team filter, on a dataset of incidents with
	// an assigned_team instead, does not apply).
	for _, f := range filters {
		if applies(v.snap, q, f) {
			q = search.Restrict(q, f)
		}
	}
	list, err := search.Entities(v.snap, q, v.grants.Filter(access.Read, access.Entity), s.opts.Now, 0)
	if err != nil {
		out.Error = "The dataset does not compile: " + err.Error()
		return out
	}
	out.Total = len(list)
	switch wd.Type {
	case "number":
		out.Number, out.Caption = number(v, list, wd)
	case "pie-chart":
		counts := map[string]int{}
		for _, e := range list {
			vals := groupValues(v.snap, e, wd.Property)
			if len(vals) == 0 {
				vals = []string{"(none)"}
			}
			for _, x := range vals {
				counts[x]++
			}
		}
		keys := sortedKeys(counts)
		sort.SliceStable(keys, func(i, j int) bool { return counts[keys[i]] > counts[keys[j]] })
		var bars []bar
		other := 0
		for i, k := range keys {
			if i >= 9 {
				other += counts[k]
				continue
			}
			bars = append(bars, bar{Label: k, Value: float64(counts[k])})
		}
		if other > 0 {
			bars = append(bars, bar{Label: "other", Value: float64(other), Color: "gray"})
		}
		out.Pie = newPieChart(bars)
	case "line-chart":
		days := timeframeDays(wd.Timeframe)
		now := s.opts.Now().UTC()
		start := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -days+1)
		counts := make([]float64, days)
		labels := make([]string, days)
		for i := range labels {
			labels[i] = start.AddDate(0, 0, i).Format("Jan 2")
		}
		for _, e := range list {
			t, ok := timeOf(e, wd.Property)
			if !ok || t.Before(start) {
				continue
			}
			if i := int(t.Sub(start).Hours() / 24); i >= 0 && i < days {
				counts[i]++
			}
		}
		out.Line = newLineChart(labels, counts)
	case "table":
		out.Columns = wd.Columns
		cols := make([]column, len(wd.Columns))
		for i, c := range wd.Columns {
			cols[i] = column{Key: c, Title: c, Kind: "property"}
		}
		for i, e := range list {
			if i == 50 {
				out.More = len(list) - 50
				break
			}
			row := s.catalogRow(v, cols, e)
			for j, c := range wd.Columns {
				if c == "title" && e.Properties["title"] == nil {
					row.Cells[j].Text = titleOr(e.Title, e.Identifier)
				}
			}
			out.Rows = append(out.Rows, row)
		}
	}
	return out
}

// applies reports whether a dashboard filter narrows a dataset: its
// blueprints (those the dataset names, or all) have the filter's
// property or relation.
func applies(snap *state.Snapshot, q catalog.Query, f catalog.Rule) bool {
	if f.Property == "" || strings.HasPrefix(f.Property, "$") {
		return true
	}
	cq, err := query.Compile(q)
	if err != nil {
		return false
	}
	bps := cq.Blueprints()
	if bps == nil {
		bps = sortedKeys(snap.Blueprints)
	}
	for _, bp := range bps {
		b := snap.Blueprints[bp]
		if b == nil {
			continue
		}
		_, p := b.Schema.Properties[f.Property]
		_, rel := b.Relations[f.Property]
		if p || rel {
			return true
		}
	}
	return false
}

// groupValues are the values a pie chart files e under.
func groupValues(snap *state.Snapshot, e *state.Entity, prop string) []string {
	switch prop {
	case "$team":
		return e.Team
	case "$blueprint":
		return []string{e.Blueprint}
	case "", "$identifier":
		return []string{e.Identifier}
	}
	v, ok := query.Lookup(&query.Entity{Entity: e.Git, Runtime: e.Runtime}, prop)
	if !ok || v == nil {
		return nil
	}
	if list, ok := v.([]any); ok {
		var out []string
		for _, x := range list {
			out = append(out, showValue(x))
		}
		return out
	}
	return []string{showValue(v)}
}

func timeOf(e *state.Entity, prop string) (time.Time, bool) {
	switch prop {
	case "$createdAt", "":
		return e.CreatedAt, !e.CreatedAt.IsZero()
	case "$updatedAt":
		return e.UpdatedAt, !e.UpdatedAt.IsZero()
	}
	s, ok := e.Properties[prop].(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

func timeframeDays(tf string) int {
	switch tf {
	case "last7days":
		return 7
	case "last14days":
		return 14
	case "last90days":
		return 90
	case "lastYear":
		return 365
	}
	return 30
}

// number reduces the widget's property over list by its calculation. A
// scorecard level ($scorecard.<id>.level) counts as its rank, 0 for the
// lowest level, and the caption names the level the result rounds to.
func number(v *visit, list []*state.Entity, wd catalog.Widget) (string, string) {
	calc := wd.Calculation
	if calc == "" || calc == "count" || wd.Property == "" {
		return fmt.Sprint(len(list)), "entities"
	}
	var card *catalog.Scorecard
	if id, ok := strings.CutPrefix(wd.Property, "$scorecard."); ok {
		card = v.snap.Scorecards[strings.TrimSuffix(id, ".level")]
	}
	var xs []float64
	for _, e := range list {
		if card != nil {
			res, ok := v.snap.Scores.Results[catalog.Key{Kind: catalog.KindEntityObj, Blueprint: e.Blueprint, ID: e.Identifier}].Lookup(card.Identifier)
			if ok {
				xs = append(xs, float64(res.LevelIndex))
			}
			continue
		}
		if f, ok := query.Float(e.Properties[wd.Property]); ok {
			xs = append(xs, f)
		}
	}
	if len(xs) == 0 {
		return "—", "no values"
	}
	slices.Sort(xs)
	var r float64
	switch calc {
	case "sum":
		for _, x := range xs {
			r += x
		}
	case "average":
		for _, x := range xs {
			r += x
		}
		r /= float64(len(xs))
	case "min":
		r = xs[0]
	case "max":
		r = xs[len(xs)-1]
	case "median":
		r = xs[len(xs)/2]
		if len(xs)%2 == 0 {
			r = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
		}
	}
	caption := fmt.Sprintf("%s of %d entities", calc, len(xs))
	if card != nil {
		levels := levelsOfCard(v.snap, card)
		i := int(r + 0.5)
		if i >= 0 && i < len(levels) {
			caption = fmt.Sprintf("%s level (0 = %s), about %s, over %d entities", calc, levels[0].Title, levels[i].Title, len(xs))
		}
	}
	return num(r), caption
}

// widgetKey names what a dashboard's widgets depend on: the snapshot,
// the viewer's grants (one per subject and snapshot, cached by the
// policy) and the day (line charts count days).
type widgetKey struct {
	snap   *state.Snapshot
	id     string
	grants *access.Grants
	day    string
}

// widgetCache keeps the widgets of the last few dashboards shown: each
// widget searches the whole catalog, and a dashboard is looked at far
// more often than its revision changes.
type widgetCache struct {
	mu   sync.Mutex
	keys []widgetKey
	vals map[widgetKey][]widgetView
}

func (c *widgetCache) get(k widgetKey, build func() []widgetView) []widgetView {
	c.mu.Lock()
	if v, ok := c.vals[k]; ok {
		c.mu.Unlock()
		return v
	}
	c.mu.Unlock()
	v := build()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.vals == nil {
		c.vals = map[widgetKey][]widgetView{}
	}
	if _, ok := c.vals[k]; !ok {
		if len(c.keys) >= 32 {
			delete(c.vals, c.keys[0])
			c.keys = c.keys[1:]
		}
		c.keys = append(c.keys, k)
		c.vals[k] = v
	}
	return v
}
