package api

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/state"
)

// projection is the part of an entity a Port client asks for: include
// and exclude name fields ("identifier", "properties.language"),
// exclude_calculated_properties drops the blueprint's computed
// properties, attach_title_to_relation answers each relation target as
// {identifier, title}. Scripts ask for little so as to read little; the
// state's cached JSON is served as it is when nothing is asked.
type projection struct {
	Include      []string `json:"include"`
	Exclude      []string `json:"exclude"`
	NoCalculated bool     `json:"exclude_calculated_properties"`
	AttachTitles bool     `json:"attach_title_to_relation"`
	snap         *state.Snapshot
	readable     func(*state.Entity) bool
}

// projectionOf reads a projection from a query string: include and
// exclude repeated or comma-separated, the flags true or false.
func projectionOf(q url.Values) (projection, error) {
	var p projection
	list := func(k string) []string {
		var out []string
		for _, v := range q[k] {
			for f := range strings.SplitSeq(v, ",") {
				if f = strings.TrimSpace(f); f != "" {
					out = append(out, f)
				}
			}
		}
		return out
	}
	p.Include, p.Exclude = list("include"), list("exclude")
	for k, dst := range map[string]*bool{"exclude_calculated_properties": &p.NoCalculated, "attach_title_to_relation": &p.AttachTitles} {
		if v := q.Get(k); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return p, fmt.Errorf("%s %q: want true or false", k, v)
			}
			*dst = b
		}
	}
	return p, nil
}

// merge adds what a search body asks for to what the query string asks.
func (p projection) merge(o projection) projection {
	p.Include = append(p.Include, o.Include...)
	p.Exclude = append(p.Exclude, o.Exclude...)
	p.NoCalculated = p.NoCalculated || o.NoCalculated
	p.AttachTitles = p.AttachTitles || o.AttachTitles
	return p
}

func (p projection) active() bool {
	return len(p.Include) > 0 || len(p.Exclude) > 0 || p.NoCalculated || p.AttachTitles
}

// bind gives the projection the snapshot it resolves titles and
// computed properties in, and what the caller may read (a relation to
// an entity the caller may not read gets no title).
func (p projection) bind(snap *state.Snapshot, readable func(*state.Entity) bool) projection {
	p.snap, p.readable = snap, readable
	return p
}

// apply is the entity's JSON as the projection asks.
func (p projection) apply(e *state.Entity) (json.RawMessage, error) {
	b, err := e.MarshalJSON()
	if err != nil || !p.active() {
		return b, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if p.NoCalculated {
		if props, ok := m["properties"].(map[string]any); ok {
			for name := range computed(p.snap.Blueprints[e.Blueprint]) {
				delete(props, name)
			}
		}
	}
	if p.AttachTitles {
		if rels, ok := m["relations"].(map[string]any); ok {
			bp := p.snap.Blueprints[e.Blueprint]
			for name, v := range rels {
				rels[name] = p.titled(bp, name, v)
			}
		}
	}
	if len(p.Include) > 0 {
		kept := map[string]any{}
		for _, f := range p.Include {
			top, sub, nested := strings.Cut(f, ".")
			v, ok := m[top]
			if !ok {
				continue
			}
			if !nested {
				kept[top] = v
				continue
			}
			if inner, ok := v.(map[string]any); ok {
				if x, ok := inner[sub]; ok {
					dst, _ := kept[top].(map[string]any)
					if dst == nil {
						dst = map[string]any{}
						kept[top] = dst
					}
					dst[sub] = x
				}
			}
		}
		m = kept
	}
	for _, f := range p.Exclude {
		top, sub, nested := strings.Cut(f, ".")
		if !nested {
			delete(m, top)
		} else if inner, ok := m[top].(map[string]any); ok {
			delete(inner, sub)
		}
	}
	return json.Marshal(m)
}

// computed are a blueprint's properties pier computes rather than reads.
func computed(bp *catalog.Blueprint) map[string]bool {
	out := map[string]bool{}
	if bp == nil {
		return out
	}
	for k := range bp.MirrorProperties {
		out[k] = true
	}
	for k := range bp.CalculationProperties {
		out[k] = true
	}
	for k := range bp.AggregationProperties {
		out[k] = true
	}
	for k, prop := range bp.Schema.Properties {
		if prop.Calculation != nil {
			out[k] = true
		}
	}
	return out
}

// titled is a relation's value with its targets' titles.
func (p projection) titled(bp *catalog.Blueprint, name string, v any) any {
	target := ""
	if bp != nil {
		if rel, ok := bp.Relations[name]; ok {
			target = rel.Target
		}
	}
	one := func(id string) map[string]any {
		out := map[string]any{"identifier": id, "title": nil}
		if te := p.snap.Entity(target, id); te != nil && (p.readable == nil || p.readable(te)) {
			out["title"] = te.Title
		}
		return out
	}
	switch x := v.(type) {
	case string:
		return one(x)
	case []any:
		list := make([]any, 0, len(x))
		for _, id := range x {
			if s, ok := id.(string); ok {
				list = append(list, one(s))
			}
		}
		return list
	}
	return v
}
