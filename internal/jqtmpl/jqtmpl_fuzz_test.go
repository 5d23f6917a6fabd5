package jqtmpl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// canary is an environment variable no template may read: templates
// see .secrets, never the daemon's environment.
const canary = "PIER_JQTMPL_FUZZ_CANARY"

// FuzzTemplate compiles arbitrary template values (a JSON document whose
// strings may hold templates, or a bare template string) and renders
// them over arbitrary data. It checks that:
//
//   - a value with no {{ anywhere compiles, and renders to itself;
//   - a compile error names where the template is, when it is inside a
//     value;
//   - a text template's output starts with the text before its first {{;
//   - the result is JSON (numbers json.Number) that encodes and decodes
//     back to itself, and rendering again gives the same result;
//   - rendering ends within DefaultTimeout per expression (and slack);
//   - no template reads the process environment.
//
// go test -run='^$' -fuzz='^FuzzTemplate$' -fuzztime=60s ./internal/jqtmpl/
func FuzzTemplate(f *testing.F) {
	data := `{"inputs":{"ttl":10,"name":"dev-1","tags":["a","b"]},"entity":{"identifier":"svc","properties":{"tier":null}},"run":{"id":"r_1","link":"http://x/r_1"},"secrets":{"TOKEN":"s3"}}`
	for _, s := range []string{
		`"hello"`, `"{{ .inputs.ttl }}"`, `"{{ {a: .inputs.name, b: {c: 1}} }}"`, `"env {{ .inputs.name }} for {{.inputs.ttl}} days"`,
		`"tags={{ .inputs.tags }}"`, `"tier={{ .entity.properties.tier }}"`, `"{{ empty }}"`, `{"k": ["{{ .run.id }}", 2, {"x": "{{ .entity.identifier }}"}]}`,
		`"{{ .inputs.ttl * 24 }}"`, `"{{ .inputs.ttl / 4 }}"`, `"Bearer {{ .secrets.TOKEN }}"`, `"a {{ .x"`, `{"body": {"x": "{{ .a | }}"}}`,
		`"{{ }}"`, `"{{ nosuchfn }}"`, `"{{ $ENV }}"`, `"{{ env | tostring }}"`, `"{{ [range(1e9)] | length }}"`, `"{{ 1 / 0 }}"`, `"{{ nan }}"`,
		`"{{ infinite }}"`, `"{{ error(\"x\") }}"`, `"{{ input }}"`, `"{{ halt_error }}"`, `"}} {{ \"}}\" }} {{"`, `"{{{{ 1 }}}}"`,
		`"{{ now | type }}"`, `"{{ 100000000000000000000 }}"`, `"{{ [.[]?] }}"`, `{"{{ .x }}": "{{ 1 }}"}`, `[1, "x", null, true, {"a": 1.50}]`,
		`"{{ .inputs | to_entries | map(.key) | join(\",\") }}"`, `"{{ \"x\" * 3 }}"`, `"{{ limit(3; repeat(1)) }}"`, `"{{ {} | .a.b.c }}"`,
	} {
		f.Add([]byte(s), []byte(data))
	}
	f.Add([]byte(`just text, no JSON`), []byte(`null`))
	f.Add([]byte(`{{ .a }} and {{ .b }}`), []byte(`{"a": 1, "b": [2]}`))
	os.Setenv(canary, "canary-value-"+strings.Repeat("x", 8))
	f.Fuzz(func(t *testing.T, tsrc, dsrc []byte) {
		var v any
		if decode(tsrc, &v) != nil {
			// A bare template, as valid UTF-8 as every string a catalog
			// file or a JSON body can hold.
			v = strings.ToValidUTF8(string(tsrc), "\uFFFD")
		}
		var in any
		if decode(dsrc, &in) != nil {
			in = nil
		}
		tp, err := Compile(v)
		if !hasTemplate(v) {
			if err != nil {
				t.Fatalf("a value without {{ does not compile: %v", err)
			}
			out, err := tp.Render(context.Background(), in)
			if err != nil || !reflect.DeepEqual(out, v) {
				t.Fatalf("a value without {{ renders as %#v, %v; want %#v", out, err, v)
			}
			return
		}
		if err != nil {
			if _, isString := v.(string); !isString && !strings.Contains(err.Error(), "template at ") {
				t.Fatalf("compile error inside a value does not say where: %v", err)
			}
			return
		}
		start := time.Now()
		out, err := tp.Render(context.Background(), in)
		if took, limit := time.Since(start), time.Duration(exprs(tp.root))*(DefaultTimeout+time.Second); took > limit {
			t.Fatalf("rendering took %v, over %v", took, limit)
		}
		if err != nil {
			if strings.Contains(err.Error(), os.Getenv(canary)) {
				t.Fatalf("an error shows the environment: %v", err)
			}
			return
		}
		b, err := json.Marshal(out)
		if err != nil {
			t.Fatalf("result %#v is not JSON: %v", out, err)
		}
		if bytes.Contains(b, []byte(os.Getenv(canary))) {
			t.Fatalf("a template read the environment: %s", b)
		}
		checkJSON(t, out)
		var back any
		if err := decode(b, &back); err != nil || !reflect.DeepEqual(back, out) {
			t.Fatalf("result %#v encodes as %s, which reads back as %#v (%v)", out, b, back, err)
		}
		if s, ok := v.(string); ok {
			if txt, ok := tp.root.(text); ok {
				prefix := s[:strings.Index(s, "{{")]
				if got, _ := out.(string); len(txt.parts) > 0 && !strings.HasPrefix(got, prefix) {
					t.Fatalf("text template renders %q, without its leading text %q", got, prefix)
				}
			}
		}
		if !bytes.Contains(tsrc, []byte("now")) {
			again, err := tp.Render(context.Background(), in)
			if err != nil || !reflect.DeepEqual(again, out) {
				t.Fatalf("rendered %#v, then %#v (%v)", out, again, err)
			}
		}
	})
}

func decode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}

func hasTemplate(v any) bool {
	switch x := v.(type) {
	case string:
		return Has(x)
	case []any:
		for _, el := range x {
			if hasTemplate(el) {
				return true
			}
		}
	case map[string]any:
		for _, el := range x {
			if hasTemplate(el) {
				return true
			}
		}
	}
	return false
}

// exprs counts the expressions of a compiled template.
func exprs(n node) int {
	switch x := n.(type) {
	case whole:
		return 1
	case text:
		c := 0
		for _, p := range x.parts {
			if p.expr != nil {
				c++
			}
		}
		return c
	case object:
		c := 0
		for _, v := range x.vals {
			c += exprs(v)
		}
		return c
	case array:
		c := 0
		for _, v := range x.items {
			c += exprs(v)
		}
		return c
	}
	return 0
}

// checkJSON checks that a rendered value holds only what encoding/json
// decodes with UseNumber.
func checkJSON(t *testing.T, v any) {
	switch x := v.(type) {
	case nil, bool, string, json.Number:
	case []any:
		for _, el := range x {
			checkJSON(t, el)
		}
	case map[string]any:
		for _, el := range x {
			checkJSON(t, el)
		}
	default:
		t.Fatalf("rendered a %T: %#v", v, v)
	}
}
