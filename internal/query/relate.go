package query

import (
	"slices"
	"sync"

	"github.com/pierhq/pier/internal/catalog"
)

// Referrers is an optional extension of Graph. A Matcher over a graph
// that implements it answers downstream relatedTo rules with one walk
// per search instead of one walk per entity.
type Referrers interface {
	// Referrers returns the entities with a relation to the given one.
	Referrers(blueprint, identifier string) []catalog.Key
}

// nodeKey identifies an entity in the relation graph.
type nodeKey struct{ blueprint, id string }

// relCache holds what a Matcher learned about the graph for one
// relatedTo rule.
type relCache struct {
	// up is every entity the given entities reach (upstream of them).
	up map[nodeKey]struct{}
	// down is every entity that reaches a given entity (downstream of
	// them), when the graph can list referrers.
	down map[nodeKey]struct{}
}

// related implements relatedTo. Port's direction is seen from the given
// entity: upstream finds what it depends on (the given entity reaches the
// candidate by following relations), downstream finds what depends on it
// (the candidate reaches the given entity). Without a direction either
// will do. Reaching means through one or more relations, so an entity is
// related to itself only through a cycle.
func (c *evalCtx) related(r *relRule) bool {
	if c.g == nil {
		return false
	}
	var cache *relCache
	if c.cache != nil {
		cache = &c.cache[r.slot]
	}
	if r.down && c.downstream(r, cache) {
		return true
	}
	if !r.up {
		return false
	}
	self := nodeKey{c.e.Blueprint, c.e.Identifier}
	if cache == nil {
		return walk(c.g, c.givens(r), r.required, func(k nodeKey) bool { return k == self })
	}
	if cache.up == nil {
		cache.up = map[nodeKey]struct{}{}
		walk(c.g, c.givens(r), r.required, func(k nodeKey) bool {
			cache.up[k] = struct{}{}
			return false
		})
	}
	_, ok := cache.up[self]
	return ok
}

// downstream reports whether the candidate reaches a given entity. With a
// cache and a graph that lists referrers, it checks the candidate's own
// relations against the set of entities that reach a given one; the
// candidate's relations are read from the candidate, not the graph, so
// an entity that is not stored yet is judged on what it declares.
func (c *evalCtx) downstream(r *relRule, cache *relCache) bool {
	isGiven := func(k nodeKey) bool { return k.blueprint == r.blueprint && slices.Contains(r.ids, k.id) }
	refs, ok := c.g.(Referrers)
	if cache == nil || !ok {
		return walk(c.g, []*catalog.Entity{c.e.Entity}, r.required, isGiven)
	}
	if cache.down == nil {
		cache.down = reachers(c.g, refs, r)
	}
	bp := c.g.Blueprint(c.e.Blueprint)
	if bp == nil {
		return false
	}
	var buf [8]string
	for name, v := range c.e.Relations {
		rel, ok := bp.Relations[name]
		if !ok || !r.required.accepts(rel.Required) {
			continue
		}
		for _, id := range catalog.AppendIdentifiers(buf[:0], v) {
			k := nodeKey{rel.Target, id}
			if _, in := cache.down[k]; in || isGiven(k) {
				return true
			}
		}
	}
	return false
}

func (c *evalCtx) givens(r *relRule) []*catalog.Entity {
	var out []*catalog.Entity
	for _, id := range r.ids {
		if e := c.g.Entity(r.blueprint, id); e != nil {
			out = append(out, e)
		}
	}
	return out
}

// walk visits, breadth first, every entity reachable from the start
// entities by following relations the filter accepts, calling visit once
// per reached key; it stops and returns true as soon as visit does.
// A relation whose blueprint the graph does not know cannot be followed
// and is skipped; a target the graph does not hold is visited but is a
// dead end.
func walk(g Graph, start []*catalog.Entity, req reqFilter, visit func(nodeKey) bool) bool {
	seen := make(map[nodeKey]struct{}, 8)
	queue := make([]*catalog.Entity, 0, len(start))
	for _, e := range start {
		if e != nil {
			queue = append(queue, e)
		}
	}
	var ids []string
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		bp := g.Blueprint(e.Blueprint)
		if bp == nil {
			continue
		}
		for name, v := range e.Relations {
			rel, ok := bp.Relations[name]
			if !ok || !req.accepts(rel.Required) {
				continue
			}
			ids = catalog.AppendIdentifiers(ids[:0], v)
			for _, id := range ids {
				k := nodeKey{rel.Target, id}
				if _, ok := seen[k]; ok {
					continue
				}
				seen[k] = struct{}{}
				if visit(k) {
					return true
				}
				if next := g.Entity(k.blueprint, k.id); next != nil {
					queue = append(queue, next)
				}
			}
		}
	}
	return false
}

// reachers returns every entity that reaches one of r's given entities
// through relations r's filter accepts, walking referrers backwards.
func reachers(g Graph, refs Referrers, r *relRule) map[nodeKey]struct{} {
	out := map[nodeKey]struct{}{}
	queue := make([]nodeKey, 0, len(r.ids))
	for _, id := range r.ids {
		queue = append(queue, nodeKey{r.blueprint, id})
	}
	var ids []string
	for len(queue) > 0 {
		to := queue[0]
		queue = queue[1:]
		for _, ref := range refs.Referrers(to.blueprint, to.id) {
			k := nodeKey{ref.Blueprint, ref.ID}
			if _, ok := out[k]; ok {
				continue
			}
			// The referrer may point at `to` only through relations the
			// filter rejects; check the edge itself.
			e := g.Entity(k.blueprint, k.id)
			if e == nil {
				continue
			}
			bp := g.Blueprint(e.Blueprint)
			if bp == nil {
				continue
			}
			edge := false
			for name, v := range e.Relations {
				rel, ok := bp.Relations[name]
				if !ok || rel.Target != to.blueprint || !r.required.accepts(rel.Required) {
					continue
				}
				ids = catalog.AppendIdentifiers(ids[:0], v)
				if slices.Contains(ids, to.id) {
					edge = true
					break
				}
			}
			if edge {
				out[k] = struct{}{}
				queue = append(queue, k)
			}
		}
	}
	return out
}

// GraphOf adapts a loaded catalog to Graph. The result also implements
// Referrers, indexing the catalog's relations on first use; the catalog
// must not change while the graph is in use.
func GraphOf(c *catalog.Catalog) Graph { return &catalogGraph{c: c} }

type catalogGraph struct {
	c    *catalog.Catalog
	once sync.Once
	refs map[nodeKey][]catalog.Key
}

func (g *catalogGraph) Entity(blueprint, identifier string) *catalog.Entity {
	return g.c.Entities[blueprint][identifier]
}

func (g *catalogGraph) Blueprint(identifier string) *catalog.Blueprint {
	return g.c.Blueprints[identifier]
}

func (g *catalogGraph) Referrers(blueprint, identifier string) []catalog.Key {
	g.once.Do(func() {
		g.refs = map[nodeKey][]catalog.Key{}
		var ids []string
		for _, es := range g.c.Entities {
			for _, e := range es {
				bp := g.c.Blueprints[e.Blueprint]
				if bp == nil {
					continue
				}
				from := catalog.Key{Kind: catalog.KindEntityObj, Blueprint: e.Blueprint, ID: e.Identifier}
				for name, v := range e.Relations {
					rel, ok := bp.Relations[name]
					if !ok {
						continue
					}
					for _, id := range catalog.AppendIdentifiers(ids[:0], v) {
						k := nodeKey{rel.Target, id}
						// An entity with two relations to the same
						// target is listed once.
						if l := g.refs[k]; len(l) == 0 || l[len(l)-1] != from {
							g.refs[k] = append(l, from)
						}
					}
				}
			}
		}
	})
	return g.refs[nodeKey{blueprint, identifier}]
}
