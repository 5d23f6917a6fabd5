package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/pierhq/pier/internal/yamlcue"
)

// errAt reads the position an error line starts with.
var errAt = regexp.MustCompile(`^[^:]*:(\d+)(?::(\d+))?: `)

// FuzzConfigFile reads arbitrary YAML and JSON config files. It checks
// that:
//
//   - Parse answers the same twice (no map-order-dependent errors);
//   - every error line starts with the file and, when it has one, a
//     line and column that lie within the file — or is about an option
//     no file set;
//   - a file that parses sets each of its keys: a string value exactly
//     as a flag of that option would take it, a number or boolean only
//     for an option that is not a string, and nothing else (null, lists
//     and maps are refused) — checked against an independent decoder
//     (encoding/json, go.yaml.in/yaml/v3);
//   - a JSON file read as YAML (JSON is YAML) gives the same answer.
//
// go test -run='^$' -fuzz='^FuzzConfigFile$' -fuzztime=60s ./internal/config/
func FuzzConfigFile(f *testing.F) {
	if dev, err := os.ReadFile("../../dev/pier.yaml"); err == nil {
		f.Add(dev, true)
	}
	for _, s := range []string{
		"branch: main\npoll: '@every 1m'\nlisten: 127.0.0.1:9999\nclients:\n  - {clientId: ci, clientSecret: s3cret}\n",
		"branch: null\n", "branch: [a, b]\n", "branch: {a: 1}\n", "branch: 1.10\n", "branch: 0x10\n", "branch: !!binary aGVsbG8=\n",
		"token-ttl: 5\n", "token-ttl: 90m\ndebounce: -1s\n", "max-deletion-share: 1e400\n", "max-deletion-share: .5\n",
		"webhook-insecure: yes\n", "anonymous-reads: true\n", "- a\n- b\n", "a: &x 1\nb: *x\n", "branch: a\nbranch: b\n",
		"", "# nothing\n", "branch: x\n  bad: : :\n", "repoo: x\n\nbrnch: y\n", "clients:\n  - {clientId: a}\n  - 5\n  - {clientId: b, clientSecret: c, x: 1}\n",
		"poll: every 5\nlog-level: loud\npublic-url: ftp://x\n", "github-repo: a/b/c\nlisten: ''\n", "---\nbranch: a\n---\nbranch: b\n",
		"branch: \"\\u00e9\\t\"\npath: 'it''s'\n", "? complex\n: key\n", "branch: 2026-01-02\n",
		"people:\n  - {login: alice, teams: [platform]}\n  - {login: bob, teams: platform}\n  - {name: x}\n",
		"clients:\n  - {clientId: a, clientSecret: b, login: alice, roles: [admin]}\n",
	} {
		f.Add([]byte(s), true)
	}
	for _, s := range []string{
		`{"branch": "from-file", "poll": "@every 1m", "clients": [{"clientId": "ci", "clientSecret": "s3cret"}]}`,
		`{"repoo": "x", "max-deletion-share": 2}`, `{"branch": 1.5e3}`, `{"branch": "a", "branch": "b"}`, `{"branch": "a" + "b"}`,
		`[1]`, `null`, `{}`, ``, `{"token-ttl": "1h", "anonymous-reads": false, "max-deletion-share": 0.25}`, `{"branch": "\u00e9\/"}`,
		`{"clients": [{"clientId": 1, "clientSecret": "x"}, {"clientId": "a", "clientSecret": "b"}, {"clientId": "a", "clientSecret": "b"}]}`,
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, src []byte, asYAML bool) {
		dir := t.TempDir()
		name := "pier.json"
		if asYAML {
			name = "pier.yaml"
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, src, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := parseFile(path)
		if _, err2 := parseFile(path); errText(err) != errText(err2) {
			t.Fatalf("two answers:\n%v\n%v", err, err2)
		}
		if err != nil {
			text := src
			if asYAML {
				text = yamlcue.NormalizeCR(src) // YAML counts a lone \r as a line break
			}
			checkErrorLines(t, path, text, err)
		} else {
			checkSet(t, c, src, asYAML)
		}
		if !asYAML && json.Valid(src) && yamlReadsAsJSON(src) {
			yp := filepath.Join(dir, "pier.yaml")
			if err := os.WriteFile(yp, src, 0o644); err != nil {
				t.Fatal(err)
			}
			yc, yerr := parseFile(yp)
			// YAML breaks a line at a lone \r and JSON does not, so there
			// the same error is at different positions.
			cr := !bytes.Equal(yamlcue.NormalizeCR(src), src)
			if (err == nil) != (yerr == nil) || optionErrors(strings.ReplaceAll(errText(yerr), yp, path), cr) != optionErrors(errText(err), cr) {
				t.Fatalf("JSON and YAML disagree:\nJSON: %v\nYAML: %v", err, yerr)
			}
			if err == nil && !equalRedacted(c, yc) {
				t.Fatalf("JSON and YAML disagree:\nJSON: %v\nYAML: %v", c.Redacted(), yc.Redacted())
			}
		}
	})
}

// position is an error's :line:col after its file name.
var position = regexp.MustCompile(`:\d+:\d+:`)

// surrogate is a UTF-16 surrogate escape, which JSON writes characters
// beyond U+FFFF with and YAML (\U0001F600) does not know.
var surrogate = regexp.MustCompile(`\\u[dD][89a-fA-F]`)

// yamlReadsAsJSON reports whether YAML's decoder reads JSON text as JSON
// does (as in the loader's FuzzParse): YAML knows neither the \/ escape
// nor surrogate pairs, and a YAML stream holds only printable characters
// (YAML 1.2's c-printable), where a JSON string may hold DEL, C1
// controls or U+FFFE raw.
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

func parseFile(path string) (*Config, error) {
	return Parse([]string{"--config", path}, func(string) string { return "" }, io.Discard)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// optionErrors are the lines of an error about options, which pier
// writes whatever decoder read the file, without the spelling of the
// values they quote ("got the number 0e0"), which the JSON and YAML
// decoders normalise differently. Syntax errors are the decoders' own.
func optionErrors(text string, withoutPositions bool) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if !strings.Contains(l, ": option ") && !strings.Contains(l, "unknown option ") {
			continue
		}
		if withoutPositions {
			l = position.ReplaceAllString(l, ":")
		}
		if j := strings.Index(l, ", got "); j >= 0 {
			l = l[:j]
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// equalRedacted compares two configurations read from different files.
func equalRedacted(a, b *Config) bool {
	a.ConfigFile, b.ConfigFile = "", ""
	x, _ := json.Marshal(a.Redacted())
	y, _ := json.Marshal(b.Redacted())
	return bytes.Equal(x, y) && reflect.DeepEqual(a.Clients, b.Clients) && reflect.DeepEqual(a.People, b.People)
}

// checkErrorLines checks that each error line names the file, at a
// position within it, unless it is about an option no file set.
func checkErrorLines(t *testing.T, path string, src []byte, err error) {
	lines := strings.Split(string(src), "\n")
	for _, l := range strings.Split(err.Error(), "\n") {
		if strings.HasPrefix(l, "option clients: clientId ") { // listed twice: two places
			continue
		}
		rest, ok := strings.CutPrefix(l, path)
		if !ok {
			t.Fatalf("error line %q does not name the file %s\n%v", l, path, err)
		}
		m := errAt.FindStringSubmatch("x" + rest)
		if m == nil {
			continue // about the whole file
		}
		line, _ := strconv.Atoi(m[1])
		if line < 1 || line > len(lines) {
			t.Fatalf("error line %q: line %d of a %d-line file", l, line, len(lines))
		}
		if m[2] != "" {
			if col, _ := strconv.Atoi(m[2]); col < 1 || col > len(lines[line-1])+1 {
				t.Fatalf("error line %q: column %d of a %d-byte line", l, col, len(lines[line-1]))
			}
		}
	}
}

// checkSet checks what a file that parsed set, against an independent
// decoding of it.
func checkSet(t *testing.T, c *Config, src []byte, asYAML bool) {
	var m map[string]any
	if asYAML {
		if yaml.Unmarshal(src, &m) != nil {
			return // the two YAML decoders differ on what is YAML; nothing to compare
		}
	} else {
		d := json.NewDecoder(bytes.NewReader(src))
		d.UseNumber()
		if d.Decode(&m) != nil {
			t.Fatalf("the config parsed, encoding/json refuses %q", src)
		}
	}
	fresh := (&Config{}).FlagSet(io.Discard)
	for k, v := range m {
		if k == "clients" || k == "people" {
			continue
		}
		f := c.fs.Lookup(k)
		if f == nil || k == "config" {
			t.Fatalf("the config parsed with an unknown key %q", k)
		}
		isString := false
		if g, ok := f.Value.(flag.Getter); ok {
			_, isString = g.Get().(string)
		}
		var text string
		switch v := v.(type) {
		case string:
			text = v
		case json.Number:
			text = v.String()
		case bool:
			text = strconv.FormatBool(v)
		default:
			if asYAML {
				// YAML decoders differ on which plain scalars are
				// numbers (00008, 1_000) or times: compare strings only.
				continue
			}
			t.Fatalf("option %s was set from %T %v", k, v, v)
		}
		if _, ok := v.(string); !ok && asYAML {
			continue
		}
		if _, ok := v.(string); !ok && isString {
			t.Fatalf("string option %s was set from %T %v", k, v, v)
		}
		ff := fresh.Lookup(k)
		if err := ff.Value.Set(text); err != nil {
			t.Fatalf("option %s = %q parsed from the file but not as a flag: %v", k, text, err)
		}
		if got, want := f.Value.String(), ff.Value.String(); got != want {
			t.Fatalf("option %s is %q, the file says %q (%q)", k, got, text, want)
		}
	}
}
