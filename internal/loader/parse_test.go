package loader

import (
	"testing"

	"github.com/pierhq/pier/internal/catalog"
)

// TestParseErrorsSayWhatAndWhere checks the diagnostics of files that do
// not parse: a YAML syntax error was reported with an empty message and
// no line, a JSON one as "invalid JSON" without the reason, and the end
// of a CUE file one column past the newline that ends it.
func TestParseErrorsSayWhatAndWhere(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		pos       catalog.Pos
		msg       string
	}{
		{"bad.yaml", "entities:\n  service:\n   a: : :\n", catalog.Pos{File: "bad.yaml", Line: 3}, "mapping values are not allowed in this context"},
		{"bad.yaml", "a: \"\\ud800\"\n", catalog.Pos{File: "bad.yaml"}, "found invalid Unicode character escape code"},
		{"bad.json", `{"entities": }`, catalog.Pos{File: "bad.json", Line: 1, Col: 14}, `invalid JSON for file "bad.json": invalid character '}' looking for beginning of value`},
		{"bad.cue", "! \n", catalog.Pos{File: "bad.cue", Line: 1, Col: 3}, "expected operand, found 'EOF'"},
	} {
		_, diags := parse(tt.name, []byte(tt.src))
		if len(diags) != 1 || diags[0].Pos != tt.pos || diags[0].Message != tt.msg {
			t.Errorf("%s %q: %+v, want one at %v saying %q", tt.name, tt.src, diags, tt.pos, tt.msg)
		}
	}
}
