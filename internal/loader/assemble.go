package loader

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/node"
	"github.com/pierhq/pier/internal/validate"
	"github.com/pierhq/pier/schema"
)

// assembly is the state of one assemble call.
type assembly struct {
	l    *Loader
	cat  *catalog.Catalog
	objs map[catalog.Key]catalog.Object
	decl map[catalog.Key]*object
	// dups are second declarations: reported, kept out of the catalog,
	// but still validated so that one pass reports all of a file's errors.
	dups  []*object
	diags catalog.Diagnostics
	// validators of the blueprints that compiled, by identifier.
	validators map[string]*validatorEntry
}

// assemble combines the per-file results into a catalog: duplicates,
// shapes, cross-references, entity validation and relations, in that
// order. Every step reports all it finds; none stops at the first error.
func (l *Loader) assemble(ctx context.Context, evaluated int) (*Result, error) {
	a := &assembly{
		l:          l,
		cat:        catalog.New(),
		decl:       map[catalog.Key]*object{},
		validators: map[string]*validatorEntry{},
	}
	a.diags = append(a.diags, l.listDiags...)
	a.gather()
	a.blueprints()
	a.others()
	if err := a.entities(ctx); err != nil {
		return nil, err
	}
	a.relations()
	a.diags.Sort()
	return &Result{Catalog: a.cat, Objects: a.objs, Diagnostics: a.diags, Files: len(l.files), Evaluated: evaluated}, nil
}

// gather collects every declaration, in path order so that "declared
// first" is stable, and reports duplicates naming both places.
func (a *assembly) gather() {
	paths := make([]string, 0, len(a.l.files))
	n := 0
	for p, e := range a.l.files {
		paths = append(paths, p)
		if e != nil && e.x != nil {
			n += len(e.x.objects)
		}
	}
	sort.Strings(paths)
	a.objs = make(map[catalog.Key]catalog.Object, n)
	var settingsFrom *node.Node
	for _, p := range paths {
		e := a.l.files[p]
		if e == nil {
			continue
		}
		a.diags = append(a.diags, e.diags...)
		if e.x == nil {
			continue
		}
		a.diags = append(a.diags, e.x.diags...)
		if s := e.x.settings; s != nil {
			if settingsFrom != nil {
				a.diags = append(a.diags, catalog.Diagnostic{Pos: s.Pos, Path: "settings", Kind: catalog.KindDuplicate, Message: "settings declared in two files", Related: []catalog.Pos{settingsFrom.Pos}})
			} else {
				settingsFrom = s
				a.settings(s)
			}
		}
		for _, o := range e.x.objects {
			if first, dup := a.decl[o.key]; dup {
				a.diags = append(a.diags, catalog.Diagnostic{
					Pos: o.pos, Path: objectPath(o.key), Kind: catalog.KindDuplicate,
					Message: fmt.Sprintf("%s is declared twice", o.key), Related: []catalog.Pos{first.pos},
				})
				a.dups = append(a.dups, o)
				continue
			}
			a.decl[o.key] = o
			a.cat.Sources[o.key] = o.pos
		}
	}
}

func (a *assembly) settings(n *node.Node) {
	if !a.shape(schema.Settings, "settings", n) {
		return
	}
	if err := decodeNode(n, &a.cat.Settings); err != nil {
		a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: "settings", Kind: catalog.KindCatalogSetting, Message: err.Error()})
	}
}

// shape checks a declaration against its CUE definition, caching the
// verdict by content hash.
func (a *assembly) shape(def, path string, n *node.Node) bool {
	data := n.JSON()
	key := def + ":" + sum(data)
	ds, ok := a.l.shapes[key]
	if !ok {
		vs, err := a.l.schemas.Check(def, data)
		if err != nil {
			ds = catalog.Diagnostics{{Pos: n.Pos, Path: path, Kind: catalog.KindShape, Message: err.Error()}}
		}
		for _, v := range vs {
			ds = append(ds, catalog.Diagnostic{Pos: lookup(n, v.Path).Pos, Path: joinPath(path, v.Path), Kind: catalog.KindShape, Message: v.Message})
		}
		a.l.shapes[key] = ds
	}
	a.diags = append(a.diags, ds...)
	return len(ds) == 0
}

// blueprints shape-checks, decodes and compiles every blueprint, then
// checks what blueprints refer to.
func (a *assembly) blueprints() {
	for _, o := range a.sorted(catalog.KindBlueprintObj) {
		path := objectPath(o.key)
		if !a.shape(schema.Blueprint, path, o.node) {
			continue
		}
		ve := a.l.validators[o.hash]
		if ve == nil {
			ve = &validatorEntry{bp: &catalog.Blueprint{}}
			if err := decodeNode(o.node, ve.bp); err != nil {
				ve.err = err
			} else {
				ve.bp.Identifier = o.key.ID
				ve.v, ve.err = validate.Compile(ve.bp)
			}
			a.l.validators[o.hash] = ve
		}
		if ve.err != nil {
			a.diags = append(a.diags, catalog.Diagnostic{Pos: o.pos, Path: path, Kind: catalog.KindShape, Message: ve.err.Error()})
			continue
		}
		a.validators[o.key.ID] = ve
		a.cat.Blueprints[o.key.ID] = ve.bp
		a.addObject(o, ve.bp)
	}
	for _, o := range a.sorted(catalog.KindBlueprintObj) {
		bp := a.cat.Blueprints[o.key.ID]
		if bp == nil {
			continue
		}
		path := objectPath(o.key)
		for _, name := range sortedNames(bp.Relations) {
			if t := bp.Relations[name].Target; !a.hasBlueprint(t) {
				n := lookup(o.node, []string{"relations", name, "target"})
				a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: path + ".relations." + catalog.PathElem(name) + ".target", Kind: catalog.KindReference, Message: fmt.Sprintf("relation %q targets blueprint %q, which does not exist", name, t)})
			}
		}
		for i, name := range bp.Schema.Required {
			if _, ok := bp.Schema.Properties[name]; !ok {
				n := lookup(o.node, []string{"schema", "required", strconv.Itoa(i)})
				a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: path + ".schema.required", Kind: catalog.KindReference, Message: fmt.Sprintf("required property %q is not declared in schema.properties", name)})
			}
		}
		for _, name := range sortedNames(bp.Schema.Properties) {
			p := bp.Schema.Properties[name]
			if p.Format == "entity" && p.Blueprint != "" && !a.hasBlueprint(p.Blueprint) {
				n := lookup(o.node, []string{"schema", "properties", name, "blueprint"})
				a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: path + ".schema.properties." + catalog.PathElem(name), Kind: catalog.KindReference, Message: fmt.Sprintf("property %q refers to blueprint %q, which does not exist", name, p.Blueprint)})
			}
		}
		for _, name := range sortedNames(bp.AggregationProperties) {
			if t := bp.AggregationProperties[name].Target; !a.hasBlueprint(t) {
				n := lookup(o.node, []string{"aggregationProperties", name, "target"})
				a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: path + ".aggregationProperties." + catalog.PathElem(name), Kind: catalog.KindReference, Message: fmt.Sprintf("aggregation %q targets blueprint %q, which does not exist", name, t)})
			}
		}
	}
}

// hasBlueprint reports whether a blueprint is declared, valid or not, so
// that one broken blueprint does not also flood its referrers with errors.
func (a *assembly) hasBlueprint(id string) bool {
	_, ok := a.decl[catalog.Key{Kind: catalog.KindBlueprintObj, ID: id}]
	return ok
}

// others decodes actions, scorecards and automations and checks the
// blueprints they name.
func (a *assembly) others() {
	for _, o := range a.sorted(catalog.KindActionObj) {
		path := objectPath(o.key)
		if !a.shape(schema.Action, path, o.node) {
			continue
		}
		act := &catalog.Action{}
		if !a.decode(o, act) {
			continue
		}
		act.Identifier = o.key.ID
		if bp := act.Trigger.BlueprintIdentifier; bp != "" && !a.hasBlueprint(bp) {
			n := lookup(o.node, []string{"trigger", "blueprintIdentifier"})
			a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: path + ".trigger.blueprintIdentifier", Kind: catalog.KindReference, Message: fmt.Sprintf("blueprint %q does not exist", bp)})
		}
		if act.Trigger.Operation != "CREATE" && act.Trigger.BlueprintIdentifier == "" {
			n := lookup(o.node, []string{"trigger", "operation"})
			a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: path + ".trigger", Kind: catalog.KindReference, Message: fmt.Sprintf("a %s action needs trigger.blueprintIdentifier: the blueprint of the entity it acts on", act.Trigger.Operation)})
		}
		a.cat.Actions[o.key.ID] = act
		a.addObject(o, act)
	}
	levels := a.cat.Settings.Levels
	if len(levels) == 0 {
		levels = catalog.DefaultLevels
	}
	for _, o := range a.sorted(catalog.KindScorecardObj) {
		path := objectPath(o.key)
		if !a.shape(schema.Scorecard, path, o.node) {
			continue
		}
		sc := &catalog.Scorecard{}
		if !a.decode(o, sc) {
			continue
		}
		sc.Identifier = o.key.ID
		if bp := sc.BlueprintIdentifier; bp != "" && !a.hasBlueprint(bp) {
			n := lookup(o.node, []string{"blueprintIdentifier"})
			a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: path + ".blueprintIdentifier", Kind: catalog.KindReference, Message: fmt.Sprintf("blueprint %q does not exist", bp)})
		}
		ls := sc.Levels
		if len(ls) == 0 {
			ls = levels
		}
		seen := map[string]bool{}
		for i, r := range sc.Rules {
			rp := fmt.Sprintf("%s.rules[%d]", path, i)
			if seen[r.Identifier] {
				n := lookup(o.node, []string{"rules", strconv.Itoa(i), "identifier"})
				a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: rp + ".identifier", Kind: catalog.KindDuplicate, Message: fmt.Sprintf("rule %q is declared twice in this scorecard", r.Identifier)})
			}
			seen[r.Identifier] = true
			if !hasLevel(ls, r.Level) {
				n := lookup(o.node, []string{"rules", strconv.Itoa(i), "level"})
				a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: rp + ".level", Kind: catalog.KindReference, Message: fmt.Sprintf("must be one of %s; got %q", levelNames(ls), r.Level)})
			}
		}
		a.cat.Scorecards[o.key.ID] = sc
		a.addObject(o, sc)
	}
	for _, o := range a.sorted(catalog.KindAutomationObj) {
		path := objectPath(o.key)
		if !a.shape(schema.Automation, path, o.node) {
			continue
		}
		au := &catalog.Automation{}
		if !a.decode(o, au) {
			continue
		}
		au.Identifier = o.key.ID
		for _, p := range [][]string{{"trigger", "blueprintIdentifier"}, {"trigger", "event", "blueprintIdentifier"}} {
			if n := lookup(o.node, p); len(p) > 0 && n != o.node && n.Kind == node.String && !a.hasBlueprint(n.Text) {
				a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: joinPath(path, p), Kind: catalog.KindReference, Message: fmt.Sprintf("blueprint %q does not exist", n.Text)})
			}
		}
		a.cat.Automations[o.key.ID] = au
		a.addObject(o, au)
	}
}

func (a *assembly) decode(o *object, v any) bool {
	if err := decodeNode(o.node, v); err != nil {
		a.diags = append(a.diags, catalog.Diagnostic{Pos: o.pos, Path: objectPath(o.key), Kind: catalog.KindShape, Message: err.Error()})
		return false
	}
	return true
}

func (a *assembly) addObject(o *object, v any) {
	obj, err := catalog.NewObject(o.key, v, o.pos)
	if err != nil {
		a.diags = append(a.diags, catalog.Diagnostic{Pos: o.pos, Path: objectPath(o.key), Kind: catalog.KindShape, Message: err.Error()})
		return
	}
	a.objs[o.key] = obj
}

// entities validates every entity against its blueprint. Verdicts are
// cached by the hashes of the entity and of its blueprint; the uncached
// ones are computed in parallel.
func (a *assembly) entities(ctx context.Context) error {
	type todo struct {
		o  *object
		k  verdictKey
		ve *validatorEntry
	}
	var work []todo
	live := 0
	ents := a.sorted(catalog.KindEntityObj)
	for _, o := range append(ents, a.dupEntities()...) {
		if _, ok := a.validators[o.key.Blueprint]; !ok && !a.hasBlueprint(o.key.Blueprint) {
			a.diags = append(a.diags, catalog.Diagnostic{Pos: o.pos, Path: objectPath(o.key), Kind: catalog.KindBlueprint, Message: fmt.Sprintf("blueprint %q does not exist", o.key.Blueprint)})
			continue
		}
		ve := a.validators[o.key.Blueprint]
		if ve == nil {
			continue // the blueprint is broken and already reported
		}
		k := verdictKey{o.hash, a.blueprintHash(o.key.Blueprint)}
		live++
		if _, ok := a.l.verdicts[k]; !ok {
			work = append(work, todo{o, k, ve})
		}
	}
	if len(work) > 0 {
		results := make([]catalog.Diagnostics, len(work))
		var wg sync.WaitGroup
		chunk := (len(work) + a.l.workers - 1) / a.l.workers
		for start := 0; start < len(work); start += chunk {
			end := min(start+chunk, len(work))
			wg.Add(1)
			go func(start, end int) {
				defer wg.Done()
				for i := start; i < end && ctx.Err() == nil; i++ {
					t := work[i]
					results[i] = t.ve.v.Validate(t.o.node, objectPath(t.o.key))
				}
			}(start, end)
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return err
		}
		for i, t := range work {
			a.l.verdicts[t.k] = results[i]
		}
	}
	if len(a.l.verdicts) > 2*live+1024 {
		a.pruneVerdicts()
	}
	for _, o := range a.dupEntities() {
		if ve := a.validators[o.key.Blueprint]; ve != nil {
			a.diags = append(a.diags, a.l.verdicts[verdictKey{o.hash, a.blueprintHash(o.key.Blueprint)}]...)
		}
	}
	for _, o := range ents {
		ve := a.validators[o.key.Blueprint]
		if ve == nil {
			continue
		}
		a.diags = append(a.diags, a.l.verdicts[verdictKey{o.hash, a.blueprintHash(o.key.Blueprint)}]...)
		es := a.cat.Entities[o.key.Blueprint]
		if es == nil {
			es = map[string]*catalog.Entity{}
			a.cat.Entities[o.key.Blueprint] = es
		}
		es[o.key.ID] = o.entity
		a.objs[o.key] = o.out
	}
	return nil
}

func (a *assembly) blueprintHash(id string) string {
	return a.decl[catalog.Key{Kind: catalog.KindBlueprintObj, ID: id}].hash
}

func (a *assembly) dupEntities() []*object {
	var out []*object
	for _, o := range a.dups {
		if o.key.Kind == catalog.KindEntityObj {
			out = append(out, o)
		}
	}
	return out
}

// pruneVerdicts drops verdicts of entity or blueprint versions that no
// longer exist, so that a long-running daemon's cache tracks the catalog
// rather than its history.
func (a *assembly) pruneVerdicts() {
	keep := make(map[verdictKey]catalog.Diagnostics, len(a.decl))
	for k, o := range a.decl {
		if k.Kind != catalog.KindEntityObj {
			continue
		}
		bp, ok := a.decl[catalog.Key{Kind: catalog.KindBlueprintObj, ID: k.Blueprint}]
		if !ok {
			continue
		}
		vk := verdictKey{o.hash, bp.hash}
		if d, ok := a.l.verdicts[vk]; ok {
			keep[vk] = d
		}
	}
	a.l.verdicts = keep
}

// relations checks that every relation, and every property of format
// "entity", names an existing entity of the target blueprint.
func (a *assembly) relations() {
	for _, o := range a.sorted(catalog.KindEntityObj) {
		bp := a.cat.Blueprints[o.key.Blueprint]
		if bp == nil || a.cat.Entities[o.key.Blueprint][o.key.ID] == nil {
			continue
		}
		e := o.entity
		for name, val := range e.Relations {
			rel, ok := bp.Relations[name]
			if !ok {
				continue // reported by the validator
			}
			for i, id := range identifiers(val) {
				if a.entityExists(rel.Target, id) {
					continue
				}
				elems := []string{"relations", name}
				if _, many := val.([]any); many {
					elems = append(elems, strconv.Itoa(i))
				}
				n := lookup(o.node, elems)
				a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: objectPath(o.key) + ".relations." + catalog.PathElem(name), Kind: catalog.KindRelation, Message: fmt.Sprintf("no %s entity %q", rel.Target, id)})
			}
		}
		for name, val := range e.Properties {
			p, ok := bp.Schema.Properties[name]
			if !ok || p.Format != "entity" || p.Blueprint == "" {
				continue
			}
			for _, id := range identifiers(val) {
				if !a.entityExists(p.Blueprint, id) {
					n := lookup(o.node, []string{"properties", name})
					a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: objectPath(o.key) + ".properties." + catalog.PathElem(name), Kind: catalog.KindRelation, Message: fmt.Sprintf("no %s entity %q", p.Blueprint, id)})
				}
			}
		}
	}
}

func (a *assembly) entityExists(bp, id string) bool {
	_, ok := a.decl[catalog.Key{Kind: catalog.KindEntityObj, Blueprint: bp, ID: id}]
	return ok
}

func identifiers(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// sorted returns the declarations of one kind in key order.
func (a *assembly) sorted(kind catalog.Kind) []*object {
	var out []*object
	for k, o := range a.decl {
		if k.Kind == kind {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key.Less(out[j].key) })
	return out
}

// lookup follows path from n and returns the deepest node that exists, so
// that an error about a missing field points at its parent.
func lookup(n *node.Node, p []string) *node.Node {
	for _, el := range p {
		var next *node.Node
		switch n.Kind {
		case node.Struct:
			next = n.Get(el)
		case node.List:
			if i, err := strconv.Atoi(el); err == nil && i >= 0 && i < len(n.Elems) {
				next = n.Elems[i]
			}
		}
		if next == nil {
			return n
		}
		n = next
	}
	return n
}

func joinPath(prefix string, elems []string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, el := range elems {
		if _, err := strconv.Atoi(el); err == nil {
			b.WriteString("[" + el + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(catalog.PathElem(el))
	}
	return b.String()
}

func hasLevel(ls []catalog.Level, name string) bool {
	for _, l := range ls {
		if l.Title == name {
			return true
		}
	}
	return false
}

func levelNames(ls []catalog.Level) string {
	names := make([]string, len(ls))
	for i, l := range ls {
		names[i] = l.Title
	}
	return strings.Join(names, ", ")
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func unmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

func pathBase(p string) string { return path.Base(p) }

func splitPath(p string) []string { return strings.Split(p, "/") }
