// Package state is the in-memory read model of the applied catalog: what
// the API serves. It is rebuilt from the store when the daemon starts (so
// the last good state serves before the first reconcile) and replaced
// after every applied revision and every runtime write.
//
// A Snapshot is immutable once published; readers take the current one
// with Holder.Load and never lock. Writers build the next snapshot,
// sharing every entity that did not change, and publish it atomically.
package state

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/reconciler"
)

// Entity is an entity as the API serves it, in Port's shape: the values
// declared in git with the runtime-owned values written through the API
// merged over them.
type Entity struct {
	Identifier string         `json:"identifier"`
	Title      string         `json:"title,omitempty"`
	Icon       string         `json:"icon,omitempty"`
	Blueprint  string         `json:"blueprint"`
	Team       []string       `json:"team"`
	Properties map[string]any `json:"properties"`
	Relations  map[string]any `json:"relations"`
	CreatedAt  time.Time      `json:"createdAt"`
	CreatedBy  string         `json:"createdBy"`
	UpdatedAt  time.Time      `json:"updatedAt"`
	UpdatedBy  string         `json:"updatedBy"`

	// Git is the entity as declared in git; Runtime the API-written
	// values (nil when none).
	Git     *catalog.Entity `json:"-"`
	Runtime map[string]any  `json:"-"`
	// RuntimeAt and RuntimeBy are when and by whom Runtime was written.
	RuntimeAt time.Time `json:"-"`
	RuntimeBy string    `json:"-"`

	enc atomic.Pointer[[]byte] // the JSON form, encoded on first use
}

// MarshalJSON encodes the entity once and serves the bytes after that:
// an entity is immutable once published, and API answers list hundreds
// of them per request.
func (e *Entity) MarshalJSON() ([]byte, error) {
	if b := e.enc.Load(); b != nil {
		return *b, nil
	}
	type plain Entity // without this method
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode((*plain)(e)); err != nil {
		return nil, err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	e.enc.Store(&b)
	return b, nil
}

// GitActor is the createdBy/updatedBy of changes that came from git.
const GitActor = "git"

func newEntity(git *catalog.Entity, created, updated time.Time, runtime map[string]any, runtimeAt time.Time, runtimeBy string) *Entity {
	e := &Entity{
		Identifier: git.Identifier, Title: git.Title, Icon: git.Icon, Blueprint: git.Blueprint,
		Team: git.Team, Relations: git.Relations, Properties: git.Properties,
		CreatedAt: created, CreatedBy: GitActor, UpdatedAt: updated, UpdatedBy: GitActor,
		Git: git, Runtime: runtime, RuntimeAt: runtimeAt, RuntimeBy: runtimeBy,
	}
	if e.Team == nil {
		e.Team = []string{}
	}
	if len(runtime) > 0 {
		e.Properties = maps.Clone(git.Properties)
		maps.Copy(e.Properties, runtime)
		if runtimeAt.After(e.UpdatedAt) {
			e.UpdatedAt, e.UpdatedBy = runtimeAt, runtimeBy
		}
	}
	return e
}

// Snapshot is the applied state at one moment.
type Snapshot struct {
	Revision string
	// Seq is the store's number for the revision, where a replica that
	// follows another reads the next changes from (0 when published by
	// this replica's own reconcile).
	Seq         int64
	AppliedAt   time.Time
	Blueprints  map[string]*catalog.Blueprint
	Entities    map[string]map[string]*Entity // blueprint -> identifier -> entity
	Actions     map[string]*catalog.Action
	Scorecards  map[string]*catalog.Scorecard
	Automations map[string]*catalog.Automation
	Webhooks    map[string]*catalog.Webhook
	// ApprovalSystems are the declared HTTP approval systems, for the
	// daemon that polls their pending approvals.
	ApprovalSystems map[string]*catalog.ApprovalSystem
	// Roles and RoleBindings are the declared RBAC; Access is them
	// compiled, what every read and write is checked against.
	Roles        map[string]*catalog.Role
	RoleBindings map[string]*catalog.RoleBinding
	Access       *access.Policy
	// Dashboards are the web portal's dashboards.
	Dashboards map[string]*catalog.Dashboard
	// Settings are the catalog-wide settings (default scorecard levels).
	Settings catalog.Settings
	// Scores are the scorecard results over this snapshot.
	Scores *Scores

	// sources and objects say where each object is declared (see Source).
	sources map[catalog.Key]catalog.Pos
	objects map[catalog.Key]catalog.Object

	once      sync.Once
	ids       map[string][]string // sorted identifiers per blueprint
	referrers map[catalog.Key][]catalog.Key

	idxMu sync.RWMutex
	idx   map[indexKey]map[string][]*Entity
	nums  map[indexKey][]Ranked
}

// Source says where an object is declared, so that the API can name the
// file that owns a property it refuses to write.
func (s *Snapshot) Source(k catalog.Key) catalog.Pos {
	if o, ok := s.objects[k]; ok {
		return o.Source
	}
	return s.sources[k]
}

// Loaded reports whether the snapshot holds an applied state.
func (s *Snapshot) Loaded() bool { return s != nil && s.Revision != "" }

// Entity returns one entity, or nil.
func (s *Snapshot) Entity(blueprint, id string) *Entity { return s.Entities[blueprint][id] }

// EntityCount is the number of entities.
func (s *Snapshot) EntityCount() int {
	n := 0
	for _, es := range s.Entities {
		n += len(es)
	}
	return n
}

func (s *Snapshot) build() {
	s.once.Do(func() {
		s.ids = make(map[string][]string, len(s.Entities))
		s.referrers = map[catalog.Key][]catalog.Key{}
		for bp, es := range s.Entities {
			ids := make([]string, 0, len(es))
			for id, e := range es {
				ids = append(ids, id)
				from := catalog.Key{Kind: catalog.KindEntityObj, Blueprint: bp, ID: id}
				b := s.Blueprints[bp]
				if b == nil {
					continue
				}
				for name, v := range e.Relations {
					rel, ok := b.Relations[name]
					if !ok {
						continue
					}
					for _, t := range catalog.Identifiers(v) {
						to := catalog.Key{Kind: catalog.KindEntityObj, Blueprint: rel.Target, ID: t}
						s.referrers[to] = append(s.referrers[to], from)
					}
				}
			}
			sort.Strings(ids)
			s.ids[bp] = ids
		}
		for _, rs := range s.referrers {
			sort.Slice(rs, func(i, j int) bool { return rs[i].Less(rs[j]) })
		}
	})
}

// IDs returns the sorted identifiers of a blueprint's entities.
func (s *Snapshot) IDs(blueprint string) []string {
	s.build()
	return s.ids[blueprint]
}

// Referrers returns the entities whose relations point at the given one.
func (s *Snapshot) Referrers(blueprint, id string) []catalog.Key {
	s.build()
	return s.referrers[catalog.Key{Kind: catalog.KindEntityObj, Blueprint: blueprint, ID: id}]
}

type indexKey struct{ blueprint, field string }

// Index returns, for one blueprint, the entities by the string form of a
// field's value (a property, a relation, or $identifier, $title, $team):
// an equality index the search uses to avoid scanning every entity. It
// is built on first use and lives as long as the snapshot; a runtime
// write carries it over, patched, to the next.
func (s *Snapshot) Index(blueprint, field string) map[string][]*Entity {
	return cached(s, &s.idx, indexKey{blueprint, field}, func() map[string][]*Entity {
		idx := map[string][]*Entity{}
		for _, e := range s.Entities[blueprint] {
			for _, v := range fieldValues(e, field) {
				// A list may hold a value twice; the entity is filed once.
				if b := idx[v]; len(b) == 0 || b[len(b)-1] != e {
					idx[v] = append(b, e)
				}
			}
		}
		return idx
	})
}

// cached returns (*m)[k], building it under the snapshot's index lock on
// first use: concurrent searches build an index once.
func cached[T any](s *Snapshot, m *map[indexKey]T, k indexKey, build func() T) T {
	s.idxMu.RLock()
	v, ok := (*m)[k]
	s.idxMu.RUnlock()
	if ok {
		return v
	}
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	if v, ok := (*m)[k]; ok {
		return v
	}
	v = build()
	if *m == nil {
		*m = map[indexKey]T{}
	}
	(*m)[k] = v
	return v
}

// Ranked is an entity and the number one of its properties holds.
type Ranked struct {
	N float64
	E *Entity
}

// NumberIndex returns the entities of one blueprint whose property field
// holds a number (runtime values included), ordered by it as
// query.Float reads it: the search narrows numeric range rules with it
// instead of scanning every entity. It is built and carried over as
// Index is.
func (s *Snapshot) NumberIndex(blueprint, field string) []Ranked {
	return cached(s, &s.nums, indexKey{blueprint, field}, func() []Ranked {
		idx := []Ranked{}
		for _, e := range s.Entities[blueprint] {
			if f, ok := query.Float(property(e, field)); ok {
				idx = append(idx, Ranked{f, e})
			}
		}
		slices.SortFunc(idx, func(a, b Ranked) int { return cmp.Compare(a.N, b.N) })
		return idx
	})
}

// indexesAfter returns the indexes s has built, with entity old
// replaced by e (the same entity after a runtime write). Indexes are
// shared between snapshots, so the changed ones are copied.
func (s *Snapshot) indexesAfter(old, e *Entity) (map[indexKey]map[string][]*Entity, map[indexKey][]Ranked) {
	s.idxMu.RLock()
	defer s.idxMu.RUnlock()
	var idx map[indexKey]map[string][]*Entity
	if s.idx != nil {
		idx = make(map[indexKey]map[string][]*Entity, len(s.idx))
	}
	for k, m := range s.idx {
		if k.blueprint != e.Blueprint {
			idx[k] = m
			continue
		}
		m = maps.Clone(m)
		for _, v := range fieldValues(old, k.field) {
			bucket := slices.DeleteFunc(slices.Clone(m[v]), func(x *Entity) bool { return x == old })
			if len(bucket) == 0 {
				delete(m, v)
			} else {
				m[v] = bucket
			}
		}
		for _, v := range fieldValues(e, k.field) {
			if !slices.Contains(m[v], e) { // a list may hold a value twice
				m[v] = append(slices.Clip(m[v]), e)
			}
		}
		idx[k] = m
	}
	var nums map[indexKey][]Ranked
	if s.nums != nil {
		nums = make(map[indexKey][]Ranked, len(s.nums))
	}
	for k, r := range s.nums {
		if k.blueprint != e.Blueprint {
			nums[k] = r
			continue
		}
		r = slices.DeleteFunc(slices.Clone(r), func(x Ranked) bool { return x.E == old })
		if f, ok := query.Float(property(e, k.field)); ok {
			i, _ := slices.BinarySearchFunc(r, f, func(x Ranked, f float64) int { return cmp.Compare(x.N, f) })
			r = slices.Insert(r, i, Ranked{f, e})
		}
		nums[k] = r
	}
	return idx, nums
}

// IndexKey is the string an indexed value is filed under: strings as
// themselves, other scalars as their JSON text.
func IndexKey(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return "#" + v.String(), true
	case float64:
		return "#" + json.Number(fmt.Sprint(v)).String(), true
	case bool:
		return fmt.Sprint(v), true
	}
	return "", false
}

// property is the value a query rule on a plain property reads from e:
// the engine's own reading (runtime values, properties, relations, dotted
// paths into objects), so that what an index files an entity under is
// what the search then matches it on.
func property(e *Entity, field string) any {
	v, _ := query.Lookup(&query.Entity{Entity: e.Git, Runtime: e.Runtime}, field)
	return v
}

func fieldValues(e *Entity, field string) []string {
	var v any
	switch field {
	case "$identifier":
		v = e.Identifier
	case "$title":
		v = e.Title
	case "$team":
		out := make([]string, 0, len(e.Team))
		out = append(out, e.Team...)
		return out
	default:
		v = property(e, field)
	}
	if list, ok := v.([]any); ok {
		var out []string
		for _, el := range list {
			if k, ok := IndexKey(el); ok {
				out = append(out, k)
			}
		}
		return out
	}
	if k, ok := IndexKey(v); ok {
		return []string{k}
	}
	return nil
}

// Holder publishes snapshots.
type Holder struct {
	p  atomic.Pointer[Snapshot]
	mu sync.Mutex // serialises writers
	// OnMoves, when set, is told of the scorecard level changes of each
	// publish (a reconcile or a runtime write), in order, with the
	// revision and time they belong to: the daemon keeps them as the
	// scorecard history. Set it before the first publish.
	OnMoves func(revision string, at time.Time, moves []LevelMove)
}

// published stores s and reports its level changes.
func (h *Holder) published(s *Snapshot, at time.Time) {
	h.p.Store(s)
	if h.OnMoves != nil {
		if moves := s.Scores.Moves(); len(moves) > 0 {
			h.OnMoves(s.Revision, at, moves)
		}
	}
}

// NewHolder returns a holder with an empty snapshot.
func NewHolder() *Holder {
	h := &Holder{}
	h.p.Store(empty())
	return h
}

func empty() *Snapshot {
	return &Snapshot{
		Blueprints: map[string]*catalog.Blueprint{}, Entities: map[string]map[string]*Entity{},
		Actions: map[string]*catalog.Action{}, Scorecards: map[string]*catalog.Scorecard{},
		Automations: map[string]*catalog.Automation{}, Webhooks: map[string]*catalog.Webhook{},
		ApprovalSystems: map[string]*catalog.ApprovalSystem{}, sources: map[catalog.Key]catalog.Pos{},
		Roles: map[string]*catalog.Role{}, RoleBindings: map[string]*catalog.RoleBinding{},
		Dashboards: map[string]*catalog.Dashboard{}, Access: defaultPolicy,
	}
}

// defaultPolicy is the policy of a catalog without roles.
var defaultPolicy, _ = access.Compile(catalog.New())

// policy compiles the catalog's roles; the loader refused a revision
// whose roles have problems, so none are expected here.
func policy(c *catalog.Catalog) *access.Policy {
	p, _ := access.Compile(c)
	return p
}

// Load returns the current snapshot.
func (h *Holder) Load() *Snapshot { return h.p.Load() }

// Restore builds the snapshot from the store's state and runtime values.
func (h *Holder) Restore(st *store.State, runtimes []store.Runtime, appliedAt time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	rt := make(map[catalog.Key]store.Runtime, len(runtimes))
	for _, r := range runtimes {
		rt[catalog.Key{Kind: catalog.KindEntityObj, Blueprint: r.Blueprint, ID: r.Identifier}] = r
	}
	s := empty()
	s.Revision, s.AppliedAt, s.Seq = st.Revision, appliedAt, st.Seq
	if len(st.Settings) > 0 {
		if err := catalog.Decode(st.Settings, &s.Settings); err != nil {
			return fmt.Errorf("restore settings: %w", err)
		}
	}
	for k, o := range st.Objects {
		s.sources[k] = o.Source
		var err error
		switch k.Kind {
		case catalog.KindBlueprintObj:
			err = decodeInto(s.Blueprints, k.ID, o.JSON)
		case catalog.KindActionObj:
			err = decodeInto(s.Actions, k.ID, o.JSON)
		case catalog.KindScorecardObj:
			err = decodeInto(s.Scorecards, k.ID, o.JSON)
		case catalog.KindAutomationObj:
			err = decodeInto(s.Automations, k.ID, o.JSON)
		case catalog.KindWebhookObj:
			err = decodeInto(s.Webhooks, k.ID, o.JSON)
		case catalog.KindApprovalSystemObj:
			err = decodeInto(s.ApprovalSystems, k.ID, o.JSON)
		case catalog.KindRoleObj:
			err = decodeInto(s.Roles, k.ID, o.JSON)
		case catalog.KindRoleBindingObj:
			err = decodeInto(s.RoleBindings, k.ID, o.JSON)
		case catalog.KindDashboardObj:
			err = decodeInto(s.Dashboards, k.ID, o.JSON)
		case catalog.KindEntityObj:
			g := &catalog.Entity{}
			if err = catalog.Decode(o.JSON, g); err == nil {
				r := rt[k]
				setEntity(s, newEntity(g, o.CreatedAt, o.UpdatedAt, r.Properties, r.UpdatedAt, r.UpdatedBy))
			}
		}
		if err != nil {
			return fmt.Errorf("restore %s: %w", k, err)
		}
	}
	c := s.catalog()
	s.Access = policy(c)
	set, err := compileScores(c)
	s.Scores = score(nil, s, set, err, nil)
	h.p.Store(s)
	return nil
}

// catalog rebuilds the catalog a restored snapshot came from, for
// computations that take one.
func (s *Snapshot) catalog() *catalog.Catalog {
	c := catalog.New()
	c.Blueprints, c.Actions, c.Scorecards, c.Automations, c.Webhooks = s.Blueprints, s.Actions, s.Scorecards, s.Automations, s.Webhooks
	c.ApprovalSystems, c.Settings = s.ApprovalSystems, s.Settings
	c.Roles, c.RoleBindings, c.Dashboards = s.Roles, s.RoleBindings, s.Dashboards
	for bp, es := range s.Entities {
		m := make(map[string]*catalog.Entity, len(es))
		for id, e := range es {
			m[id] = e.Git
		}
		c.Entities[bp] = m
	}
	return c
}

// decodeInto decodes a stored object into m[id].
func decodeInto[T any](m map[string]*T, id string, b []byte) error {
	v := new(T)
	if err := catalog.Decode(b, v); err != nil {
		return err
	}
	m[id] = v
	return nil
}

func setEntity(s *Snapshot, e *Entity) {
	es := s.Entities[e.Blueprint]
	if es == nil {
		es = map[string]*Entity{}
		s.Entities[e.Blueprint] = es
	}
	es[e.Identifier] = e
}

// Applied is what a reconcile applied, as the holder needs it.
type Applied struct {
	Revision string
	At       time.Time
	Catalog  *catalog.Catalog
	Objects  map[catalog.Key]catalog.Object
	// Created, Updated and Deleted list the objects the revision
	// changed; entities not listed keep their timestamps and, when no
	// blueprint or scorecard changed, their scorecard results.
	Created, Updated, Deleted map[catalog.Key]bool
}

// Publish replaces the state with a newly applied revision. Entities the
// revision did not touch keep their view (and runtime values); runtime
// values of surviving entities carry over.
func (h *Holder) Publish(a Applied) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.published(build(h.p.Load(), a), a.At)
}

// Prepared is a snapshot built ahead of its revision's publication, on
// the state current when it was built.
type Prepared struct {
	a    Applied
	base *Snapshot
	s    *Snapshot
}

// Prepare builds what Publish(a) would publish, without publishing it:
// the daemon builds the next state, scorecards included, while the store
// is still writing the revision, and publishes it once the write is
// done. Prepare may run concurrently with anything the holder does.
func (h *Holder) Prepare(a Applied) *Prepared {
	base := h.p.Load()
	return &Prepared{a: a, base: base, s: build(base, a)}
}

// Commit publishes a prepared snapshot. If the state moved on since it
// was prepared (a runtime write), it is built again on the current
// state, so that nothing published in between is lost.
func (h *Holder) Commit(p *Prepared) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := p.s
	if cur := h.p.Load(); cur != p.base {
		s = build(cur, p.a)
	}
	h.published(s, p.a.At)
}

// build returns the snapshot that follows prev once a is applied.
func build(prev *Snapshot, a Applied) *Snapshot {
	s := empty()
	s.Revision, s.AppliedAt = a.Revision, a.At
	s.Blueprints = a.Catalog.Blueprints
	s.Actions = a.Catalog.Actions
	s.Scorecards = a.Catalog.Scorecards
	s.Automations = a.Catalog.Automations
	s.Webhooks = a.Catalog.Webhooks
	s.ApprovalSystems = a.Catalog.ApprovalSystems
	s.Roles, s.RoleBindings, s.Access = a.Catalog.Roles, a.Catalog.RoleBindings, policy(a.Catalog)
	if a.Catalog.Dashboards != nil {
		s.Dashboards = a.Catalog.Dashboards
	}
	s.Settings = a.Catalog.Settings
	s.objects = a.Objects
	for bp, es := range a.Catalog.Entities {
		out := make(map[string]*Entity, len(es))
		old := prev.Entities[bp]
		for id, g := range es {
			k := catalog.Key{Kind: catalog.KindEntityObj, Blueprint: bp, ID: id}
			p := old[id]
			switch {
			case p != nil && p.Git == g:
				out[id] = p
			case p != nil:
				updated := p.UpdatedAt
				if a.Updated[k] || a.Created[k] {
					updated = a.At
				}
				out[id] = newEntity(g, p.CreatedAt, updated, p.Runtime, p.RuntimeAt, p.RuntimeBy)
			default:
				out[id] = newEntity(g, a.At, a.At, nil, time.Time{}, "")
			}
		}
		s.Entities[bp] = out
	}
	set, err := compileScores(a.Catalog)
	changed := a.changedEntities()
	if !reflect.DeepEqual(prev.Settings, a.Catalog.Settings) {
		changed = nil // the levels every scorecard ranks by may have changed
	}
	s.Scores = score(prev, s, set, err, changed)
	return s
}

// changedEntities lists the entities the revision touched, or nil when it
// changed anything else (a blueprint, a scorecard), which can change
// every entity's results.
func (a Applied) changedEntities() []catalog.Key {
	var out []catalog.Key
	for _, m := range []map[catalog.Key]bool{a.Created, a.Updated, a.Deleted} {
		for k := range m {
			if k.Kind != catalog.KindEntityObj {
				return nil
			}
			out = append(out, k)
		}
	}
	if out == nil {
		out = []catalog.Key{}
	}
	return out
}

// SetRuntime publishes new runtime values for one entity; it returns the
// entity as now served, or nil if the entity does not exist.
func (h *Holder) SetRuntime(blueprint, id string, runtime map[string]any, at time.Time, by string) *Entity {
	return h.setRuntime(blueprint, id, runtime, at, by, true)
}

// setRuntime is SetRuntime, reporting level moves or not.
func (h *Holder) setRuntime(blueprint, id string, runtime map[string]any, at time.Time, by string, moves bool) *Entity {
	h.mu.Lock()
	defer h.mu.Unlock()
	prev := h.p.Load()
	old := prev.Entity(blueprint, id)
	if old == nil {
		return nil
	}
	e := newEntity(old.Git, old.CreatedAt, old.UpdatedAt, runtime, at, by)
	s := &Snapshot{
		Revision: prev.Revision, Seq: prev.Seq, AppliedAt: prev.AppliedAt, Blueprints: prev.Blueprints,
		Actions: prev.Actions, Scorecards: prev.Scorecards, Automations: prev.Automations, Webhooks: prev.Webhooks,
		ApprovalSystems: prev.ApprovalSystems, Settings: prev.Settings, sources: prev.sources, objects: prev.objects, Entities: maps.Clone(prev.Entities),
		Roles: prev.Roles, RoleBindings: prev.RoleBindings, Access: prev.Access, Dashboards: prev.Dashboards,
	}
	s.Entities[blueprint] = maps.Clone(prev.Entities[blueprint])
	s.Entities[blueprint][id] = e
	// A runtime write changes neither identifiers nor relations, and
	// one entity's values: what prev built for searches carries over,
	// patched, instead of being built again by the next search.
	prev.build()
	s.once.Do(func() { s.ids, s.referrers = prev.ids, prev.referrers })
	s.idx, s.nums = prev.indexesAfter(old, e)
	// Runtime values can decide rules (health, last deployment).
	if prev.Scores != nil {
		s.Scores = score(prev, s, prev.Scores.Set, prev.Scores.Err, []catalog.Key{{Kind: catalog.KindEntityObj, Blueprint: blueprint, ID: id}})
	}
	if moves {
		h.published(s, at)
	} else {
		h.p.Store(s)
	}
	return e
}

// FromResult describes an applied reconcile for Publish.
func FromResult(res *reconciler.Result) Applied {
	a := Applied{
		Revision: res.Revision, At: res.At, Catalog: res.Catalog, Objects: res.Objects,
		Created: map[catalog.Key]bool{}, Updated: map[catalog.Key]bool{}, Deleted: map[catalog.Key]bool{},
	}
	for _, c := range res.Plan.Changes {
		switch c.Op {
		case store.OpCreate:
			a.Created[c.Key] = true
		case store.OpUpdate:
			a.Updated[c.Key] = true
		case store.OpDelete:
			a.Deleted[c.Key] = true
		}
	}
	return a
}

// Readable returns a test of whether g may read an entity of s, or nil
// when g reads every entity (the common case, which costs nothing). Every
// door that lists entities filters with it.
func (s *Snapshot) Readable(g *access.Grants) func(e *Entity) bool {
	if g.All(access.Read, access.Entity) {
		return nil
	}
	graph := s.Graph()
	var view query.Entity
	return func(e *Entity) bool {
		s.View(&view, e, true)
		return g.Allows(access.Read, access.Entity, &view, graph)
	}
}

// Fields says where the shown fields of an object are declared, in the
// order written (catalog.Object.Fields): nil for a state restored from
// the store, until the next reconcile loads the catalog again.
func (s *Snapshot) Fields(k catalog.Key) []catalog.FieldPos { return s.objects[k].Fields }
