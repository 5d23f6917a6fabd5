package validate

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/node"
)

func decodeT(t *testing.T, s string) *node.Node {
	t.Helper()
	n, err := node.Decode([]byte(s), catalog.Pos{})
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return n
}

// TestEqualItems pins the equality of uniqueItems, CUE's list.UniqueItems.
func TestEqualItems(t *testing.T) {
	tests := []struct {
		a, b  string
		equal bool
	}{
		{`1`, `1`, true}, {`1`, `1.0`, false}, {`1.0`, `1e0`, true}, {`1.0`, `1.00`, true},
		{`0`, `-0`, true}, {`-0.0`, `0.0`, true}, {`0`, `0.0`, false}, {`100`, `1e2`, false},
		{`1E2`, `100.0`, true}, {`1e400`, `10e399`, true}, {`1e400`, `1e401`, false},
		{`0.1`, `0.10000000000000001`, false}, {`-1.5`, `1.5`, false},
		{`"a"`, `"a"`, true}, {`"a"`, `"A"`, false}, {`"1"`, `1`, false},
		{`null`, `null`, true}, {`true`, `true`, true}, {`true`, `false`, false}, {`null`, `false`, false},
		{`{}`, `[]`, false}, {`{}`, `{}`, true}, {`[]`, `[]`, true}, {`[1]`, `[1, 1]`, false},
		{`{"a": 1, "b": 2}`, `{"b": 2, "a": 1}`, true}, {`{"a": 1}`, `{"a": 1.0}`, false},
		{`{"a": 1.0}`, `{"a": 10e-1}`, true}, {`{"a": 1}`, `{"a": 1, "b": null}`, false},
		{`[[1.0], {"x": [0]}]`, `[[1e0], {"x": [-0]}]`, true}, {`[1, 2]`, `[2, 1]`, false},
	}
	for _, tt := range tests {
		a, b := decodeT(t, tt.a), decodeT(t, tt.b)
		if got := equalItems(a, b); got != tt.equal {
			t.Errorf("equalItems(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.equal)
		}
		if got := equalItems(b, a); got != tt.equal {
			t.Errorf("equalItems(%s, %s) = %v, want %v", tt.b, tt.a, got, tt.equal)
		}
		ka, kb := string(appendEqualityKey(nil, a)), string(appendEqualityKey(nil, b))
		if (ka == kb) != tt.equal {
			t.Errorf("keys of %s and %s: %q, %q; want equal=%v", tt.a, tt.b, ka, kb, tt.equal)
		}
	}
}

// TestRepeatsHashedAgreesWithPairwise checks that long arrays, which
// repeats hashes, get the same findings as pairwise comparison would.
func TestRepeatsHashedAgreesWithPairwise(t *testing.T) {
	g := newGen(42)
	items := []catalog.Property{{Type: "number"}, {Type: "object"}, {Type: "string", MaxLength: ip(1)}, {}, {Type: "array", Items: &catalog.Property{Type: "number"}, MaxItems: ip(2)}}
	for round := range 200 {
		it := items[round%len(items)]
		var elems []any
		for len(elems) < pairwiseMax+1+g.intn(20) {
			v := g.good(&it)
			switch g.intn(4) {
			case 0:
				v = g.renotate(v)
			case 1:
				if f, ok := flipClass(v); ok {
					v = f
				}
			}
			elems = append(elems, v)
		}
		data, _ := json.Marshal(elems)
		n := decodeT(t, string(data))
		var hashed, pairwise []string
		repeats(n.Elems, func(i, j int) { hashed = append(hashed, fmt.Sprint(i, j)) })
		for i := 1; i < len(n.Elems); i++ {
			for j := 0; j < i; j++ {
				if equalItems(n.Elems[j], n.Elems[i]) {
					pairwise = append(pairwise, fmt.Sprint(i, j))
					break
				}
			}
		}
		if !slices.Equal(hashed, pairwise) {
			t.Fatalf("%s:\nhashed   %v\npairwise %v", data, hashed, pairwise)
		}
	}
}
