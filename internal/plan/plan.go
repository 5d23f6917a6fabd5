// Package plan computes and renders the entity-level difference between two
// sets of catalog objects: what applying a revision would create, update
// and delete, and for updates which fields change.
//
// A plan is what a reviewer reads before a revision lands (as a pull-request
// comment or CLI output) and what the reconciler hands to the store, so the
// same value drives both: StoreChanges converts it without recomputing.
package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

// FieldOp is what happens to one field of an updated object.
type FieldOp string

const (
	FieldAdded   FieldOp = "added"
	FieldRemoved FieldOp = "removed"
	FieldChanged FieldOp = "changed"
)

// FieldChange is one difference between the old and new JSON documents of
// an updated object.
//
// Path names the field the way authors write it in their catalog files:
// plain identifiers bare, anything else quoted (properties."team-name").
// The empty path means the document as a whole, used only when a document
// cannot be decoded.
//
// Before and After hold decoded JSON values (nil, bool, string,
// json.Number, []any or map[string]any); Before is nil for an added field
// and After is nil for a removed one. A field explicitly set to null is
// therefore indistinguishable from a missing one by value alone; Op tells
// them apart.
type FieldChange struct {
	Path   string
	Op     FieldOp
	Before any
	After  any
}

// Change is what a plan does to one catalog object.
type Change struct {
	Key    catalog.Key
	Op     store.Op
	Before json.RawMessage // nil for a create
	After  json.RawMessage // nil for a delete
	Hash   string          // hash of After; empty for a delete
	// Fields lists the field-level differences of an update, ordered by
	// path. It is empty for creates and deletes, and may be empty for an
	// update whose documents differ only in encoding (key order,
	// whitespace), which canonical encoding does not produce.
	Fields []FieldChange
	// Source is where the object is declared in the new revision, or for
	// a delete where it was last known to be (often zero for stored
	// objects).
	Source catalog.Pos
}

// Plan is the ordered list of changes between two catalog states.
type Plan struct {
	// Changes are in catalog.Key order: blueprints first, as they must
	// be applied before the entities that use them.
	Changes []Change
}

// Counts tallies a plan's changes.
type Counts struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
	Deleted int `json:"deleted"`
}

// Total is the number of changes counted.
func (c Counts) Total() int { return c.Created + c.Updated + c.Deleted }

func (c *Counts) add(op store.Op) {
	switch op {
	case store.OpCreate:
		c.Created++
	case store.OpUpdate:
		c.Updated++
	case store.OpDelete:
		c.Deleted++
	}
}

// Compute returns the plan that turns before into after. Objects present
// only in after are created, those only in before are deleted, and those
// in both are updated when their hashes differ; identical objects are
// omitted. Hash is trusted as the change detector so that an unchanged
// catalog of any size costs one string comparison per object.
//
// The returned changes share the JSON byte slices of the input objects.
func Compute(before, after map[catalog.Key]catalog.Object) Plan {
	var changes []Change
	for k, a := range after {
		b, ok := before[k]
		switch {
		case !ok:
			changes = append(changes, Change{
				Key: k, Op: store.OpCreate, After: a.JSON, Hash: a.Hash, Source: a.Source,
			})
		case b.Hash != a.Hash:
			changes = append(changes, Change{
				Key: k, Op: store.OpUpdate, Before: b.JSON, After: a.JSON, Hash: a.Hash,
				Fields: DiffJSON(b.JSON, a.JSON), Source: a.Source,
			})
		}
	}
	for k, b := range before {
		if _, ok := after[k]; !ok {
			changes = append(changes, Change{
				Key: k, Op: store.OpDelete, Before: b.JSON, Source: b.Source,
			})
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Key.Less(changes[j].Key) })
	return Plan{Changes: changes}
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool { return len(p.Changes) == 0 }

// Counts returns the number of creates, updates and deletes per kind.
// Kinds without changes are absent.
func (p Plan) Counts() map[catalog.Kind]Counts {
	out := map[catalog.Kind]Counts{}
	for _, c := range p.Changes {
		n := out[c.Key.Kind]
		n.add(c.Op)
		out[c.Key.Kind] = n
	}
	return out
}

// Total returns the number of creates, updates and deletes over all kinds.
func (p Plan) Total() Counts {
	var n Counts
	for _, c := range p.Changes {
		n.add(c.Op)
	}
	return n
}

// kinds returns the kinds that have changes, in catalog order. Changes are
// sorted by key, and keys sort by kind first, so order of first
// appearance is catalog order.
func (p Plan) kinds() []catalog.Kind {
	var ks []catalog.Kind
	for _, c := range p.Changes {
		if !slices.Contains(ks, c.Key.Kind) {
			ks = append(ks, c.Key.Kind)
		}
	}
	return ks
}

// StoreChanges converts the plan to the changes the store applies.
func (p Plan) StoreChanges() []store.Change {
	out := make([]store.Change, len(p.Changes))
	for i, c := range p.Changes {
		out[i] = store.Change{
			Key: c.Key, Op: c.Op, Before: c.Before, After: c.After, Hash: c.Hash, Source: c.Source,
		}
	}
	return out
}

// DiffJSON returns the field-level differences between two JSON documents,
// ordered by path.
//
// Objects are walked key by key. Arrays are compared as whole values: in a
// catalog they are enums, team lists and query rules, where inserting one
// element would otherwise shift every later index and report each of them
// as changed; the before and after lists side by side read better.
//
// Numbers are decoded with UseNumber and compared by their JSON text, so
// 1 and 1.0 differ. That is deliberate: pier keeps numbers as written from
// the file through the store to the API, so changing 1 to 1.0 does change
// what clients read, the object hash changes with it, and a plan that
// reported an update with no field to show for it would be harder to
// trust than one that shows `1 -> 1.0`.
//
// A document that does not decode is reported as one change of the whole
// document (empty path) with the raw text as before and after values.
func DiffJSON(before, after []byte) []FieldChange {
	b, errB := decode(before)
	a, errA := decode(after)
	if errB != nil || errA != nil {
		if bytes.Equal(before, after) {
			return nil
		}
		return []FieldChange{{Op: FieldChanged, Before: string(before), After: string(after)}}
	}
	var out []FieldChange
	diffValue(&out, nil, b, a)
	return out
}

// decode parses one JSON document keeping numbers exact.
func decode(b []byte) (any, error) {
	var v any
	if err := catalog.Decode(b, &v); err != nil {
		return nil, fmt.Errorf("decode object: %w", err)
	}
	return v, nil
}

// diffValue appends the differences between b and a, found at path, to
// out. Sorting keys at every level yields output ordered by path without a
// final sort, which would misorder quoted elements.
func diffValue(out *[]FieldChange, path []string, b, a any) {
	bm, bok := b.(map[string]any)
	am, aok := a.(map[string]any)
	if bok && aok {
		keys := make([]string, 0, len(bm)+len(am))
		for k := range bm {
			keys = append(keys, k)
		}
		for k := range am {
			if _, ok := bm[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			bv, inB := bm[k]
			av, inA := am[k]
			p := append(path[:len(path):len(path)], k)
			switch {
			case !inB:
				*out = append(*out, FieldChange{Path: catalog.Path(p...), Op: FieldAdded, After: av})
			case !inA:
				*out = append(*out, FieldChange{Path: catalog.Path(p...), Op: FieldRemoved, Before: bv})
			default:
				diffValue(out, p, bv, av)
			}
		}
		return
	}
	if !equal(b, a) {
		*out = append(*out, FieldChange{Path: catalog.Path(path...), Op: FieldChanged, Before: b, After: a})
	}
}

// equal reports whether two decoded JSON values are identical, comparing
// numbers by their text (see DiffJSON).
func equal(b, a any) bool {
	switch b := b.(type) {
	case nil:
		return a == nil
	case bool:
		a, ok := a.(bool)
		return ok && a == b
	case string:
		a, ok := a.(string)
		return ok && a == b
	case json.Number:
		a, ok := a.(json.Number)
		return ok && a == b
	case []any:
		a, ok := a.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range b {
			if !equal(b[i], a[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		a, ok := a.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, bv := range b {
			av, ok := a[k]
			if !ok || !equal(bv, av) {
				return false
			}
		}
		return true
	}
	return false
}
