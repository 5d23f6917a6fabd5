package jqtmpl

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
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
