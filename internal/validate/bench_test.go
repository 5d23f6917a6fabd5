package validate

import (
	"encoding/json"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/node"
)

// benchEntities are 1,000 generated entities of the rich fuzz blueprint,
// about a third of them invalid, as trees and as canonical JSON.
func benchEntities(b *testing.B) (*pair, []*node.Node, [][]byte) {
	bp := fuzzBlueprints()[0]
	p := compilePair(b, bp)
	g := newGen(7)
	info := infoOf(bp)
	var nodes []*node.Node
	var docs [][]byte
	for len(nodes) < 1000 {
		e := g.validEntity(info)
		if len(nodes)%3 == 2 {
			c, _ := g.mutate(info, e)
			e = c.entity
		}
		data, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		n, err := node.Decode(data, catalog.Pos{})
		if err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, n)
		docs = append(docs, n.JSON())
	}
	return p, nodes, docs
}

// BenchmarkValidate is the Go validator on entities already parsed into
// trees, as the loader has them.
func BenchmarkValidate(b *testing.B) {
	p, nodes, _ := benchEntities(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, n := range nodes {
			p.v.Validate(n, "entities.service.x")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(nodes)), "ns/entity")
}

// BenchmarkValidateCUE is the reference: each entity compiled from JSON
// in a fresh context and unified with the definition compiled once.
func BenchmarkValidateCUE(b *testing.B) {
	p, _, docs := benchEntities(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, d := range docs {
			v := cuecontext.New().CompileBytes(d)
			_ = p.def.Unify(v).Validate(cue.Concrete(true))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(docs)), "ns/entity")
}

// TestValidEntitiesDoNotAllocate holds the package's promise that the Go
// validator allocates only for errors (and for uniqueItems arrays longer
// than pairwiseMax, which it hashes).
func TestValidEntitiesDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	bp := fuzzBlueprints()[0]
	p := compilePair(t, bp)
	g := newGen(7)
	info := infoOf(bp)
	var nodes []*node.Node
	for len(nodes) < 200 {
		data, _ := json.Marshal(g.validEntity(info))
		n, err := node.Decode(data, catalog.Pos{})
		if err != nil {
			t.Fatal(err)
		}
		if ds := p.v.Validate(n, ""); len(ds) != 0 {
			t.Fatalf("generated entity is invalid: %v\n%s", ds, data)
		}
		if !hasLongArray(n) {
			nodes = append(nodes, n)
		}
	}
	allocs := testing.AllocsPerRun(5, func() {
		for _, n := range nodes {
			p.v.Validate(n, "entities.service.x")
		}
	})
	if allocs != 0 {
		t.Errorf("validating %d valid entities allocated %.0f times", len(nodes), allocs)
	}
}

func hasLongArray(n *node.Node) bool {
	switch n.Kind {
	case node.List:
		if len(n.Elems) > pairwiseMax {
			return true
		}
		for _, e := range n.Elems {
			if hasLongArray(e) {
				return true
			}
		}
	case node.Struct:
		for _, f := range n.Fields {
			if hasLongArray(f.Value) {
				return true
			}
		}
	}
	return false
}
