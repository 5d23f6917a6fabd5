package reconciler

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
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
			var name string
			if json.Unmarshal(b[i:kEnd], &name) != nil {
				return nil, false
			}
			vEnd := skipValue(b, kEnd+1)
			if vEnd < 0 || vEnd >= len(b) {
				return nil, false
			}
			for next < len(names) && names[next] < name {
				sep()
				var ok bool
				if out, ok = appendMember(out, names[next], vals[names[next]]); !ok {
					return nil, false
				}
				next++
			}
			sep()
			if next < len(names) && names[next] == name {
				var ok bool
				if out, ok = appendMember(out, name, vals[name]); !ok {
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

// appendMember appends `"name":value` as json.Marshal writes map members.
func appendMember(out []byte, name string, v any) ([]byte, bool) {
	k, err := json.Marshal(name)
	if err != nil {
		return nil, false
	}
	val, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	out = append(append(out, k...), ':')
	return append(out, val...), true
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
