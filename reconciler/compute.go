package reconciler

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/compute"
	"github.com/pierhq/pier/internal/loader"
)

// computed is what the reconciler keeps between revisions so that
// computed properties are re-evaluated, and merged into entities, only
// for the entities a change can affect.
type computed struct {
	plan     *compute.Plan
	planFrom string // the blueprints the plan was compiled from (see blueprintsKey)
	snap     *compute.Snapshot
	values   compute.Result
	merged   map[catalog.Key]*merged
	// entities are the catalog's entity maps with merged entities, per
	// blueprint with computed properties. They and merged carry over to
	// the next revision, which updates only what its change touched.
	entities map[string]map[string]*catalog.Entity
}

// merged is an entity (src, as loaded) with its computed values (e),
// and its canonical form.
type merged struct {
	src *catalog.Entity
	e   catalog.Entity
	obj catalog.Object
}

// newMerged merges vals into e. The properties map is made to hold both
// at once: cloning and then adding would grow it.
func newMerged(k catalog.Key, e *catalog.Entity, loaded catalog.Object, vals map[string]any) (*merged, error) {
	m := &merged{src: e, e: *e}
	m.e.Properties = make(map[string]any, len(e.Properties)+len(vals))
	maps.Copy(m.e.Properties, e.Properties)
	maps.Copy(m.e.Properties, vals)
	obj, err := mergedObject(k, &m.e, loaded, vals)
	m.obj = obj
	return m, err
}

// compute evaluates the revision's computed properties (mirror,
// calculation, formula, aggregation) and merges them into its entities,
// so that they are stored, diffed, kept in history and served like any
// property. A declaration that cannot be compiled (a cycle, bad jq, an
// unknown relation in a path) fails the revision; a value that cannot be
// computed for one entity is null and logged. Only the entities a change
// can affect are re-evaluated and re-merged; the others keep their
// merged form, and with it their identity, which the state relies on to
// reuse views. The previous revision's structures are taken over, not
// copied: they are the reconciler's own.
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
		plan, err := compute.Options{Parallel: parallelCompute}.Compile(res.Catalog)
		if err != nil {
			return nil, computeDiagnostics(err, res)
		}
		c.plan, prev = plan, nil // a new plan: evaluate everything
	}
	if !c.plan.Incremental() {
		prev = nil // a change can reach values Affected cannot name
	}
	var errs []error
	var out *loader.Result
	if prev == nil {
		c.snap = c.plan.Bind(res.Catalog)
		out, errs = r.evaluateAll(c, res)
	} else {
		changed := slices.Collect(maps.Keys(r.pending))
		var affected []catalog.Key
		c.snap, affected = prev.snap.Rebind(res.Catalog, changed)
		var fresh compute.Result
		fresh, errs = c.snap.EvaluateOnly(affected, prev.values)
		c.values = prev.values
		old := make(map[catalog.Key]map[string]any, len(affected))
		for _, k := range affected {
			old[k] = c.values[k]
			if v, ok := fresh[k]; ok {
				c.values[k] = v
			} else {
				delete(c.values, k)
			}
		}
		out = r.mergeTouched(c, prev, res, affected, old)
	}
	for _, err := range errs {
		r.opts.Logger.Warn("computed property", "err", err)
	}
	r.comp = c
	clear(r.pending)
	return out, nil
}

// parallelCompute is how many entities make it worth another goroutine
// in a cold evaluation; tests lower it to run the parallel path on small
// catalogs.
var parallelCompute = 0 // compute's default

// evaluateAll evaluates every computed property of res and returns res
// with the values merged into its entities. Each entity is merged as
// soon as its values are complete, on the goroutine that computed them:
// encoding merged entities is as much work as computing their values,
// and as independent. The objects map is the result's own and is
// updated in place; the catalog's entity maps are shared with the loader
// and never written, so each blueprint with computed properties gets a
// new one.
func (r *Reconciler) evaluateAll(c *computed, res *loader.Result) (*loader.Result, []error) {
	type made struct {
		k   catalog.Key
		m   *merged
		err error
	}
	var (
		mu   sync.Mutex
		done []made
	)
	var errs []error
	c.values, errs = c.snap.EvaluateFunc(func(k catalog.Key, vals map[string]any) {
		m, err := newMerged(k, res.Catalog.Entities[k.Blueprint][k.ID], res.Objects[k], vals)
		mu.Lock()
		done = append(done, made{k, m, err})
		mu.Unlock()
	})
	for _, d := range done {
		if d.err != nil {
			r.opts.Logger.Warn("computed property", "entity", d.k.String(), "err", d.err)
		}
	}
	// Three maps take the merged entities; filling c.merged on another
	// CPU halves the wait.
	var wg sync.WaitGroup
	wg.Go(func() {
		c.merged = make(map[catalog.Key]*merged, len(done))
		for _, d := range done {
			if d.err == nil {
				c.merged[d.k] = d.m
			}
		}
	})
	cat := *res.Catalog
	cat.Entities = maps.Clone(res.Catalog.Entities)
	c.entities = map[string]map[string]*catalog.Entity{}
	for bp, es := range res.Catalog.Entities {
		if len(c.plan.Properties(bp)) > 0 {
			c.entities[bp] = maps.Clone(es)
			cat.Entities[bp] = c.entities[bp]
		}
	}
	for _, d := range done {
		if d.err == nil {
			c.entities[d.k.Blueprint][d.k.ID], res.Objects[d.k] = &d.m.e, d.m.obj
		}
	}
	wg.Wait()
	out := *res
	out.Catalog = &cat
	return &out, errs
}

// mergeTouched is evaluateAll's merging for a revision whose change touched only the
// entities keys names: the other entities keep what the previous
// revision merged. old holds the touched entities' previous values.
func (r *Reconciler) mergeTouched(c, prev *computed, res *loader.Result, keys []catalog.Key, old map[catalog.Key]map[string]any) *loader.Result {
	cat := *res.Catalog
	cat.Entities = maps.Clone(res.Catalog.Entities)
	c.merged = prev.merged
	c.entities = make(map[string]map[string]*catalog.Entity, len(prev.entities))
	byBP := map[string][]catalog.Key{}
	for _, k := range keys {
		byBP[k.Blueprint] = append(byBP[k.Blueprint], k)
	}
	for bp, es := range res.Catalog.Entities {
		if len(c.plan.Properties(bp)) == 0 {
			continue
		}
		// The published state may still read the previous map: copy it
		// once, then change only what was touched.
		inner := maps.Clone(prev.entities[bp])
		if inner == nil {
			inner = maps.Clone(es)
		}
		for _, k := range byBP[bp] {
			r.mergeOne(c, res, k, es[k.ID], inner, old)
		}
		c.entities[bp] = inner
		cat.Entities[bp] = inner
	}
	for k, m := range c.merged {
		res.Objects[k] = m.obj
	}
	out := *res
	out.Catalog = &cat
	return &out
}

// mergeOne merges k's computed values into its entity e (nil when the
// entity is gone), rebuilding the merged form only when the entity or
// its values changed since the last merge.
func (r *Reconciler) mergeOne(c *computed, res *loader.Result, k catalog.Key, e *catalog.Entity, inner map[string]*catalog.Entity, old map[catalog.Key]map[string]any) {
	vals := c.values[k]
	if e == nil || len(vals) == 0 {
		delete(c.merged, k)
		if e == nil {
			delete(inner, k.ID)
		} else {
			inner[k.ID] = e
		}
		return
	}
	if m, ok := c.merged[k]; ok && m.src == e && sameValues(old[k], vals) {
		inner[k.ID] = &m.e
		return
	}
	m, err := newMerged(k, e, res.Objects[k], vals)
	if err != nil {
		r.opts.Logger.Warn("computed property", "entity", k.String(), "err", err)
		delete(c.merged, k)
		inner[k.ID] = e
		return
	}
	c.merged[k] = m
	inner[k.ID] = &m.e
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
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// computeDiagnostics turns the plan's compile errors into diagnostics at
// the blueprint that declares the property.
func computeDiagnostics(err error, res *loader.Result) catalog.Diagnostics {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var out catalog.Diagnostics
	for _, e := range errs {
		d := catalog.Diagnostic{Kind: catalog.KindShape, Message: e.Error()}
		if ce, ok := errors.AsType[*compute.Error](e); ok {
			k := catalog.Key{Kind: catalog.KindBlueprintObj, ID: ce.Blueprint}
			d.Pos, d.Path = res.Objects[k].Source, catalog.Path("blueprints", ce.Blueprint)
		}
		out = append(out, d)
	}
	out.Sort()
	return out
}

// mergedObject is the object of the merged entity me: the loader's
// object with vals spliced into its properties, or me encoded when the
// splice does not apply.
func mergedObject(k catalog.Key, me *catalog.Entity, loaded catalog.Object, vals map[string]any) (catalog.Object, error) {
	if b, ok := spliceProperties(loaded.JSON, vals); ok {
		return catalog.Object{Key: k, JSON: b, Hash: catalog.HashJSON(b), Source: loaded.Source, Fields: loaded.Fields}, nil
	}
	obj, err := catalog.NewObject(k, me, loaded.Source)
	obj.Fields = loaded.Fields
	return obj, err
}
