package reconciler

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/compute"
	"github.com/pierhq/pier/internal/loader"
)

// computed is what the reconciler keeps between revisions so that
// computed properties are re-evaluated only for the entities a change
// can affect.
type computed struct {
	plan     *compute.Plan
	planFrom string // the blueprints the plan was compiled from (see blueprintsKey)
	snap     *compute.Snapshot
	values   compute.Result
	merged   map[catalog.Key]merged
}

// merged is an entity with its computed values, and its canonical form.
type merged struct {
	src *catalog.Entity
	e   *catalog.Entity
	obj catalog.Object
}

// compute evaluates the revision's computed properties (mirror,
// calculation, formula, aggregation) and merges them into its entities,
// so that they are stored, diffed, kept in history and served like any
// property. A declaration that cannot be compiled (a cycle, bad jq, an
// unknown relation in a path) fails the revision; a value that cannot be
// computed for one entity is null and logged. Only the entities a change
// can affect are re-evaluated; the others keep their merged form, and
// with it their identity, which the state relies on to reuse views.
func (r *Reconciler) compute(res *loader.Result) (*loader.Result, catalog.Diagnostics) {
	if !hasComputed(res.Catalog) {
		r.comp = nil
		clear(r.pending)
		return res, nil
	}
	prev := r.comp
	from := blueprintsKey(res.Objects)
	c := &computed{planFrom: from}
	if prev != nil && prev.planFrom == from {
		c.plan = prev.plan
	} else {
		plan, err := compute.Compile(res.Catalog)
		if err != nil {
			return nil, computeDiagnostics(err, res)
		}
		c.plan, prev = plan, nil // a new plan: evaluate everything
	}
	c.snap = c.plan.Bind(res.Catalog)
	var errs []error
	if prev == nil {
		c.values, errs = c.snap.Evaluate()
	} else {
		changed := slices.Collect(maps.Keys(r.pending))
		affected := compute.AffectedAcross(prev.snap, c.snap, changed)
		var fresh compute.Result
		fresh, errs = c.snap.EvaluateOnly(affected, prev.values)
		c.values = maps.Clone(prev.values)
		for _, k := range affected {
			if v, ok := fresh[k]; ok {
				c.values[k] = v
			} else {
				delete(c.values, k)
			}
		}
	}
	for _, err := range errs {
		r.opts.Logger.Warn("computed property", "err", err)
	}
	out := r.merge(c, prev, res)
	r.comp = c
	clear(r.pending)
	return out, nil
}

// merge returns res with computed values merged into its entities. The
// objects map is the result's own and is updated in place; the catalog's
// entity maps are shared with the loader and never written, so each
// blueprint with computed properties gets a new one. Merged entities are
// rebuilt only where the values or the declaration changed.
func (r *Reconciler) merge(c, prev *computed, res *loader.Result) *loader.Result {
	cat := *res.Catalog
	cat.Entities = maps.Clone(res.Catalog.Entities)
	objs := res.Objects
	if prev != nil {
		c.merged = prev.merged // prev is dropped after this revision
	} else {
		c.merged = make(map[catalog.Key]merged, len(c.values))
	}
	for bp, es := range res.Catalog.Entities {
		if len(c.plan.Properties(bp)) == 0 {
			continue
		}
		inner := maps.Clone(es)
		for id, e := range es {
			k := catalog.Key{Kind: catalog.KindEntityObj, Blueprint: bp, ID: id}
			vals, ok := c.values[k]
			if !ok || len(vals) == 0 {
				delete(c.merged, k)
				continue
			}
			if m, ok := c.merged[k]; ok && m.src == e && prev != nil && sameValues(prev.values[k], vals) {
				inner[id], objs[k] = m.e, m.obj
				continue
			}
			me := *e
			me.Properties = maps.Clone(e.Properties)
			maps.Copy(me.Properties, vals)
			obj, err := catalog.NewObject(k, &me, res.Objects[k].Source)
			if err != nil {
				r.opts.Logger.Warn("computed property", "entity", k.String(), "err", err)
				delete(c.merged, k)
				continue
			}
			m := merged{src: e, e: &me, obj: obj}
			c.merged[k] = m
			inner[id], objs[k] = m.e, m.obj
		}
		cat.Entities[bp] = inner
	}
	for k := range c.merged {
		if _, ok := objs[k]; !ok {
			delete(c.merged, k) // the entity is gone
		}
	}
	out := *res
	out.Catalog = &cat
	return &out
}

// CheckComputed compiles a valid load's computed-property declarations
// and returns what the reconciler would refuse (a cycle, bad jq, an
// unknown relation in a mirror path), for `pier validate`.
func CheckComputed(res *loader.Result) catalog.Diagnostics {
	if !res.OK() || !hasComputed(res.Catalog) {
		return nil
	}
	if _, err := compute.Compile(res.Catalog); err != nil {
		return computeDiagnostics(err, res)
	}
	return nil
}

func hasComputed(c *catalog.Catalog) bool {
	for _, bp := range c.Blueprints {
		if len(bp.CalculationProperties)+len(bp.MirrorProperties)+len(bp.AggregationProperties) > 0 {
			return true
		}
		for _, p := range bp.Schema.Properties {
			if p.Calculation != nil {
				return true
			}
		}
	}
	return false
}

// blueprintsKey identifies the set of blueprints by their content hashes.
func blueprintsKey(objs map[catalog.Key]catalog.Object) string {
	var parts []string
	for k, o := range objs {
		if k.Kind == catalog.KindBlueprintObj {
			parts = append(parts, k.ID+"="+o.Hash)
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func sameValues(a, b map[string]any) bool {
	// Entities the change did not affect keep the very map.
	if reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer() {
		return true
	}
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !equalJSON(v, w) {
			return false
		}
	}
	return true
}

func equalJSON(a, b any) bool {
	x, err1 := catalog.NewObject(catalog.Key{}, a, catalog.Pos{})
	y, err2 := catalog.NewObject(catalog.Key{}, b, catalog.Pos{})
	return err1 == nil && err2 == nil && x.Hash == y.Hash
}

// computeDiagnostics turns the plan's compile errors into diagnostics at
// the blueprint that declares the property (errors name blueprint.property).
func computeDiagnostics(err error, res *loader.Result) catalog.Diagnostics {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var out catalog.Diagnostics
	for _, e := range errs {
		d := catalog.Diagnostic{Kind: catalog.KindCalculated, Message: e.Error()}
		for k, o := range res.Objects {
			if k.Kind == catalog.KindBlueprintObj && strings.Contains(e.Error(), k.ID+".") {
				if !d.Pos.IsValid() || o.Source.File < d.Pos.File {
					d.Pos, d.Path = o.Source, catalog.Path("blueprints", k.ID)
				}
			}
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		out = catalog.Diagnostics{{Kind: catalog.KindCalculated, Message: errors.Unwrap(err).Error()}}
	}
	out.Sort()
	return out
}
