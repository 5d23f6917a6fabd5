package validate

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/node"
)

// TestDifferential checks the Go validator against the CUE definition on
// generated blueprints and entities. Every case must get the same verdict
// from both; valid entities must pass both; an entity with one mutation
// must fail both, the Go validator must name the mutated path, and CUE
// must not name a path the Go validator did not.
//
// Reproduce a failure with
//
//	go test ./internal/validate -run 'TestDifferential/seed=N'
func TestDifferential(t *testing.T) {
	seeds, blueprints, entities := 8, 40, 12
	if testing.Short() {
		seeds, blueprints = 4, 15
	}
	var total, invalid, validCount int
	mutations := map[string]int{}
	for seed := 1; seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			g := newGen(uint64(seed))
			fails := 0
			for b := 0; b < blueprints; b++ {
				info := g.blueprint(b)
				p := compilePair(t, info.bp)
				for range entities {
					valid := g.validEntity(info)
					cases := []tcase{{desc: "valid", entity: valid, valid: true}}
					for range 2 {
						if c, ok := g.mutate(info, valid); ok {
							cases = append(cases, c)
						}
					}
					for _, c := range cases {
						total++
						if c.valid {
							validCount++
						} else {
							invalid++
							mutations[c.mutation]++
						}
						if !checkCase(t, p, c) {
							t.Logf("reproduce: seed=%d blueprint=%d", seed, b)
							if fails++; fails >= 10 {
								t.Fatal("stopping after 10 failures")
							}
						}
					}
				}
			}
		})
	}
	t.Logf("%d cases: %d valid, %d invalid (single mutation)", total, validCount, invalid)
	keys := make([]string, 0, len(mutations))
	for k := range mutations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("  %5d  %s", mutations[k], k)
	}
	minTotal := 2000
	if testing.Short() {
		minTotal = 500
	}
	if total < minTotal || float64(invalid) < 0.3*float64(total) || float64(validCount) < 0.2*float64(total) {
		t.Errorf("the generator made %d cases, %d invalid and %d valid: want at least %d, 30%% invalid and 20%% valid", total, invalid, validCount, minTotal)
	}
	if len(mutations) < 15 {
		t.Errorf("only %d kinds of mutation were generated", len(mutations))
	}
}

// checkCase runs one case through both validators and reports whether it
// passed.
func checkCase(t *testing.T, p *pair, c tcase) bool {
	t.Helper()
	data, err := json.Marshal(c.entity)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Decode(data, catalog.Pos{})
	if err != nil {
		t.Fatal(err)
	}
	canonical := n.JSON()
	gv := p.goVerdict(n)
	cv := p.cueVerdict(canonical)
	var problems []string
	if gv.valid != cv.valid {
		problems = append(problems, fmt.Sprintf("verdicts differ: Go valid=%v, CUE valid=%v", gv.valid, cv.valid))
	}
	if c.valid && !gv.valid {
		problems = append(problems, "a valid entity was rejected by Go")
	}
	if c.valid && !cv.valid {
		problems = append(problems, "a valid entity was rejected by CUE")
	}
	if !c.valid {
		if gv.valid {
			problems = append(problems, "Go did not report the mutation")
		} else if !gv.keys[c.key] {
			problems = append(problems, fmt.Sprintf("Go did not report at %s (reported at %s)", c.key, keyList(gv.keys)))
		}
		if cv.valid {
			problems = append(problems, "CUE did not report the mutation")
		}
	}
	if !c.valid && !gv.valid && !cv.valid && (len(gv.keys) != 1 || len(cv.keys) != 1 || !cv.keys[c.key]) {
		problems = append(problems, fmt.Sprintf("one mutation at %s, but Go failed at %s and CUE at %s", c.key, keyList(gv.keys), keyList(cv.keys)))
	}
	if !cv.valid && !gv.valid && !subset(cv.keys, gv.keys) {
		problems = append(problems, fmt.Sprintf("CUE failed at %s, Go at %s", keyList(cv.keys), keyList(gv.keys)))
	}
	if len(problems) == 0 {
		return true
	}
	t.Errorf("%s\ncase: %s (key %s)\nentity: %s\nGo:%s\nCUE:%s\ndefinition:\n%s",
		strings.Join(problems, "; "), c.desc, c.key, canonical, gv.text, cv.text, p.src)
	return false
}
