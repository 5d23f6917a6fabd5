package synth

import "encoding/json"

func numberPtr(s string) *json.Number {
	n := json.Number(s)
	return &n
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
