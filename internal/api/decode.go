package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/pierhq/pier/internal/didyoumean"
)

// decodeBody reads a request body into v, a pointer to the handler's body
// type, and answers a mistake itself, so that no handler writes from a
// body it misread:
//
//   - 413 over MaxBody;
//   - 400 for an empty body, null or anything but one JSON object;
//   - 422 for a field the body type does not declare, at any depth, named
//     with its path and a did-you-mean: a misspelt "propertes" would
//     otherwise be dropped and the write answered 200 having written
//     nothing.
//
// Numbers are kept exact (json.Number). A type with its own UnmarshalJSON
// (Port's two search bodies) reads its fields as it likes. A body that
// decodes but asks for nothing ({} to a PATCH) is the handler's to refuse,
// with emptyWrite.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) (int, bool) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body over %d bytes", tooBig.Limit)), false
		}
		return writeError(w, http.StatusBadRequest, "invalid_body", "could not read the request body: "+err.Error()), false
	}
	switch doc := bytes.TrimSpace(data); {
	case len(doc) == 0:
		return writeError(w, http.StatusBadRequest, "empty_body", "the request body is empty; send a JSON object"), false
	case doc[0] != '{':
		return writeError(w, http.StatusBadRequest, "invalid_json", fmt.Sprintf("the request body is %s; send a JSON object", jsonKind(doc))), false
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		if f := unknownField(data, reflect.TypeOf(v), ""); f != nil {
			return writeError(w, http.StatusUnprocessableEntity, "unknown_field",
				fmt.Sprintf("unknown field %q in the request body%s; the fields here are %s", f.path, didyoumean.Hint(f.name, f.known), strings.Join(f.known, ", ")),
				map[string]any{"field": f.path, "known": f.known}), false
		}
		return writeError(w, http.StatusBadRequest, "invalid_json", "request body: "+err.Error()), false
	}
	if _, err := d.Token(); err != io.EOF {
		return writeError(w, http.StatusBadRequest, "invalid_json", "request body: more than one JSON document"), false
	}
	return 0, true
}

// emptyWrite answers a write whose body asks for no change: a 400 rather
// than a 200 that would hide the mistake.
func emptyWrite(w http.ResponseWriter, msg string) int {
	return writeError(w, http.StatusBadRequest, "empty_write", msg)
}

// jsonKind names what a JSON document that is not an object is.
func jsonKind(doc []byte) string {
	switch doc[0] {
	case 'n':
		return "null"
	case '[':
		return "a list"
	case '"':
		return "a string"
	}
	return "not a JSON object"
}

type fieldError struct {
	path, name string
	known      []string // the fields declared where name is
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// unknownField finds the first field, in name order at each level, that
// data has and t does not declare. Names match as encoding/json matches
// them: exactly, else ignoring case.
func unknownField(data []byte, t reflect.Type, path string) *fieldError {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return nil // not an object: the decoder's error says so
		}
		fields := jsonFields(t)
		names := make([]string, len(fields))
		for i, f := range fields {
			names[i] = f.name
		}
		for _, name := range slices.Sorted(maps.Keys(obj)) {
			i := slices.IndexFunc(fields, func(f jsonField) bool { return f.name == name })
			if i < 0 {
				i = slices.IndexFunc(fields, func(f jsonField) bool { return strings.EqualFold(f.name, name) })
			}
			if i < 0 {
				return &fieldError{path: joinField(path, name), name: name, known: names}
			}
			if f := unknownField(obj[name], fields[i].typ, joinField(path, name)); f != nil {
				return f
			}
		}
	case reflect.Slice, reflect.Array:
		var list []json.RawMessage
		if json.Unmarshal(data, &list) != nil {
			return nil
		}
		for i, el := range list {
			if f := unknownField(el, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); f != nil {
				return f
			}
		}
	case reflect.Map:
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) != nil {
			return nil
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if f := unknownField(m[k], t.Elem(), joinField(path, k)); f != nil {
				return f
			}
		}
	}
	return nil
}

type jsonField struct {
	name string
	typ  reflect.Type
}

// jsonFields lists the JSON fields of a struct type in declaration order,
// those of embedded structs in their place, as encoding/json sees them.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, jsonFields(ft)...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		out = append(out, jsonField{name: cmp.Or(name, f.Name), typ: f.Type})
	}
	return out
}

func joinField(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
