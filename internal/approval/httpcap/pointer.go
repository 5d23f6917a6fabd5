package httpcap

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// pointer is a parsed RFC 6901 JSON pointer. The zero value is an unset
// pointer: the catalog cannot spell "" (the whole document) apart from
// an absent field, and no parser field needs the whole document.
type pointer struct {
	src  string
	toks []string
}

func (p pointer) set() bool { return p.src != "" }

// parsePointer splits a pointer into reference tokens, undoing ~1 ("/")
// before ~0 ("~") as RFC 6901 requires, so that "~01" is "~1".
func parsePointer(src string) (pointer, error) {
	if !strings.HasPrefix(src, "/") {
		return pointer{}, fmt.Errorf("JSON pointer %q must start with /", src)
	}
	toks := strings.Split(src[1:], "/")
	for i, t := range toks {
		for j := 0; j < len(t); j++ {
			if t[j] == '~' && (j+1 == len(t) || t[j+1] != '0' && t[j+1] != '1') {
				return pointer{}, fmt.Errorf("JSON pointer %q: ~ must be followed by 0 or 1", src)
			}
		}
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return pointer{src: src, toks: toks}, nil
}

// get resolves the pointer in a decoded JSON value. An array index is
// decimal without leading zeros; "-" (past the end) never resolves.
func (p pointer) get(v any) (any, error) {
	for _, t := range p.toks {
		switch x := v.(type) {
		case map[string]any:
			el, ok := x[t]
			if !ok {
				return nil, fmt.Errorf("no value at %q", p.src)
			}
			v = el
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(x) || strconv.Itoa(i) != t {
				return nil, fmt.Errorf("no value at %q", p.src)
			}
			v = x[i]
		default:
			return nil, fmt.Errorf("no value at %q", p.src)
		}
	}
	return v, nil
}

// text resolves the pointer to a scalar and returns it as text: a string
// as itself, a number as written in the response, a bool as true/false.
func (p pointer) text(v any) (string, error) {
	v, err := p.get(v)
	if err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	case nil:
		return "", fmt.Errorf("the value at %q is null", p.src)
	}
	return "", fmt.Errorf("the value at %q is %s, not a string or number", p.src, kindOf(v))
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}
