// Package node is the positioned JSON tree the loader and the validator
// share. A catalog file, whatever its syntax, becomes a tree of Nodes that
// remember where each value was written, so every error can name its file,
// line and column without keeping CUE's syntax trees or evaluator values
// alive (they cost an order of magnitude more memory per entity).
package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/pierhq/pier/internal/catalog"
)

// Kind is the JSON kind of a node.
type Kind uint8

const (
	Null Kind = iota
	Bool
	Number
	String
	List
	Struct
)

func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case Bool:
		return "boolean"
	case Number:
		return "number"
	case String:
		return "string"
	case List:
		return "array"
	case Struct:
		return "object"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Node is one JSON value with its position.
type Node struct {
	Kind Kind
	Pos  catalog.Pos
	// Text is the string value, the number's literal (JSON grammar), or
	// "true"/"false".
	Text   string
	Elems  []*Node
	Fields []Field
}

// Field is one member of a struct, in source order.
type Field struct {
	Name  string
	Pos   catalog.Pos // position of the label
	Value *Node
}

// Get returns the value of the named field, or nil.
func (n *Node) Get(name string) *Node {
	if n == nil || n.Kind != Struct {
		return nil
	}
	for i := range n.Fields {
		if n.Fields[i].Name == name {
			return n.Fields[i].Value
		}
	}
	return nil
}

// Field returns the named field, or nil.
func (n *Node) Field(name string) *Field {
	if n == nil || n.Kind != Struct {
		return nil
	}
	for i := range n.Fields {
		if n.Fields[i].Name == name {
			return &n.Fields[i]
		}
	}
	return nil
}

// Bool reports the value of a boolean node.
func (n *Node) Bool() bool { return n != nil && n.Kind == Bool && n.Text == "true" }

// Describe renders a short form of the value for error messages.
func (n *Node) Describe() string {
	switch n.Kind {
	case Null:
		return "null"
	case Bool:
		return n.Text
	case Number:
		return catalog.Excerpt(n.Text)
	case String:
		return strconv.Quote(catalog.Excerpt(n.Text))
	case List:
		return fmt.Sprintf("an array of %d", len(n.Elems))
	}
	return "an object"
}

// Any converts the tree to plain Go values as encoding/json would decode
// them with UseNumber: map[string]any, []any, json.Number, string, bool,
// nil.
func (n *Node) Any() any {
	switch n.Kind {
	case Bool:
		return n.Text == "true"
	case Number:
		return json.Number(n.Text)
	case String:
		return n.Text
	case List:
		out := make([]any, len(n.Elems))
		for i, e := range n.Elems {
			out[i] = e.Any()
		}
		return out
	case Struct:
		out := make(map[string]any, len(n.Fields))
		for _, f := range n.Fields {
			out[f.Name] = f.Value.Any()
		}
		return out
	}
	return nil
}

// JSON renders the tree as canonical JSON: object keys sorted, no
// insignificant space. Two trees with the same meaning render the same
// bytes whatever order their fields were written in, which makes the
// output usable as a content hash.
func (n *Node) JSON() []byte {
	var b bytes.Buffer
	n.appendJSON(&b)
	return b.Bytes()
}

func (n *Node) appendJSON(b *bytes.Buffer) {
	switch n.Kind {
	case Null:
		b.WriteString("null")
	case Bool, Number:
		b.WriteString(n.Text)
	case String:
		appendString(b, n.Text)
	case List:
		b.WriteByte('[')
		for i, e := range n.Elems {
			if i > 0 {
				b.WriteByte(',')
			}
			e.appendJSON(b)
		}
		b.WriteByte(']')
	case Struct:
		fields := n.Fields
		if !sort.SliceIsSorted(fields, func(i, j int) bool { return fields[i].Name < fields[j].Name }) {
			fields = append([]Field(nil), fields...)
			sort.Slice(fields, func(i, j int) bool { return fields[i].Name < fields[j].Name })
		}
		b.WriteByte('{')
		for i, f := range fields {
			if i > 0 {
				b.WriteByte(',')
			}
			appendString(b, f.Name)
			b.WriteByte(':')
			f.Value.appendJSON(b)
		}
		b.WriteByte('}')
	}
}

func appendString(b *bytes.Buffer, s string) {
	// encoding/json's escaping, without its reflection cost.
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

// FromAny builds a tree from plain Go values (as decoded by encoding/json
// with UseNumber), all at position pos. It is how values that did not come
// from a file (API writes, tests) enter the validator.
func FromAny(v any, pos catalog.Pos) (*Node, error) {
	switch v := v.(type) {
	case nil:
		return &Node{Kind: Null, Pos: pos}, nil
	case bool:
		return &Node{Kind: Bool, Pos: pos, Text: strconv.FormatBool(v)}, nil
	case json.Number:
		return &Node{Kind: Number, Pos: pos, Text: v.String()}, nil
	case float64:
		return &Node{Kind: Number, Pos: pos, Text: strconv.FormatFloat(v, 'g', -1, 64)}, nil
	case int:
		return &Node{Kind: Number, Pos: pos, Text: strconv.Itoa(v)}, nil
	case string:
		return &Node{Kind: String, Pos: pos, Text: v}, nil
	case []any:
		n := &Node{Kind: List, Pos: pos, Elems: make([]*Node, len(v))}
		for i, e := range v {
			c, err := FromAny(e, pos)
			if err != nil {
				return nil, err
			}
			n.Elems[i] = c
		}
		return n, nil
	case map[string]any:
		n := &Node{Kind: Struct, Pos: pos, Fields: make([]Field, 0, len(v))}
		for k, e := range v {
			c, err := FromAny(e, pos)
			if err != nil {
				return nil, err
			}
			n.Fields = append(n.Fields, Field{Name: k, Pos: pos, Value: c})
		}
		sort.Slice(n.Fields, func(i, j int) bool { return n.Fields[i].Name < n.Fields[j].Name })
		return n, nil
	}
	return nil, fmt.Errorf("unsupported value of type %T", v)
}

// Decode parses JSON into a tree with every node at pos.
func Decode(data []byte, pos catalog.Pos) (*Node, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return FromAny(v, pos)
}
