package reconciler

import (
	"bytes"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
)

// spliceProperties returns the canonical JSON of an entity — what
// json.Marshal of catalog.Entity gives — whose canonical JSON is b, with
// vals set among its properties. It copies the untouched bytes instead
// of encoding the whole entity again, which is most of what merging
// computed values into 20,000 entities costs. It reports false when b is
// not shaped as expected; the caller then encodes the merged entity.
func spliceProperties(b []byte, vals map[string]any) ([]byte, bool) {
	// The fields before properties are strings and a list of strings, in
	// which every quote is escaped: the first `,"properties":` is the key.
	const key = `,"properties":`
	at := bytes.Index(b, []byte(key))
	if at < 0 {
		return nil, false
	}
	start := at + len(key)
	names := slices.Sorted(maps.Keys(vals))
	out := make([]byte, 0, len(b)+32*len(vals))
	out = append(out, b[:start]...)
	var end int
	switch {
	case bytes.HasPrefix(b[start:], []byte("null")):
		end = start + len("null")
		out = append(out, '{')
		for i, name := range names {
			if i > 0 {
				out = append(out, ',')
			}
			var ok bool
			if out, ok = appendMember(out, name, vals[name]); !ok {
				return nil, false
			}
		}
		out = append(out, '}')
	case start < len(b) && b[start] == '{':
		i := start + 1
		out = append(out, '{')
		first := true
		sep := func() {
			if !first {
				out = append(out, ',')
			}
			first = false
		}
		next := 0 // the next of names to place
		for b[i] != '}' {
			kEnd := skipString(b, i)
			if kEnd < 0 || kEnd >= len(b) || b[kEnd] != ':' {
				return nil, false
			}
			name, ok := keyName(b[i:kEnd])
			if !ok {
				return nil, false
			}
			vEnd := skipValue(b, kEnd+1)
			if vEnd < 0 || vEnd >= len(b) {
				return nil, false
			}
			// (string(name) in a comparison does not copy.)
			for next < len(names) && names[next] < string(name) {
				sep()
				var ok bool
				if out, ok = appendMember(out, names[next], vals[names[next]]); !ok {
					return nil, false
				}
				next++
			}
			sep()
			if next < len(names) && names[next] == string(name) {
				var ok bool
				if out, ok = appendMember(out, names[next], vals[names[next]]); !ok {
					return nil, false
				}
				next++
			} else {
				out = append(out, b[i:vEnd]...)
			}
			i = vEnd
			if b[i] == ',' {
				i++
			}
		}
		for ; next < len(names); next++ {
			sep()
			var ok bool
			if out, ok = appendMember(out, names[next], vals[names[next]]); !ok {
				return nil, false
			}
		}
		out = append(out, '}')
		end = i + 1
	default:
		return nil, false
	}
	return append(out, b[end:]...), true
}

// keyName decodes a member's quoted name; the common name needs no
// unescaping and is returned in place, without a copy.
func keyName(quoted []byte) ([]byte, bool) {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw, true
	}
	var name string
	if json.Unmarshal(quoted, &name) != nil {
		return nil, false
	}
	return []byte(name), true
}

// appendMember appends `"name":value` as json.Marshal writes map members.
// Names and the values computed properties mostly are — short strings,
// numbers, booleans, null — are written directly; anything else goes
// through json.Marshal, whose output the direct paths reproduce.
func appendMember(out []byte, name string, v any) ([]byte, bool) {
	out, ok := appendString(out, name)
	if !ok {
		return nil, false
	}
	out = append(out, ':')
	switch v := v.(type) {
	case nil:
		return append(out, "null"...), true
	case bool:
		return strconv.AppendBool(out, v), true
	case string:
		if out, ok := appendString(out, v); ok {
			return out, true
		}
	case int:
		return strconv.AppendInt(out, int64(v), 10), true
	case int64:
		return strconv.AppendInt(out, v, 10), true
	case json.Number:
		// As json.Marshal writes a valid number: as is.
		if v != "" && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') && v[len(v)-1] >= '0' && v[len(v)-1] <= '9' && json.Valid([]byte(v)) {
			return append(out, v...), true
		}
	case float64:
		// json.Marshal's format for floats it does not write with an
		// exponent.
		if a := math.Abs(v); a == 0 || a >= 1e-6 && a < 1e21 {
			return strconv.AppendFloat(out, v, 'f', -1, 64), true
		}
	}
	val, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	return append(out, val...), true
}

// appendString appends s quoted as json.Marshal quotes it. Printable
// ASCII without the characters it escapes (quote, backslash, and <, >,
// & for HTML) is copied as is; anything else is left to json.Marshal.
func appendString(out []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			if err != nil {
				return out, false
			}
			return append(out, q...), true
		}
	}
	out = append(out, '"')
	out = append(out, s...)
	return append(out, '"'), true
}

// skipString returns the index just past the JSON string starting at i,
// or -1.
func skipString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index just past the compact JSON value starting
// at i, or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
		i++
	}
	return i
}
