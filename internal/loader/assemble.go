package loader

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/config"
	"github.com/pierhq/pier/internal/node"
	"github.com/pierhq/pier/internal/validate"
	"github.com/pierhq/pier/schema"
)

// index is the assembled catalog kept between loads, so that a change to
// one file costs work proportional to what it touches: its own objects,
// the entities of a blueprint that changed, and the entities that refer
// to an entity that appeared or went away. Blueprints, actions,
// scorecards and automations are few and are re-assembled every time.
type index struct {
	decls map[catalog.Key][]*object            // every declaration, ordered by file
	small map[catalog.Key]struct{}             // keys of the non-entity kinds
	byBP  map[string]map[string]struct{}       // blueprint -> declared entity ids
	dups  map[catalog.Key]struct{}             // keys declared more than once
	bpID  map[string]string                    // blueprint -> identity at the last assembly
	rels  map[catalog.Key]*relState            // relation check of each entity
	refs  map[catalog.Key]map[catalog.Key]bool // entity -> the entities that refer to it
	bad   map[catalog.Key]struct{}             // entity keys with any diagnostic
	// entities and objs are the live entity state; snap holds the inner
	// maps last published, which callers may keep: they are never
	// written again.
	entities map[string]map[string]*catalog.Entity
	snap     map[string]map[string]*catalog.Entity
	objs     map[catalog.Key]catalog.Object
}

type relState struct {
	diags catalog.Diagnostics
	refs  []catalog.Key
}

func newIndex() *index {
	return &index{
		decls:    map[catalog.Key][]*object{},
		small:    map[catalog.Key]struct{}{},
		byBP:     map[string]map[string]struct{}{},
		dups:     map[catalog.Key]struct{}{},
		bpID:     map[string]string{},
		rels:     map[catalog.Key]*relState{},
		refs:     map[catalog.Key]map[catalog.Key]bool{},
		bad:      map[catalog.Key]struct{}{},
		entities: map[string]map[string]*catalog.Entity{},
		snap:     map[string]map[string]*catalog.Entity{},
		objs:     map[catalog.Key]catalog.Object{},
	}
}

func (ix *index) insert(o *object) {
	list := ix.decls[o.key]
	i := sort.Search(len(list), func(i int) bool { return list[i].file >= o.file })
	list = append(list, nil)
	copy(list[i+1:], list[i:])
	list[i] = o
	ix.decls[o.key] = list
	ix.indexKey(o.key)
}

func (ix *index) remove(o *object) {
	list := ix.decls[o.key]
	for i, d := range list {
		if d == o {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(ix.decls, o.key)
	} else {
		ix.decls[o.key] = list
	}
	ix.indexKey(o.key)
}

// indexKey brings the secondary indexes of k up to date.
func (ix *index) indexKey(k catalog.Key) {
	n := len(ix.decls[k])
	if n > 1 {
		ix.dups[k] = struct{}{}
	} else {
		delete(ix.dups, k)
	}
	if k.Kind != catalog.KindEntityObj {
		if n > 0 {
			ix.small[k] = struct{}{}
		} else {
			delete(ix.small, k)
		}
		return
	}
	ids := ix.byBP[k.Blueprint]
	switch {
	case n > 0 && ids == nil:
		ix.byBP[k.Blueprint] = map[string]struct{}{k.ID: {}}
	case n > 0:
		ids[k.ID] = struct{}{}
	case ids != nil:
		delete(ids, k.ID)
		if len(ids) == 0 {
			delete(ix.byBP, k.Blueprint)
		}
	}
}

// assembly is the state of one assemble call.
type assembly struct {
	l     *Loader
	ix    *index
	cat   *catalog.Catalog
	objs  map[catalog.Key]catalog.Object // non-entity objects
	diags catalog.Diagnostics
	// validators of the blueprints that compiled, by identifier.
	validators map[string]*validatorEntry
}

// assemble applies the changed files to the index and publishes the
// catalog: duplicates, shapes, cross-references, entity validation and
// relations, in that order. Every step reports all it finds; none stops
// at the first error.
func (l *Loader) assemble(changes []fileChange, evaluated int) (*Result, error) {
	ix := l.ix
	dirty := map[catalog.Key]bool{} // entity key -> existed before this change
	touch := func(k catalog.Key) {
		if _, seen := dirty[k]; !seen && k.Kind == catalog.KindEntityObj {
			dirty[k] = len(ix.decls[k]) > 0
		}
	}
	for _, c := range changes {
		if c.old != nil && c.old.x != nil {
			for _, o := range c.old.x.objects {
				touch(o.key)
				ix.remove(o)
			}
		}
		if c.new != nil && c.new.x != nil {
			for _, o := range c.new.x.objects {
				touch(o.key)
				ix.insert(o)
			}
		}
	}
	a := &assembly{
		l:          l,
		ix:         ix,
		cat:        catalog.New(),
		objs:       map[catalog.Key]catalog.Object{},
		validators: map[string]*validatorEntry{},
	}
	a.diags = append(a.diags, l.listDiags...)
	a.files()
	a.duplicates()
	a.blueprints()
	a.others()
	a.entities(dirty)
	a.diags.Shorten()
	a.diags.Sort()
	objs := maps.Clone(ix.objs)
	maps.Copy(objs, a.objs)
	changed := make([]catalog.Key, 0, len(dirty))
	for k := range dirty {
		changed = append(changed, k)
	}
	return &Result{Catalog: a.cat, Objects: objs, Diagnostics: a.diags, Files: len(l.files), Evaluated: evaluated, Changed: changed}, nil
}

// files collects the diagnostics of each file and the settings block.
func (a *assembly) files() {
	var settings []*node.Node
	for _, e := range a.l.files {
		a.diags = append(a.diags, e.diags...)
		if e.x == nil {
			continue
		}
		a.diags = append(a.diags, e.x.diags...)
		if e.x.settings != nil {
			settings = append(settings, e.x.settings)
		}
	}
	sort.Slice(settings, func(i, j int) bool { return settings[i].Pos.File < settings[j].Pos.File })
	for i, s := range settings {
		if i == 0 {
			a.settings(s)
			continue
		}
		a.diags = append(a.diags, catalog.Diagnostic{Pos: s.Pos, Path: "settings", Kind: catalog.KindDuplicate, Message: "settings declared in two files", Related: []catalog.Pos{settings[0].Pos}})
	}
}

// duplicates reports every declaration after the first of the same
// object, naming the first.
func (a *assembly) duplicates() {
	for k := range a.ix.dups {
		list := a.ix.decls[k]
		for _, o := range list[1:] {
			a.diags = append(a.diags, catalog.Diagnostic{
				Pos: o.pos, Path: objectPath(k), Kind: catalog.KindDuplicate,
				Message: fmt.Sprintf("%s is declared twice", k), Related: []catalog.Pos{list[0].pos},
			})
		}
	}
}

func (a *assembly) settings(n *node.Node) {
	if !a.shape(schema.Settings, "settings", n) {
		return
	}
	if err := decodeNode(n, &a.cat.Settings); err != nil {
		a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: "settings", Kind: catalog.KindCatalogSetting, Message: err.Error()})
		return
	}
	a.checkLevels(n, []string{"levels"}, "settings", a.cat.Settings.Levels)
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
		for _, name := range slices.Sorted(maps.Keys(bp.Relations)) {
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
		for _, name := range slices.Sorted(maps.Keys(bp.Schema.Properties)) {
			p := bp.Schema.Properties[name]
			if p.Format == "entity" && p.Blueprint != "" && !a.hasBlueprint(p.Blueprint) {
				n := lookup(o.node, []string{"schema", "properties", name, "blueprint"})
				a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: path + ".schema.properties." + catalog.PathElem(name), Kind: catalog.KindReference, Message: fmt.Sprintf("property %q refers to blueprint %q, which does not exist", name, p.Blueprint)})
			}
		}
		for _, name := range slices.Sorted(maps.Keys(bp.AggregationProperties)) {
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
	return len(a.ix.decls[catalog.Key{Kind: catalog.KindBlueprintObj, ID: id}]) > 0
}

// others decodes actions, scorecards, automations, webhooks and approval
// systems and checks what they name.
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
		a.approvalSystemRef(o, act)
		a.actionTemplates(o, act, path)
		if act.Trigger.Operation != "CREATE" && act.Trigger.BlueprintIdentifier == "" {
			n := lookup(o.node, []string{"trigger", "operation"})
			a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: path + ".trigger", Kind: catalog.KindReference, Message: fmt.Sprintf("a %s action needs trigger.blueprintIdentifier: the blueprint of the entity it acts on", act.Trigger.Operation)})
		}
		a.cat.Actions[o.key.ID] = act
		a.addObject(o, act)
	}
	a.scorecards()
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
	for _, o := range a.sorted(catalog.KindWebhookObj) {
		path := objectPath(o.key)
		if !a.shape(schema.Webhook, path, o.node) {
			continue
		}
		wh := &catalog.Webhook{}
		if !a.decode(o, wh) {
			continue
		}
		wh.Identifier = o.key.ID
		if err := config.CheckSecretEnv(wh.SecretEnv, wh.Identifier); err != nil {
			n := lookup(o.node, []string{"secretEnv"})
			a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: path + ".secretEnv", Kind: catalog.KindShape, Message: err.Error()})
		}
		for i, bp := range wh.Blueprints {
			if !a.hasBlueprint(bp) {
				n := lookup(o.node, []string{"blueprints", strconv.Itoa(i)})
				a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: fmt.Sprintf("%s.blueprints[%d]", path, i), Kind: catalog.KindReference, Message: fmt.Sprintf("blueprint %q does not exist", bp)})
			}
		}
		a.cat.Webhooks[o.key.ID] = wh
		a.addObject(o, wh)
	}
	a.approvalSystems()
	a.roles()
	a.dashboards()
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
	if o.key.Kind == catalog.KindBlueprintObj {
		obj.Fields = fieldsAt(o.node, "schema", "properties")
	}
	a.objs[o.key] = obj
}

// bpIdentity names the version of a blueprint that entity verdicts depend
// on: "" when it is not declared, otherwise its hash, marked when the
// blueprint is broken (its entities are then not validated).
func (a *assembly) bpIdentity(id string) string {
	list := a.ix.decls[catalog.Key{Kind: catalog.KindBlueprintObj, ID: id}]
	if len(list) == 0 {
		return ""
	}
	if a.validators[id] == nil {
		return "broken:" + list[0].hash
	}
	return list[0].hash
}

// entities re-validates what the change can have affected: the entities
// declared in changed files, every entity of a blueprint that changed,
// and for relations also the entities that refer to an entity that
// appeared or went away. dirty maps each changed entity key to whether it
// existed before the change.
func (a *assembly) entities(dirty map[catalog.Key]bool) {
	ix := a.ix
	recheck := map[catalog.Key]struct{}{}
	for k := range dirty {
		recheck[k] = struct{}{}
	}
	ids := map[string]string{}
	for bp := range ix.byBP {
		ids[bp] = a.bpIdentity(bp)
	}
	for bp := range ix.bpID {
		if _, ok := ids[bp]; !ok {
			ids[bp] = a.bpIdentity(bp)
		}
	}
	for bp, id := range ids {
		if prev, ok := ix.bpID[bp]; !ok || prev != id {
			for e := range ix.byBP[bp] {
				recheck[catalog.Key{Kind: catalog.KindEntityObj, Blueprint: bp, ID: e}] = struct{}{}
			}
		}
		ix.bpID[bp] = id
	}

	a.verdicts(recheck, ids)

	// Publish the live state of every rechecked key.
	changedBP := map[string]bool{}
	for k := range recheck {
		list := ix.decls[k]
		es := ix.entities[k.Blueprint]
		if len(list) == 0 || a.validators[k.Blueprint] == nil {
			if _, ok := es[k.ID]; ok {
				delete(es, k.ID)
				changedBP[k.Blueprint] = true
			}
			delete(ix.objs, k)
			continue
		}
		if es == nil {
			es = map[string]*catalog.Entity{}
			ix.entities[k.Blueprint] = es
		}
		es[k.ID] = list[0].entity
		ix.objs[k] = list[0].out
		changedBP[k.Blueprint] = true
	}

	// Relations: the rechecked entities, and those referring to an entity
	// that appeared or went away.
	relCheck := maps.Clone(recheck)
	for k, existed := range dirty {
		if existed != (len(ix.decls[k]) > 0) {
			for r := range ix.refs[k] {
				relCheck[r] = struct{}{}
			}
		}
	}
	for k := range relCheck {
		a.relations(k)
	}
	for k := range relCheck {
		a.markBad(k)
	}

	for k := range ix.bad {
		for _, o := range ix.decls[k] {
			a.diags = append(a.diags, o.verdict...)
		}
		if r := ix.rels[k]; r != nil {
			a.diags = append(a.diags, r.diags...)
		}
	}
	for bp, es := range ix.entities {
		if len(es) == 0 {
			delete(ix.entities, bp)
			delete(ix.snap, bp)
			continue
		}
		if changedBP[bp] || ix.snap[bp] == nil {
			ix.snap[bp] = maps.Clone(es)
		}
		a.cat.Entities[bp] = ix.snap[bp]
	}
}

// verdicts validates every declaration of the rechecked keys whose verdict
// is missing or was reached against another version of its blueprint, in
// parallel.
func (a *assembly) verdicts(recheck map[catalog.Key]struct{}, ids map[string]string) {
	var work []*object
	for k := range recheck {
		for _, o := range a.ix.decls[k] {
			if !o.validated || o.verdictFor != ids[k.Blueprint] {
				work = append(work, o)
			}
		}
	}
	if len(work) == 0 {
		return
	}
	workers := max(1, min(a.l.workers, len(work)/256))
	chunk := (len(work) + workers - 1) / workers
	var wg sync.WaitGroup
	for start := 0; start < len(work); start += chunk {
		wg.Add(1)
		go func(part []*object) {
			defer wg.Done()
			for _, o := range part {
				o.verdict = a.verdict(o, ids[o.key.Blueprint])
				o.verdictFor = ids[o.key.Blueprint]
				o.validated = true
			}
		}(work[start:min(start+chunk, len(work))])
	}
	wg.Wait()
}

// verdict validates one entity declaration against its blueprint.
func (a *assembly) verdict(o *object, bpID string) catalog.Diagnostics {
	ve := a.validators[o.key.Blueprint]
	switch {
	case bpID == "":
		return catalog.Diagnostics{{Pos: o.pos, Path: objectPath(o.key), Kind: catalog.KindBlueprint, Message: fmt.Sprintf("blueprint %q does not exist", o.key.Blueprint)}}
	case ve == nil:
		return nil // the blueprint is broken, and reported
	}
	return ve.v.Validate(o.node, objectPath(o.key))
}

// relations checks that every relation of an entity, and every property
// of format "entity", names an existing entity of the target blueprint,
// and records what the entity refers to.
func (a *assembly) relations(k catalog.Key) {
	ix := a.ix
	if old := ix.rels[k]; old != nil {
		for _, t := range old.refs {
			delete(ix.refs[t], k)
			if len(ix.refs[t]) == 0 {
				delete(ix.refs, t)
			}
		}
		delete(ix.rels, k)
	}
	list := ix.decls[k]
	bp := a.cat.Blueprints[k.Blueprint]
	if len(list) == 0 || bp == nil {
		return
	}
	o := list[0]
	st := &relState{}
	check := func(target string, val any, elems []string, path string) {
		_, many := val.([]any)
		for i, id := range catalog.Identifiers(val) {
			t := catalog.Key{Kind: catalog.KindEntityObj, Blueprint: target, ID: id}
			st.refs = append(st.refs, t)
			if len(ix.decls[t]) > 0 {
				continue
			}
			el := elems
			if many {
				el = append(append([]string(nil), elems...), strconv.Itoa(i))
			}
			st.diags = append(st.diags, catalog.Diagnostic{Pos: lookup(o.node, el).Pos, Path: path, Kind: catalog.KindRelation, Message: fmt.Sprintf("no %s entity %q", target, id)})
		}
	}
	for name, val := range o.entity.Relations {
		if rel, ok := bp.Relations[name]; ok {
			check(rel.Target, val, []string{"relations", name}, objectPath(k)+".relations."+catalog.PathElem(name))
		}
	}
	for name, val := range o.entity.Properties {
		if p, ok := bp.Schema.Properties[name]; ok && p.Format == "entity" && p.Blueprint != "" {
			check(p.Blueprint, val, []string{"properties", name}, objectPath(k)+".properties."+catalog.PathElem(name))
		}
	}
	for _, t := range st.refs {
		if ix.refs[t] == nil {
			ix.refs[t] = map[catalog.Key]bool{}
		}
		ix.refs[t][k] = true
	}
	ix.rels[k] = st
}

// markBad records whether any declaration of k, or its relations, has a
// diagnostic, so that publishing visits only those keys.
func (a *assembly) markBad(k catalog.Key) {
	for _, o := range a.ix.decls[k] {
		if len(o.verdict) > 0 {
			a.ix.bad[k] = struct{}{}
			return
		}
	}
	if r := a.ix.rels[k]; r != nil && len(r.diags) > 0 {
		a.ix.bad[k] = struct{}{}
		return
	}
	delete(a.ix.bad, k)
}

// sorted returns the winning declarations of one non-entity kind, in key
// order.
func (a *assembly) sorted(kind catalog.Kind) []*object {
	var out []*object
	for k := range a.ix.small {
		if k.Kind == kind {
			out = append(out, a.ix.decls[k][0])
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
