package state

import (
	"time"

	"github.com/pierhq/pier/internal/catalog"
)

// Origin is where the value of one of an entity's properties comes from,
// so that every door (the portal's entity page, the API and so the CLI's
// describe) tells a reader the same thing about who owns a value.
type Origin struct {
	// Kind is "git" (Pos declares it), "runtime" (written through the API
	// by By at At), "computed" (How) or "unset".
	Kind string      `json:"kind"`
	Pos  catalog.Pos `json:"pos,omitzero"`
	By   string      `json:"by,omitempty"`
	At   time.Time   `json:"at,omitzero"`
	How  string      `json:"how,omitempty"`
}

// Origins returns a function telling where each of e's properties comes
// from; b is e's blueprint.
func (s *Snapshot) Origins(b *catalog.Blueprint, e *Entity) func(prop string) Origin {
	key := catalog.Key{Kind: catalog.KindEntityObj, Blueprint: e.Blueprint, ID: e.Identifier}
	lines := map[string]catalog.Pos{}
	for _, f := range s.Fields(key) {
		lines[f.Name] = f.Pos
	}
	entityPos := s.Source(key)
	return func(prop string) Origin {
		if _, ok := e.Runtime[prop]; ok {
			return Origin{Kind: "runtime", By: e.RuntimeBy, At: e.RuntimeAt}
		}
		if how, ok := ComputedHow(b, prop); ok {
			return Origin{Kind: "computed", How: how}
		}
		if _, ok := e.Properties[prop]; ok {
			pos, found := lines[prop]
			if !found {
				pos = entityPos
			}
			return Origin{Kind: "git", Pos: pos}
		}
		return Origin{Kind: "unset"}
	}
}

// ComputedHow says how pier computes a blueprint's property, if it does.
func ComputedHow(b *catalog.Blueprint, k string) (string, bool) {
	if m, ok := b.MirrorProperties[k]; ok {
		return "mirror of " + m.Path, true
	}
	if _, ok := b.CalculationProperties[k]; ok {
		return "calculation", true
	}
	if a, ok := b.AggregationProperties[k]; ok {
		return "aggregation (" + a.CalculationSpec.Func + " over " + a.Target + ")", true
	}
	if p, ok := b.Schema.Properties[k]; ok && p.Calculation != nil {
		return "formula", true
	}
	return "", false
}
