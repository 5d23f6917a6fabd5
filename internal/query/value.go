package query

import (
	"encoding/json"
	"time"
)

// kind is the JSON type of a resolved value.
type kind uint8

const (
	kMissing kind = iota // no such property
	kNull
	kString
	kNumber
	kBool
	kTime    // $createdAt, $updatedAt
	kArray   // []any
	kStrings // []string: $team, or a runtime value
	kObject
	kOther // a Go type JSON does not produce; matches nothing
)

// value is a resolved property value. It is passed by value and refers
// to the entity's own data, so resolving a property never allocates: raw
// holds either the interface value already stored in the entity's maps
// or a pointer to one of its fields, and neither needs boxing. It is
// kept small because every rule evaluation copies one.
type value struct {
	k   kind
	b   bool   // kBool
	s   string // kString
	raw any    // kNumber: the number; kArray: []any; kStrings: []string or *[]string; kTime: time.Time or *time.Time; kObject
}

func valueOf(v any) value {
	switch x := v.(type) {
	case nil:
		return value{k: kNull}
	case string:
		return value{k: kString, s: x}
	case bool:
		return value{k: kBool, b: x}
	case json.Number, float64, float32, int, int64, int32, uint, uint64, uint32:
		return value{k: kNumber, raw: v}
	case []any:
		return value{k: kArray, raw: v}
	case []string:
		return value{k: kStrings, raw: v}
	case map[string]any:
		return value{k: kObject, raw: v}
	case time.Time:
		if x.IsZero() {
			return value{}
		}
		return value{k: kTime, raw: v}
	}
	return value{k: kOther}
}

// timeField reads one of the entity's time fields; a zero time is
// missing, since the entity has no such date.
func timeField(t *time.Time) value {
	if t.IsZero() {
		return value{}
	}
	return value{k: kTime, raw: t}
}

// resolve reads the property p names from e. Plain names are looked up
// in runtime values, then properties, then relations, so that a relation
// identifier reads as the related entity's identifier (or identifiers).
// A dotted name that is not itself a key descends into object values.
func resolve(e *Entity, p *prop) value {
	switch p.meta {
	case propIdentifier:
		return value{k: kString, s: e.Identifier}
	case propTitle:
		return value{k: kString, s: e.Title}
	case propBlueprint:
		return value{k: kString, s: e.Blueprint}
	case propIcon:
		return value{k: kString, s: e.Icon}
	case propTeam:
		return value{k: kStrings, raw: &e.Team}
	case propCreatedAt:
		return timeField(&e.CreatedAt)
	case propUpdatedAt:
		return timeField(&e.UpdatedAt)
	case propScorecard:
		if e.Scorecards == nil {
			return value{}
		}
		if lvl, ok := e.Scorecards.Level(p.name); ok {
			return value{k: kString, s: lvl}
		}
		return value{}
	}
	if v, ok := lookupPath(e, p); ok {
		return valueOf(v)
	}
	return value{}
}

// Lookup returns the value a rule on a plain (not $-prefixed) property
// reads from e: a runtime value, a property or a relation of that name,
// or else the value at the dotted path into object properties. Indexes
// that narrow searches file entities under it, so that they can only
// ever agree with the engine.
func Lookup(e *Entity, property string) (any, bool) {
	p, err := compileProp(property)
	if err != nil || p.meta != propPlain {
		return nil, false
	}
	return lookupPath(e, &p)
}

func lookupPath(e *Entity, p *prop) (any, bool) {
	if v, ok := lookup(e, p.name); ok {
		return v, true
	}
	if p.path == nil {
		return nil, false
	}
	v, ok := lookup(e, p.path[0])
	for _, seg := range p.path[1:] {
		if !ok {
			break
		}
		m, isMap := v.(map[string]any)
		if !isMap {
			return nil, false
		}
		v, ok = m[seg]
	}
	return v, ok
}

func lookup(e *Entity, name string) (any, bool) {
	if v, ok := e.Runtime[name]; ok {
		return v, true
	}
	if v, ok := e.Properties[name]; ok {
		return v, true
	}
	v, ok := e.Relations[name]
	return v, ok
}

// strings returns the elements of a kStrings value.
func (v *value) strings() []string {
	if p, ok := v.raw.(*[]string); ok {
		return *p
	}
	return v.raw.([]string)
}

// elems returns the number of elements of an array value; elem reads one.
func (v *value) elems() int {
	if v.k == kStrings {
		return len(v.strings())
	}
	return len(v.raw.([]any))
}

func (v *value) elem(i int) value {
	if v.k == kStrings {
		return value{k: kString, s: v.strings()[i]}
	}
	return valueOf(v.raw.([]any)[i])
}

func (v *value) isArray() bool { return v.k == kArray || v.k == kStrings }

// timeOf reads a value as an instant: a time, or a string that parses as
// an RFC 3339 date-time.
func (v *value) timeOf() (time.Time, bool) {
	switch v.k {
	case kTime:
		if p, ok := v.raw.(*time.Time); ok {
			return *p, true
		}
		return v.raw.(time.Time), true
	case kString:
		t, _, ok := parseTime(v.s)
		return t, ok
	}
	return time.Time{}, false
}
