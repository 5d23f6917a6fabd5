package node

import (
	"encoding/json"
	"testing"

	"github.com/pierhq/pier/internal/catalog"
)

// JSON must not depend on the order fields were written in: it is the
// content hash that decides whether an object changed.
func TestJSONIsCanonical(t *testing.T) {
	a, err := Decode([]byte(`{"b": [1, 2.50, "x<y"], "a": {"d": null, "c": true}}`), catalog.Pos{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode([]byte(`{"a": {"c": true, "d": null}, "b": [1, 2.50, "x<y"]}`), catalog.Pos{})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":{"c":true,"d":null},"b":[1,2.50,"x\u003cy"]}`
	if got := string(a.JSON()); got != want {
		t.Fatalf("JSON() = %s, want %s", got, want)
	}
	if string(a.JSON()) != string(b.JSON()) {
		t.Fatal("field order changed the canonical form")
	}
	// The literal text of numbers survives: 2.50 is not 2.5.
	var v map[string]any
	if err := json.Unmarshal(a.JSON(), &v); err != nil {
		t.Fatalf("canonical form is not JSON: %v", err)
	}
	if got := a.Get("b").Elems[1].Any(); got != json.Number("2.50") {
		t.Fatalf("number kept as %v (%T)", got, got)
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{`"Prod"`, `"Prod"`},
		{`3`, `3`},
		{`null`, `null`},
		{`[1,2]`, `an array of 2`},
		{`{"a":1}`, `an object`},
	}
	for _, tt := range tests {
		n, err := Decode([]byte(tt.in), catalog.Pos{})
		if err != nil {
			t.Fatal(err)
		}
		if got := n.Describe(); got != tt.want {
			t.Errorf("Describe(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
