package loader

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/node"
	"github.com/pierhq/pier/internal/yamlcue"
)

// fuzzNames are the file names FuzzParse gives its input, one per syntax.
var fuzzNames = []string{"f.json", "f.yaml", "f.cue"}

// FuzzParse feeds arbitrary bytes to the parse front, parse and extract:
// one catalog file to its positioned tree and objects. CUE files that
// are not plain data are left at the parse (their evaluation is the
// evaluator's business, slow and unbounded). It checks that:
//
//   - every diagnostic, and every node of the tree, is positioned in the
//     file: a line of it, a column within that line (or end of line);
//   - in a JSON file each field points at its key's opening quote and
//     each value at its first byte, as an editor would show it;
//   - a JSON syntax error says what encoding/json finds wrong;
//   - a plain tree printed as JSON parses back to the same tree;
//   - a JSON document gives the same tree read as YAML and as CUE (JSON
//     is both), but for the \/ escape YAML's decoder does not know.
//
// go test -run='^$' -fuzz='^FuzzParse$' -fuzztime=60s ./internal/loader/
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"../../catalog-example", "../../schema/testdata/seed", "../../internal/runs/testdata", "../../internal/scorecard/testdata"} {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			for i, n := range fuzzNames {
				if syntaxOf(p) == syntaxOf(n) {
					if b, err := os.ReadFile(p); err == nil {
						f.Add(uint8(i), b)
					}
				}
			}
			return nil
		})
	}
	for _, s := range []string{
		`{"blueprints": {"a": {"identifier": "b"}}}`, `{"entities": {"svc": {"Bad Id": {}}}}`, `{"x": 1, "x": 1}`, `{"x": 1, "x": 2}`,
		`{"a": {"b": 1}, "a": {"c": [1, 2.5e3, -0, true, null, "\u00e9\ud83d\ude00"]}}`, `[]`, `1`, `"x"`, `{`, `{"a":}`, "{\"a\": \"\xff\"}",
		`{"settings": 5}`, `{"entities": []}`, "\ufeff{}", `{"a": "\/"}`, "{\n\t\"entities\": {\n\t\t\"s\": {\"x\": \"é\"}\n\t}\n}",
	} {
		f.Add(uint8(0), []byte(s))
	}
	for _, s := range []string{
		"entities:\n  service:\n    a:\n      title: A\n", "a: &x {b: 1}\nc: *x\n", "a: 1\na: 2\n", "- 1\n", "a: !!binary aGk=\n",
		"a: |\n  text\n  more\n", "? [a]\n: b\n", "a: 0x1F\nb: .5\nc: 1_000\nd: ~\n", "a:\tb\n", "---\n---\n", "a: 'it''s'\n",
	} {
		f.Add(uint8(1), []byte(s))
	}
	for _, s := range []string{
		"package x\nentities: service: a: {title: \"A\"}\n", "a: 1\na: 2\n", "#D: {a: int}\nx: #D & {a: 1}\n", "import \"strings\"\na: strings.ToUpper(\"x\")\n",
		"a: 'bytes'\n", "a: #\"raw\"#\n", "a?: 1\n", "a: 1Ki\n", "a: [...int]\n", "\"a-b\": {c: 1}\n", "a: \"\\(1+1)\"\n",
	} {
		f.Add(uint8(2), []byte(s))
	}
	f.Fuzz(func(t *testing.T, which uint8, src []byte) {
		name := fuzzNames[int(which)%len(fuzzNames)]
		p, diags := parse(name, src)
		text := src
		if name == "f.yaml" {
			text = yamlcue.NormalizeCR(src) // YAML counts a lone \r as a line break
		}
		lines := bytes.Split(text, []byte("\n"))
		for _, d := range diags {
			if d.Message == "" || strings.Contains(d.Message, "%!") {
				t.Fatalf("diagnostic %v says nothing", d)
			}
			checkPos(t, name, lines, d.Pos, "diagnostic "+d.String())
			for _, r := range d.Related {
				checkPos(t, name, lines, r, "related position of "+d.String())
			}
		}
		if name == "f.json" && !json.Valid(src) {
			var v any
			want := json.Unmarshal(src, &v)
			found := want == nil // valid for encoding/json but not json.Valid: nothing to compare
			for _, d := range diags {
				found = found || strings.Contains(d.Message, want.Error())
			}
			if !found {
				t.Fatalf("invalid JSON (%v), diagnostics do not say why: %v", want, diags)
			}
		}
		if p == nil || p.value == nil {
			return // refused, or CUE to evaluate
		}
		walk(p.value, func(n *node.Node, f *node.Field) {
			if f != nil {
				checkPos(t, name, lines, f.Pos, "field "+f.Name)
				if name == "f.json" && at(lines, f.Pos) != '"' {
					t.Fatalf("field %q at %v, on %q rather than its quote", f.Name, f.Pos, string(lines[f.Pos.Line-1]))
				}
				// A YAML key is at its first byte, a quote or an indicator
				// (? * ! &), or at the end of the line for an empty one.
				if b := at(lines, f.Pos); name == "f.yaml" && f.Name != "" && f.Pos.Col > 0 && b != 0 && b != f.Name[0] && strings.IndexByte(`"'?*!&`, b) < 0 {
					t.Fatalf("field %q at %v, on %q rather than its key", f.Name, f.Pos, string(lines[f.Pos.Line-1]))
				}
				return
			}
			checkPos(t, name, lines, n.Pos, "value "+n.Describe())
			if name == "f.json" && n != p.value && !startsWith(n, at(lines, n.Pos)) {
				t.Fatalf("%s at %v, on %q", n.Describe(), n.Pos, string(lines[n.Pos.Line-1]))
			}
		})
		x := extract(name, p.value, "hash")
		for _, d := range x.diags {
			checkPos(t, name, lines, d.Pos, "extract diagnostic "+d.String())
		}

		canonical := p.value.JSON()
		if back := plainTree(t, "g.json", canonical); back == nil || !bytes.Equal(back.JSON(), canonical) {
			t.Fatalf("tree %s printed as JSON reads back as %s", canonical, jsonOf(back))
		}
		if name == "f.json" {
			if y := plainTree(t, "g.yaml", src); yamlReadsAsJSON(src) && (y == nil || !bytes.Equal(y.JSON(), canonical)) {
				t.Fatalf("JSON %s reads as %s, as YAML %s", src, canonical, jsonOf(y))
			}
			if c := plainTree(t, "g.cue", src); c != nil && !bytes.Equal(c.JSON(), canonical) {
				t.Fatalf("JSON %s reads as %s, as CUE %s", src, canonical, c.JSON())
			}
		}
	})
}

// surrogate is a UTF-16 surrogate escape, which JSON writes characters
// beyond U+FFFF with and YAML (\U0001F600) does not know.
var surrogate = regexp.MustCompile(`\\u[dD][89a-fA-F]`)

// yamlReadsAsJSON reports whether YAML's decoder reads JSON text as JSON
// does: YAML knows neither the \/ escape nor surrogate pairs, and a YAML
// stream holds only printable characters (YAML 1.2's c-printable), where
// a JSON string may hold DEL, C1 controls or U+FFFE raw.
func yamlReadsAsJSON(src []byte) bool {
	if bytes.Contains(src, []byte(`\/`)) || surrogate.Match(src) || !utf8.Valid(src) {
		return false
	}
	for _, r := range string(src) {
		printable := r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0x7e || r == 0x85 ||
			r >= 0xa0 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfffd || r >= 0x10000 && r <= 0x10ffff
		if !printable {
			return false
		}
	}
	return true
}

// plainTree parses src as the named file, returning its plain tree or
// nil when it is refused or needs evaluating.
func plainTree(t *testing.T, name string, src []byte) *node.Node {
	p, diags := parse(name, src)
	if len(diags) > 0 || p.value == nil {
		return nil
	}
	return p.value
}

func jsonOf(n *node.Node) string {
	if n == nil {
		return "nothing (refused, or not plain)"
	}
	return string(n.JSON())
}

// walk calls visit for every node of the tree and every field.
func walk(n *node.Node, visit func(*node.Node, *node.Field)) {
	visit(n, nil)
	for _, e := range n.Elems {
		walk(e, visit)
	}
	for i := range n.Fields {
		visit(nil, &n.Fields[i])
		walk(n.Fields[i].Value, visit)
	}
}

// checkPos checks that p is in the file: no line, or a line of it and a
// column within that line or just past its end.
func checkPos(t *testing.T, name string, lines [][]byte, p catalog.Pos, what string) {
	t.Helper()
	if p.File != name {
		t.Fatalf("%s: in file %q, not %q", what, p.File, name)
	}
	if p.Line == 0 && p.Col == 0 {
		return
	}
	// Col 0 is a line without a column, as the YAML decoder reports some.
	if p.Line < 1 || p.Line > len(lines) || p.Col < 0 || p.Col > len(lines[p.Line-1])+1 {
		t.Fatalf("%s: position %d:%d outside the file (%d lines, line %d of %d bytes)", what, p.Line, p.Col, len(lines), p.Line, lineLen(lines, p.Line))
	}
}

func lineLen(lines [][]byte, l int) int {
	if l < 1 || l > len(lines) {
		return -1
	}
	return len(lines[l-1])
}

// at returns the byte at p, or 0 past the end of its line or for a
// position without a line or column (the YAML decoder leaves some keys
// of a flow mapping without).
func at(lines [][]byte, p catalog.Pos) byte {
	if p.Line < 1 || p.Line > len(lines) {
		return 0
	}
	l := lines[p.Line-1]
	if p.Col < 1 || p.Col > len(l) {
		return 0
	}
	return l[p.Col-1]
}

// startsWith reports whether a JSON value of n's kind can start with b.
func startsWith(n *node.Node, b byte) bool {
	switch n.Kind {
	case node.Null:
		return b == 'n'
	case node.Bool:
		return b == n.Text[0]
	case node.Number:
		return b == '-' || b >= '0' && b <= '9'
	case node.String:
		return b == '"'
	case node.List:
		return b == '['
	}
	return b == '{'
}
