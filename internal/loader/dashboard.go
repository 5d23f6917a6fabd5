package loader

import (
	"fmt"
	"strconv"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/schema"
)

// dashboards checks the web portal's dashboards: their shape against
// #Dashboard, then that every widget's id is unique in its dashboard and
// that its dataset and the dashboard's filters are queries the engine
// compiles ({{ user.* }} values are templates filled in per viewer, and
// compile as text here). Each error is at its widget's position.
func (a *assembly) dashboards() {
	for _, o := range a.sorted(catalog.KindDashboardObj) {
		path := objectPath(o.key)
		if !a.shape(schema.Dashboard, path, o.node) {
			continue
		}
		d := &catalog.Dashboard{}
		if !a.decode(o, d) {
			continue
		}
		d.Identifier = o.key.ID
		ok := true
		seen := map[string]int{}
		for i, w := range d.Widgets {
			at := []string{"widgets", strconv.Itoa(i)}
			if j, dup := seen[w.ID]; dup {
				n := lookup(o.node, append(at, "id"))
				a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: joinPath(path, append(at, "id")), Kind: catalog.KindShape,
					Message: fmt.Sprintf("widget id %q is used by widgets[%d] already", w.ID, j)})
				ok = false
				continue
			}
			seen[w.ID] = i
			if _, err := query.Compile(w.Dataset); err != nil {
				n := lookup(o.node, append(at, "dataset"))
				a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: joinPath(path, append(at, "dataset")), Kind: catalog.KindShape, Message: err.Error()})
				ok = false
			}
		}
		if len(d.Filters) > 0 {
			if _, err := query.Compile(catalog.Query{Combinator: "and", Rules: d.Filters}); err != nil {
				n := lookup(o.node, []string{"filters"})
				a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: path + ".filters", Kind: catalog.KindShape, Message: err.Error()})
				ok = false
			}
		}
		if !ok {
			continue
		}
		a.cat.Dashboards[o.key.ID] = d
		a.addObject(o, d)
	}
}
