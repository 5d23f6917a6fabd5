package jqtmpl

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestRender(t *testing.T) {
	data := map[string]any{
		"inputs": map[string]any{"ttl": json.Number("10"), "name": "dev-1", "tags": []any{"a", "b"}},
		"entity": map[string]any{"identifier": "svc", "properties": map[string]any{"tier": nil}},
		"run":    map[string]any{"id": "r_1"},
	}
	tests := []struct {
		name, tmpl, want string
	}{
		{"plain string untouched", `"hello"`, `"hello"`},
		{"whole template keeps the type", `"{{ .inputs.ttl }}"`, `10`},
		{"whole template object", `"{{ {a: .inputs.name, b: {c: 1}} }}"`, `{"a":"dev-1","b":{"c":1}}`},
		{"text interpolation", `"env {{ .inputs.name }} for {{.inputs.ttl}} days"`, `"env dev-1 for 10 days"`},
		{"arrays render as JSON in text", `"tags={{ .inputs.tags }}"`, `"tags=[\"a\",\"b\"]"`},
		{"null in text is empty", `"tier={{ .entity.properties.tier }}"`, `"tier="`},
		{"no output is null", `"{{ empty }}"`, `null`},
		{"nested structures", `{"k": ["{{ .run.id }}", 2, {"x": "{{ .entity.identifier }}"}]}`, `{"k":["r_1",2,{"x":"svc"}]}`},
		{"arithmetic", `"{{ .inputs.ttl * 24 }}"`, `240`},
		{"decimal", `"{{ .inputs.ttl / 4 }}"`, `2.5`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			dec := json.NewDecoder(strings.NewReader(tt.tmpl))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			tp, err := Compile(v)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			out, err := tp.Render(context.Background(), data)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			got, _ := json.Marshal(out)
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"unclosed", "a {{ .x", "without a closing"},
		{"bad jq", map[string]any{"body": map[string]any{"x": "{{ .a | }}"}}, "at body.x"},
		{"empty", "{{ }}", "empty expression"},
		{"unknown function", "{{ nosuchfn }}", `jq "nosuchfn"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.v)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestRenderErrorNamesExpression(t *testing.T) {
	tp, err := Compile("{{ .a.b.c | tonumber }}")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tp.Render(context.Background(), map[string]any{"a": map[string]any{"b": map[string]any{"c": "x"}}})
	if err == nil || !strings.Contains(err.Error(), `.a.b.c | tonumber`) {
		t.Fatalf("err = %v", err)
	}
}

func TestString(t *testing.T) {
	got, err := String(context.Background(), "Bearer {{ .secrets.TOKEN }}", map[string]any{"secrets": map[string]any{"TOKEN": "s3"}})
	if err != nil || got != "Bearer s3" {
		t.Fatalf("got %q, %v", got, err)
	}
	got, err = String(context.Background(), "{{ .n }}", map[string]any{"n": json.Number("3")})
	if err != nil || got != "3" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// TestCompileLongUnclosed checks that a long string of "}}" after an
// expression that never parses is refused at once: compiling tried every
// "}}" as the end, quadratically (a 48 KB string took 2 s, a megabyte a
// quarter of an hour), and quoted the whole string in the error.
func TestCompileLongUnclosed(t *testing.T) {
	for _, s := range []string{
		"{{ (" + strings.Repeat(" }}", 100000),              // refused by the parser at the first }
		"{{ \"never closed" + strings.Repeat(" }}", 100000), // a string that swallows every }}
		"{{ . as" + strings.Repeat(" }}", 100000),
	} {
		start := time.Now()
		_, err := Compile(s)
		if err == nil || time.Since(start) > 2*time.Second || len(err.Error()) > 300 {
			t.Fatalf("%.20q...: %v after %v", s, err, time.Since(start))
		}
	}
	// "}}" inside an expression still works, up to maxCloses of them.
	v := "{{ {a: {b: {c: \"}}\"}}} | .a.b.c }}"
	tp, err := Compile(v)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := tp.Render(context.Background(), nil); err != nil || out != "}}" {
		t.Fatalf("%s = %v, %v", v, out, err)
	}
}
