package schema

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"cuelang.org/go/cue/literal"

	"github.com/pierhq/pier/internal/catalog"
)

// IdentifierPattern is Port's identifier rule, shared by #Identifier and
// the Go validator.
const IdentifierPattern = `^[A-Za-z0-9@_.+:/=-]+$`

// Patterns of the string formats that CUE has no builtin for. The Go
// validator uses the same expressions, so both agree by construction;
// date-time and ip formats use CUE's time and net builtins, which the Go
// validator mirrors with the same standard-library calls.
const (
	EmailPattern = `^[^@\s]+@[^@\s]+\.[^@\s]+$`
	URLPattern   = `^[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#]+[^\s]*$`
)

// EntityDefinition compiles a blueprint into CUE source declaring
// `#Entity`: the closed shape of that blueprint's entities. Computed and
// runtime-owned properties are left out, so an entity in git that sets one
// is rejected as a field that is not allowed. A schema property that
// shares its name with a calculation, mirror or aggregation property is
// computed, and left out too.
//
// A required property must be present and not null; an optional one may
// be null. Numbers compare by value: an enum member 1 admits 1, 1.0 and
// 1e0 (written as the bounds >=1 & <=1, since CUE's int 1 and float 1.0
// do not unify). uniqueItems is CUE's list.UniqueItems, under which an
// integer never equals a decimal: [1, 1.0] has no duplicate, [1.0, 1e0]
// has. A schema without a type (array items may omit it) admits any value
// and applies each constraint to the kind it is about, as JSON Schema
// does: pattern to strings, minimum to numbers, enum to all.
//
// The result is the reference semantics for entity validation: pier's
// fast Go validator is tested against it (see the differential tests).
func EntityDefinition(bp *catalog.Blueprint) string {
	var b strings.Builder
	b.WriteString("import (\n\t\"list\"\n\t\"net\"\n\t\"strings\"\n\t\"time\"\n)\n\n")
	b.WriteString("_imports: [list.MinItems, net.IPv4, strings.MinRunes, time.Time]\n\n")
	b.WriteString("#Entity: {\n")
	fmt.Fprintf(&b, "\tidentifier?: =~%s\n", quote(IdentifierPattern))
	b.WriteString("\ttitle?: string\n\ticon?: string\n\tteam?: string | [...string]\n")
	b.WriteString("\tproperties: {\n")
	required := map[string]bool{}
	for _, r := range bp.Schema.Required {
		required[r] = true
	}
	computed := func(name string) bool {
		_, calc := bp.CalculationProperties[name]
		_, mirror := bp.MirrorProperties[name]
		_, agg := bp.AggregationProperties[name]
		return calc || mirror || agg
	}
	for _, name := range slices.Sorted(maps.Keys(bp.Schema.Properties)) {
		p := bp.Schema.Properties[name]
		if p.Runtime || p.Calculation != nil || computed(name) {
			continue
		}
		switch {
		case required[name] && !typed(p.Type):
			fmt.Fprintf(&b, "\t\t%s!: (%s) & !=null\n", quote(name), propertyType(&p))
		case required[name]:
			fmt.Fprintf(&b, "\t\t%s!: %s\n", quote(name), propertyType(&p))
		default:
			fmt.Fprintf(&b, "\t\t%s?: null | (%s)\n", quote(name), propertyType(&p))
		}
	}
	b.WriteString("\t}\n\trelations: {\n")
	for _, name := range slices.Sorted(maps.Keys(bp.Relations)) {
		r := bp.Relations[name]
		switch {
		case r.Required && r.Many:
			fmt.Fprintf(&b, "\t\t%s!: [string, ...string]\n", quote(name))
		case r.Required:
			fmt.Fprintf(&b, "\t\t%s!: string\n", quote(name))
		case r.Many:
			fmt.Fprintf(&b, "\t\t%s?: null | [...string]\n", quote(name))
		default:
			fmt.Fprintf(&b, "\t\t%s?: null | string\n", quote(name))
		}
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// propertyType renders one property's constraint as a CUE expression.
func propertyType(p *catalog.Property) string {
	var parts []string
	switch p.Type {
	case "string":
		parts = append(parts, "string")
		if p.MinLength != nil {
			parts = append(parts, fmt.Sprintf("strings.MinRunes(%d)", *p.MinLength))
		}
		if p.MaxLength != nil {
			parts = append(parts, fmt.Sprintf("strings.MaxRunes(%d)", *p.MaxLength))
		}
		if p.Pattern != "" {
			parts = append(parts, "=~"+quote(p.Pattern))
		}
		switch p.Format {
		case "date-time", "timer":
			parts = append(parts, "time.Time")
		case "email":
			parts = append(parts, "=~"+quote(EmailPattern))
		case "url":
			parts = append(parts, "=~"+quote(URLPattern))
		case "ipv4":
			parts = append(parts, "net.IPv4")
		case "ipv6":
			parts = append(parts, "net.IPv6")
		}
	case "number":
		parts = append(parts, "number")
		// A space after the operator: "<-1" would scan as CUE's arrow
		// token "<-".
		if p.Minimum != nil {
			parts = append(parts, ">= "+p.Minimum.String())
		}
		if p.Maximum != nil {
			parts = append(parts, "<= "+p.Maximum.String())
		}
		if p.ExclusiveMinimum != nil {
			parts = append(parts, "> "+p.ExclusiveMinimum.String())
		}
		if p.ExclusiveMaximum != nil {
			parts = append(parts, "< "+p.ExclusiveMaximum.String())
		}
	case "boolean":
		parts = append(parts, "bool")
	case "object":
		parts = append(parts, "{...}")
	case "array":
		item := "_"
		if p.Items != nil {
			item = propertyType(p.Items)
		}
		parts = append(parts, fmt.Sprintf("[...(%s)]", item))
		if p.MinItems != nil {
			parts = append(parts, fmt.Sprintf("list.MinItems(%d)", *p.MinItems))
		}
		if p.MaxItems != nil {
			parts = append(parts, fmt.Sprintf("list.MaxItems(%d)", *p.MaxItems))
		}
		if p.UniqueItems {
			parts = append(parts, "list.UniqueItems()")
		}
	default:
		parts = append(parts, untypedType(p))
	}
	if len(p.Enum) > 0 {
		alts := make([]string, len(p.Enum))
		for i, e := range p.Enum {
			alts[i] = literalOf(e)
		}
		parts = append(parts, "("+strings.Join(alts, " | ")+")")
	}
	return strings.Join(parts, " & ")
}

// untypedType renders a schema without a type: any value, with each
// constraint applied to the values of its kind.
func untypedType(p *catalog.Property) string {
	alts := []string{"null", "bool"}
	plain := true
	for _, typ := range []string{"string", "number", "array"} {
		q := *p
		q.Type, q.Enum = typ, nil
		t := propertyType(&q)
		if t != map[string]string{"string": "string", "number": "number", "array": "[...(_)]"}[typ] {
			plain = false
		}
		alts = append(alts, "("+t+")")
	}
	if plain {
		return "_"
	}
	return strings.Join(append(alts, "{...}"), " | ")
}

func typed(typ string) bool {
	switch typ {
	case "string", "number", "boolean", "object", "array":
		return true
	}
	return false
}

// literalOf renders an enum member. A number becomes the pair of bounds
// that admits exactly its value, whether written as an integer or not.
func literalOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return quote(v)
	case bool:
		return fmt.Sprint(v)
	case json.Number:
		return fmt.Sprintf(">= %s & <= %s", v, v)
	case float64:
		n := strconv.FormatFloat(v, 'g', -1, 64)
		return fmt.Sprintf(">= %s & <= %s", n, n)
	case int:
		return fmt.Sprintf(">= %d & <= %d", v, v)
	}
	// Not a member a blueprint may have (its shape allows only scalars);
	// JSON is CUE.
	b, _ := json.Marshal(v)
	return string(b)
}

func quote(s string) string { return literal.String.Quote(s) }
