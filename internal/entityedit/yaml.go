package entityedit

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// yamlDoc is a parsed YAML file. yaml.v3 (the library CUE decodes YAML
// with) gives each node's start line and column but no end, so the ends
// of the values pier replaces or inserts after are found by scanning the
// source: to the end of a one-line scalar, to the bracket closing a flow
// collection, to the end of the last member of a block collection. A
// scanned scalar is decoded again and must give the node's value; when it
// does not (a scalar continued on the next lines) the edit is refused.
type yamlDoc struct {
	file  string
	src   text
	lines []int // offset of the start of each line
	unit  string
}

// ymap is a mapping fields can be set in: a mapping node, or the null of
// a key with nothing after its colon.
type ymap struct {
	n          *yaml.Node
	key        *yaml.Node // nil for the document's root
	parentFlow bool       // the mapping holding key is a flow mapping
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): `)

func planYAML(file string, src []byte, blueprint, id string, changes []Change) ([]edit, error) {
	d := &yamlDoc{file: file, src: src, lines: []int{0}}
	for i, b := range src {
		if b == '\n' {
			d.lines = append(d.lines, i+1)
		}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		line, msg := 1, strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = err.Error()[len(m[0]):]
		}
		return nil, errorf(file, line, 1, "%s", msg)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, errorf(file, 1, 1, "entity %s/%s is not declared in this file", blueprint, id)
	}
	m := ymap{n: doc.Content[0]}
	var keys []*yaml.Node
	for _, name := range []string{"entities", blueprint, id} {
		k, v, err := d.get(m, name)
		if err != nil {
			return nil, err
		}
		if k == nil {
			return nil, errorf(file, 1, 1, "entity %s/%s is not declared in this file", blueprint, id)
		}
		keys = append(keys, k)
		m = ymap{n: v, key: k, parentFlow: isFlow(m.n)}
	}
	entity := m
	if err := d.editable(entity, "entity "+blueprint+"/"+id); err != nil {
		return nil, err
	}
	d.unit = "  "
	if n := entity.n; n.Kind == yaml.MappingNode && !isFlow(n) && len(n.Content) > 0 && n.Content[0].Column > keys[2].Column {
		d.unit = strings.Repeat(" ", n.Content[0].Column-keys[2].Column)
	} else if keys[2].Column > keys[1].Column {
		d.unit = strings.Repeat(" ", keys[2].Column-keys[1].Column)
	}

	type groupKey struct {
		n     *yaml.Node
		after int
	}
	type group struct {
		m     ymap
		after int
		fs    fields
	}
	groups := map[groupKey]*group{}
	var order []*group
	var edits []edit
	for _, c := range changes {
		m, rest := entity, []string{c.Name}
		if c.Section != "" {
			k, v, err := d.get(entity, c.Section)
			if err != nil {
				return nil, err
			}
			if k == nil {
				rest = []string{c.Section, c.Name}
			} else {
				m = ymap{n: v, key: k, parentFlow: isFlow(entity.n)}
				if err := d.editable(m, c.Section); err != nil {
					return nil, err
				}
			}
		}
		if len(rest) == 1 {
			k, v, err := d.get(m, c.Name)
			if err != nil {
				return nil, err
			}
			if k != nil {
				e, ok, err := d.replace(m, k, v, c)
				if err != nil {
					return nil, err
				}
				if ok {
					edits = append(edits, e)
				}
				continue
			}
		}
		after := -1
		if m.n.Kind == yaml.MappingNode {
			names := make([]string, len(m.n.Content)/2)
			for i := range names {
				names[i] = m.n.Content[2*i].Value
			}
			after = insertAfter(names, rest[0], m.n == entity.n)
			if isFlow(m.n) {
				after = len(names) - 1
			}
		}
		k := groupKey{m.n, after}
		if groups[k] == nil {
			groups[k] = &group{m: m, after: after}
			order = append(order, groups[k])
		}
		groups[k].fs.add(rest, c.Value)
	}
	for _, g := range order {
		e, err := d.insert(g.m, g.after, g.fs)
		if err != nil {
			return nil, err
		}
		edits = append(edits, e)
	}
	return edits, nil
}

func isFlow(n *yaml.Node) bool { return n.Style&yaml.FlowStyle != 0 }

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" && n.Style == 0 && n.Anchor == ""
}

func (d *yamlDoc) errorf(n *yaml.Node, format string, args ...any) error {
	return errorf(d.file, n.Line, n.Column, format, args...)
}

// get finds the member name of m; a missing one is (nil, nil, nil).
func (d *yamlDoc) get(m ymap, name string) (k, v *yaml.Node, err error) {
	n, what := m.n, "the document"
	if m.key != nil {
		what = m.key.Value
	}
	switch {
	case isNull(n):
		return nil, nil, nil
	case n.Kind == yaml.AliasNode:
		return nil, nil, d.errorf(n, "%s is an alias (*%s); pier does not edit through anchors", what, n.Value)
	case n.Kind != yaml.MappingNode:
		return nil, nil, d.errorf(n, "%s must be a mapping", what)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		if key.Kind == yaml.ScalarNode && key.Value == "<<" && key.Style == 0 {
			return nil, nil, d.errorf(key, "merge keys (<<) are not supported: the fields of this mapping are spread over several places")
		}
		if key.Kind == yaml.ScalarNode && key.Value == name {
			if k != nil {
				return nil, nil, d.errorf(key, "%s is declared twice (first at line %d)", name, k.Line)
			}
			k, v = key, n.Content[i+1]
		}
	}
	return k, v, nil
}

// editable refuses a mapping pier would insert into but should not: one
// shared through an anchor, or not a mapping at all.
func (d *yamlDoc) editable(m ymap, what string) error {
	switch {
	case m.n.Kind == yaml.AliasNode || m.n.Anchor != "":
		return d.errorf(m.n, "%s is shared through an anchor; pier does not edit through anchors", what)
	case m.n.Kind != yaml.MappingNode && !isNull(m.n):
		return d.errorf(m.n, "%s must be a mapping", what)
	}
	return nil
}

// replace replaces the value v of key k in m with c's value.
func (d *yamlDoc) replace(m ymap, k, v *yaml.Node, c Change) (edit, bool, error) {
	cur, why := yamlValue(v)
	if why != "" {
		return edit{}, false, d.errorf(v, "%s is not a value pier can replace: %s", c.describe(), why)
	}
	if same(cur, c.Value) {
		return edit{}, false, nil
	}
	start, end, err := d.span(k, v, isFlow(m.n))
	if err != nil {
		return edit{}, false, err
	}
	if isFlow(m.n) {
		return edit{start, end, d.flow(c.Value)}, true, nil
	}
	t := d.block(c.Value, d.indentOf(k)+d.unit)
	if strings.HasPrefix(t, " ") && start < end && (v.Kind == yaml.ScalarNode || isFlow(v)) {
		return edit{start, end, t[1:]}, true, nil // keeps the spacing after the colon
	}
	colon, err := d.colonAfter(k)
	return edit{colon, end, t}, true, err
}

// octalLike are the integers CUE reads as octal (0123 is 83).
var octalLike = regexp.MustCompile(`^[-+]?0[0-9_]+$`)

// yamlValue is the JSON value of n as CUE's YAML decoder (pier's loader)
// reads it, or why pier will not replace it.
func yamlValue(n *yaml.Node) (v any, why string) {
	switch {
	case n.Kind == yaml.AliasNode:
		return nil, "it is an alias (*" + n.Value + ")"
	case n.Anchor != "":
		return nil, "it has an anchor (&" + n.Anchor + ") other places may refer to"
	case n.Style&yaml.TaggedStyle != 0:
		return nil, "it has an explicit tag (" + n.Tag + ")"
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return nil, "it is a multi-line block scalar (| or >)"
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, ""
		case "!!bool":
			return n.Value == "true" || n.Value == "True" || n.Value == "TRUE", ""
		case "!!int", "!!float":
			if octalLike.MatchString(n.Value) {
				return json.Number("0o" + n.Value), "" // never the same as a JSON number
			}
			return json.Number(n.Value), ""
		case "!!str", "!!timestamp":
			return n.Value, ""
		}
		return nil, "it has the type " + n.ShortTag()
	case yaml.SequenceNode:
		out := []any{}
		for _, el := range n.Content {
			v, why := yamlValue(el)
			if why != "" {
				return nil, why
			}
			out = append(out, v)
		}
		return out, ""
	case yaml.MappingNode:
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Value == "<<" {
				return nil, "it has a merge key or a complex key"
			}
			v, why := yamlValue(n.Content[i+1])
			if why != "" {
				return nil, why
			}
			out[k.Value] = v
		}
		return out, ""
	}
	return nil, "it is not a value"
}

// insert writes fs into m after its member after (-1: m is empty).
func (d *yamlDoc) insert(m ymap, after int, fs fields) (edit, error) {
	n := m.n
	if isNull(n) || len(n.Content) == 0 {
		start, end, err := d.span(m.key, n, m.parentFlow)
		if err != nil || m.parentFlow {
			return edit{start, end, d.flow(fs)}, err
		}
		// `relations: {}` or `relations:` becomes a block mapping.
		colon, err := d.colonAfter(m.key)
		return edit{colon, end, d.blockFields(fs, d.indentOf(m.key)+d.unit)}, err
	}
	k, v := n.Content[2*after], n.Content[2*after+1]
	_, end, err := d.span(k, v, isFlow(n))
	if err != nil {
		return edit{}, err
	}
	if isFlow(n) {
		return edit{end, end, ", " + d.flowFields(fs)}, nil
	}
	at := d.src.lineEnd(end) // after the line's comment, if any
	return edit{at, at, d.blockFields(fs, d.indentOf(k))}, nil
}

// off is the byte offset of n (yaml.v3 columns count characters).
func (d *yamlDoc) off(n *yaml.Node) int {
	o := d.lines[n.Line-1]
	for c := 1; c < n.Column && o < len(d.src); c++ {
		_, size := utf8.DecodeRune(d.src[o:])
		o += size
	}
	return o
}

func (d *yamlDoc) indentOf(k *yaml.Node) string { return strings.Repeat(" ", k.Column-1) }

// span is the source of value v of key k; an absent value (`key:`) is
// the empty span after the colon.
func (d *yamlDoc) span(k, v *yaml.Node, flow bool) (start, end int, err error) {
	if isNull(v) && v.Value == "" {
		if k == nil {
			return 0, 0, d.errorf(v, "empty sequence item")
		}
		c, err := d.colonAfter(k)
		return c, c, err
	}
	start = d.off(v)
	switch {
	case v.Kind == yaml.ScalarNode:
		end, err = d.scalarEnd(v, start, flow, false)
	case isFlow(v):
		end, err = d.flowEnd(v, start)
	case v.Kind == yaml.MappingNode && len(v.Content) > 1:
		_, end, err = d.span(v.Content[len(v.Content)-2], v.Content[len(v.Content)-1], false)
	case v.Kind == yaml.SequenceNode && len(v.Content) > 0:
		_, end, err = d.span(nil, v.Content[len(v.Content)-1], false)
	default:
		err = d.errorf(v, "pier cannot find where this value ends (aliases are not supported)")
	}
	return start, end, err
}

// scalarEnd scans the one-line scalar n starting at start.
func (d *yamlDoc) scalarEnd(n *yaml.Node, start int, flow, key bool) (int, error) {
	src, i := d.src, start
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return 0, d.errorf(n, "multi-line block scalars (| or >) are not supported")
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		i = quotedEnd(src, start)
	default:
		for ; i < len(src); i++ {
			ch := src[i]
			next := byte('\n')
			if i+1 < len(src) {
				next = src[i+1]
			}
			if ch == '\n' || ch == '\r' ||
				ch == '#' && i > start && (src[i-1] == ' ' || src[i-1] == '\t') ||
				flow && strings.IndexByte(",[]{}", ch) >= 0 ||
				key && ch == ':' && strings.IndexByte(" \t\r\n,[]{}", next) >= 0 {
				break
			}
		}
		for i > start && (src[i-1] == ' ' || src[i-1] == '\t') {
			i--
		}
	}
	var got yaml.Node
	if err := yaml.Unmarshal(src[start:i], &got); err != nil || len(got.Content) != 1 || got.Content[0].Value != n.Value {
		return 0, d.errorf(n, "%q spans several lines; pier edits one-line values only", n.Value)
	}
	return i, nil
}

// quotedEnd is the offset after the quoted scalar starting at start.
func quotedEnd(src []byte, start int) int {
	q := src[start]
	for i := start + 1; i < len(src); i++ {
		switch {
		case q == '"' && src[i] == '\\':
			i++
		case src[i] == q && q == '\'' && i+1 < len(src) && src[i+1] == '\'':
			i++
		case src[i] == q:
			return i + 1
		}
	}
	return len(src)
}

// flowEnd is the offset after the flow collection n starting at start.
func (d *yamlDoc) flowEnd(n *yaml.Node, start int) (int, error) {
	src, depth, prev := d.src, 0, byte('[')
	for i := start; i < len(src); i++ {
		ch := src[i]
		switch {
		case (ch == '"' || ch == '\'') && strings.IndexByte("[{,:", prev) >= 0:
			i = quotedEnd(src, i) - 1
		case ch == '#' && (src[i-1] == ' ' || src[i-1] == '\t' || src[i-1] == '\n'):
			i = d.src.lineEnd(i)
			continue
		case ch == '[' || ch == '{':
			depth++
		case ch == ']' || ch == '}':
			if depth--; depth == 0 {
				return i + 1, nil
			}
		}
		if ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r' {
			prev = ch
		}
	}
	return 0, d.errorf(n, "unterminated flow collection")
}

// colonAfter is the offset just after the colon that follows key k.
func (d *yamlDoc) colonAfter(k *yaml.Node) (int, error) {
	i, err := d.scalarEnd(k, d.off(k), false, true)
	if err != nil {
		return 0, err
	}
	for i < len(d.src) && (d.src[i] == ' ' || d.src[i] == '\t') {
		i++
	}
	if i == len(d.src) || d.src[i] != ':' {
		return 0, d.errorf(k, "pier cannot find the colon after key %q (complex keys are not supported)", k.Value)
	}
	return i + 1, nil
}

// blockFields writes fs as block mapping members at indentation ind, each
// on a line of its own (the text starts with a newline).
func (d *yamlDoc) blockFields(fs fields, ind string) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("\n" + ind + scalarYAML(f.name, false) + ":" + d.block(f.value, ind+d.unit))
	}
	return b.String()
}

// block writes v as the value of a block mapping member whose own members
// are at indentation ind: " scalar", or a newline and block lines. Lists
// and maps inside lists are written in flow style, except a list of maps.
func (d *yamlDoc) block(v any, ind string) string {
	switch v := v.(type) {
	case map[string]any:
		if len(v) > 0 {
			return d.blockFields(sorted(v), ind)
		}
	case fields:
		return d.blockFields(v, ind)
	case []any:
		if len(v) == 0 {
			break
		}
		var b strings.Builder
		for _, el := range v {
			if m, ok := el.(map[string]any); ok && len(m) > 0 {
				// "- " takes the place of the first member's indentation.
				item := d.blockFields(sorted(m), ind+"  ")
				b.WriteString("\n" + ind + "- " + strings.TrimPrefix(item, "\n"+ind+"  "))
				continue
			}
			b.WriteString("\n" + ind + "- " + d.flow(el))
		}
		return b.String()
	}
	return " " + d.flow(v)
}

func (d *yamlDoc) flowFields(fs fields) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = scalarYAML(f.name, true) + ": " + d.flow(f.value)
	}
	return strings.Join(parts, ", ")
}

// flow writes v in flow style: [a, b], {k: v}, scalars.
func (d *yamlDoc) flow(v any) string {
	switch v := v.(type) {
	case fields:
		return "{" + d.flowFields(v) + "}"
	case map[string]any:
		return "{" + d.flowFields(sorted(v)) + "}"
	case []any:
		parts := make([]string, len(v))
		for i, el := range v {
			parts[i] = d.flow(el)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case string:
		return scalarYAML(v, true)
	case json.Number:
		return string(v)
	case bool:
		return fmt.Sprint(v)
	}
	return "null"
}

// scalarYAML writes a string plain when YAML reads it back as that very
// string (in a flow collection, without flow indicators), and in JSON's
// double quotes otherwise: "#team-payments", "true", "8080", "a: b".
func scalarYAML(s string, flow bool) string {
	if s == "" || strings.TrimSpace(s) != s || strings.ContainsAny(s, "\n\r\t") || flow && strings.ContainsAny(s, ",[]{}") {
		return jsonString(s)
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil || len(n.Content) != 1 {
		return jsonString(s)
	}
	if c := n.Content[0]; c.Kind != yaml.ScalarNode || c.Style != 0 || c.Value != s || (c.ShortTag() != "!!str" && c.ShortTag() != "!!timestamp") {
		return jsonString(s)
	}
	return s
}
