package compute

import (
	"slices"

	"github.com/pierhq/pier/internal/catalog"
)

// Affected returns, sorted, the entities whose computed values may
// change when the entities changed names changed (were added, edited or
// removed): the changed entities themselves, those whose mirrors pass
// through or end on them, those that aggregate over them, and so on
// transitively, since a changed computed value is itself a change. An
// entity reached only because some of its computed values may change
// propagates only to mirrors that read those values and aggregations
// that aggregate or filter on them, so a team whose cost sum changes
// does not make its services' mirror of its Slack channel stale. It
// walks the snapshot's reverse index, so its cost follows the number of
// entities reached, not the size of the catalog.
//
// It works on the relations of this snapshot. A change that removes or
// redirects a relation also affects what the old relation reached: the
// caller should join the Affected of the previous snapshot (Rebind
// does). Keys of entities that no longer exist are kept, as
// they name values to drop.
//
// Aggregation filters that use relatedTo can depend on entities that
// are not related to the aggregating one; Affected does not follow
// those, and Plan.Incremental says so.
func (s *Snapshot) Affected(changed []catalog.Key) []catalog.Key {
	// What may have changed, per entity: its declared data (everything),
	// or only some of its computed properties.
	type change struct {
		declared bool
		props    map[string]bool
	}
	seen := map[catalog.Key]*change{}
	var work []catalog.Key
	for _, k := range changed {
		if k.Kind == catalog.KindEntityObj && seen[k] == nil {
			seen[k] = &change{declared: true}
			work = append(work, k)
		}
	}
	// mark records that the computed property pr (and what depends on it
	// on the same blueprint) of k may change.
	mark := func(k catalog.Key, pr *prop) {
		ch := seen[k]
		if ch == nil {
			ch = &change{}
			seen[k] = ch
		}
		if ch.declared || ch.props[pr.name] {
			return
		}
		if ch.props == nil {
			ch.props = map[string]bool{}
		}
		grew := false
		for _, d := range s.p.closure(pr) {
			if !ch.props[d.name] {
				ch.props[d.name] = true
				grew = true
			}
		}
		if grew {
			work = append(work, k)
		}
	}
	for len(work) > 0 {
		k := work[len(work)-1]
		work = work[:len(work)-1]
		ch := seen[k]
		// Mirrors that land on k's blueprint at hop i: a change of k's
		// relations matters to every such mirror, a change of a
		// computed value only to mirrors that end by reading it.
		for _, mh := range s.p.mirrorsVia[k.Blueprint] {
			m := mh.m
			if !ch.declared && (mh.i < len(m.hops) || m.leafKind != leafComputed || !ch.props[m.leaf]) {
				continue
			}
			cur := []catalog.Key{k}
			for i := mh.i; i >= 1 && len(cur) > 0; i-- {
				from := m.blueprint
				if i > 1 {
					from = m.hopBP[i-2]
				}
				cur = s.referrers(cur, from, m.hops[i-1])
			}
			for _, x := range cur {
				mark(x, m)
			}
		}
		// Aggregations over k's blueprint, when k's relations or a value
		// they read may have changed.
		for _, pr := range s.p.aggsOver[k.Blueprint] {
			if !ch.declared && !slices.ContainsFunc(pr.selfDeps, func(n string) bool { return ch.props[n] }) {
				continue
			}
			if pr.incoming {
				if e := s.c.Entities[k.Blueprint][k.ID]; e != nil {
					for _, rel := range pr.rels {
						for _, id := range catalog.Identifiers(e.Relations[rel]) {
							mark(entityKey(pr.blueprint, id), pr)
						}
					}
				}
			} else {
				for _, r := range s.refs[k] {
					if r.from.Blueprint == pr.blueprint && slices.Contains(pr.rels, r.rel) {
						mark(r.from, pr)
					}
				}
			}
		}
	}
	out := make([]catalog.Key, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sortKeys(out)
	return out
}

// referrers returns the entities of blueprint from that point at one of
// to through relation rel.
func (s *Snapshot) referrers(to []catalog.Key, from, rel string) []catalog.Key {
	var out []catalog.Key
	seen := map[catalog.Key]bool{}
	for _, k := range to {
		for _, r := range s.refs[k] {
			if r.rel == rel && r.from.Blueprint == from && !seen[r.from] {
				seen[r.from] = true
				out = append(out, r.from)
			}
		}
	}
	return out
}

func sortKeys(out []catalog.Key) {
	slices.SortFunc(out, func(a, b catalog.Key) int {
		if a.Less(b) {
			return -1
		}
		if b.Less(a) {
			return 1
		}
		return 0
	})
}
