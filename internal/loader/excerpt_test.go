package loader

import (
	"strings"
	"testing"
)

// TestMessagesQuoteExcerpts puts one long line of content where each kind
// of error quotes what it found, and checks that no message repeats more
// than a short excerpt of it.
func TestMessagesQuoteExcerpts(t *testing.T) {
	long := strings.Repeat("root:x:0:0:root:/root:/bin/bash ", 300) // ~10 KB on one line
	tests := map[string]map[string]string{
		"yaml scalar file":  {"p.yaml": long + "\n"},
		"property enum":     {"svc.cue": `entities: service: a: {properties: {language: "Go", lifecycle: "` + long + `"}, relations: team: "payments"}`},
		"cue conflict":      {"a.cue": "_t: \"" + long + "\"\nentities: team: ops: title: _t & \"B" + long + "\"\n"},
		"plain conflict":    {"a.cue": "entities: team: ops: title: \"" + long + "\"\nentities: team: ops: title: \"B" + long + "\"\n"},
		"long number":       {"svc.json": `{"entities": {"service": {"a": {"properties": {"language": "Go", "lifecycle": "Production", "test_coverage": 1` + strings.Repeat("0", 10000) + `}, "relations": {"team": "payments"}}}}}`},
		"blueprint shape":   {"bp.cue": "blueprints: api: schema: properties: p: {type: \"" + long + "\"}\n"},
		"scorecard level":   {"sc.json": `{"scorecards": {"s": {"rules": [{"identifier": "r", "level": "` + long + `", "query": {"combinator": "and", "rules": []}}]}}}`},
		"cue parse":         {"a.cue": "entities: team: ops: title: \"" + long + "\" \"" + long + "\"\n"},
		"unterminated":      {"a.cue": "entities: team: ops: title: \"" + long + "\n"},
		"missing blueprint": {"x.cue": "entities: \"" + strings.Repeat("s", 5000) + "\": a: {}"},
	}
	for name, files := range tests {
		t.Run(name, func(t *testing.T) {
			all := map[string]string{"blueprints.cue": serviceBlueprint, "teams.json": teams}
			for k, v := range files {
				all[k] = v
			}
			res := load(t, all)
			if len(res.Diagnostics) == 0 {
				t.Fatal("no diagnostic")
			}
			for _, d := range res.Diagnostics {
				if s := d.String(); len(s) > 400 {
					t.Errorf("%d bytes: %.300s…", len(s), s)
				}
			}
		})
	}
}
