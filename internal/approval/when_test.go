package approval

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestWhen(t *testing.T) {
	data := map[string]any{"inputs": map[string]any{"days": 10}, "run": map[string]any{"id": "r_1"}}
	inputs := map[string]any{"days": 10}
	for _, tc := range []struct {
		name, when string
		want       bool
		err        string // a part of the error, from CompileWhen or Needed
	}{
		{"query true", `{"combinator": "and", "rules": [{"property": "days", "operator": ">", "value": 5}]}`, true, ""},
		{"query false", `{"combinator": "and", "rules": [{"property": "days", "operator": ">", "value": 50}]}`, false, ""},
		{"jq true", `{"jq": ".inputs.days > 5"}`, true, ""},
		{"jq not true", `{"jq": ".inputs.days"}`, false, ""},
		{"bad jq", `{"jq": ".inputs |"}`, false, `jq ".inputs |"`},
		{"bad query", `{"combinator": "and", "rules": [{"property": "days", "operator": "~", "value": 1}]}`, false, "rules[0]"},
		// A condition that would run for ever is stopped, naming it.
		{"jq stopped", `{"jq": "[range(1e12)] | length > 0"}`, false, "stopped after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := CompileWhen([]byte(tc.when))
			if tc.name == "bad jq" && !errors.As(err, new(*JQError)) {
				t.Fatalf("bad jq: %v is not a *JQError", err)
			}
			var got bool
			if err == nil {
				got, err = w.Needed(context.Background(), data, "r_1", "environment", inputs)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Needed = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
