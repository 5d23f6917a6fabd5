// Package synth writes synthetic catalogs for benchmarks and load tests:
// one blueprint file, a file of teams, and one CUE file per service, the
// layout of the measurements in shared/notes/libraries.md. Every n-th
// service can be made invalid, so that benchmarks exercise error paths.
package synth

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/schema"
)

// Options shape a synthetic catalog.
type Options struct {
	Services int
	Teams    int
	// InvalidEvery makes every n-th service break its blueprint; 0 means
	// all are valid.
	InvalidEvery int
	// CUECheck also writes entities/check.cue (ignored by pier through
	// .pierignore) that constrains every service with the CUE definition
	// compiled from the blueprint, so that `cue vet ./entities` does the
	// same per-entity validation as pier.
	CUECheck bool
	// Derived adds computed properties (a calculation and a mirror on
	// services, an aggregation on teams) and three scorecards of ten
	// rules, for measuring what derived data costs.
	Derived bool
}

const blueprints = `package catalog

blueprints: team: {
	title: "Team"
	schema: properties: {
		slack: {type: "string", pattern: "^#[a-z0-9-]+$"}
		size: {type: "number", minimum: 1}
	}
}

blueprints: service: {
	title: "Service"
	schema: {
		properties: {
			language: {type: "string", enum: ["Go", "Python", "Java", "TypeScript", "Rust"]}
			lifecycle: {type: "string", enum: ["Production", "Staging", "Development", "Deprecated"]}
			tier: {type: "string", enum: ["Mission Critical", "Customer Facing", "Internal", "Experimental"]}
			repository: {type: "string", format: "url"}
			test_coverage: {type: "number", minimum: 0, maximum: 100}
			on_call: {type: "string", format: "email"}
			created: {type: "string", format: "date-time"}
			tags: {type: "array", items: {type: "string", maxLength: 32}, uniqueItems: true}
			has_readme: {type: "boolean"}
			replicas: {type: "number", minimum: 1, maximum: 50}
			health: {type: "string", runtime: true}
		}
		required: ["language", "lifecycle", "tier"]
	}
	relations: team: {target: "team", required: true, many: false}
}
`

// derived is the scorecards Options.Derived adds; the computed
// declarations are spliced into the blueprints themselves, since a
// blueprint is declared in one file.
const derived = `package catalog

scorecards: {
	for i, name in ["readiness", "security", "operations"] {
		(name): {
			blueprintIdentifier: "service"
			rules: [
				{identifier: "r1", level: "Bronze", query: {combinator: "and", rules: [{property: "has_readme", operator: "=", value: true}]}},
				{identifier: "r2", level: "Bronze", query: {combinator: "and", rules: [{property: "test_coverage", operator: ">=", value: 10 + i}]}},
				{identifier: "r3", level: "Bronze", query: {combinator: "and", rules: [{property: "lifecycle", operator: "!=", value: "Deprecated"}]}},
				{identifier: "r4", level: "Silver", query: {combinator: "and", rules: [{property: "test_coverage", operator: ">=", value: 40 + i}]}},
				{identifier: "r5", level: "Silver", query: {combinator: "and", rules: [{property: "replicas", operator: ">=", value: 2}]}},
				{identifier: "r6", level: "Silver", query: {combinator: "and", rules: [{property: "tags", operator: "contains", value: "svc"}]}},
				{identifier: "r7", level: "Gold", query: {combinator: "and", rules: [{property: "test_coverage", operator: ">=", value: 80 + i}]}},
				{identifier: "r8", level: "Gold", query: {combinator: "and", rules: [{property: "tier", operator: "in", value: ["Mission Critical", "Customer Facing"]}]}},
				{identifier: "r9", level: "Gold", query: {combinator: "and", rules: [{property: "language", operator: "in", value: ["Go", "Rust"]}]}},
				{identifier: "r10", level: "Gold", query: {combinator: "and", rules: [{property: "on_call", operator: "endsWith", value: "@acme.example"}]}},
			]
		}
	}
}
`

var (
	languages  = []string{"Go", "Python", "Java", "TypeScript", "Rust"}
	lifecycles = []string{"Production", "Staging", "Development", "Deprecated"}
	tiers      = []string{"Mission Critical", "Customer Facing", "Internal", "Experimental"}
)

// ServicePath is the file that declares service i.
func ServicePath(i int) string {
	return fmt.Sprintf("entities/svc-%06d.cue", i)
}

// Service renders the file declaring service i; revision varies its
// content so that benchmarks can write a changed version.
func Service(i, revision int, o Options) []byte {
	lifecycle := lifecycles[(i+revision)%len(lifecycles)]
	if o.InvalidEvery > 0 && i%o.InvalidEvery == o.InvalidEvery-1 {
		lifecycle = "Prod"
	}
	teams := max(o.Teams, 1)
	return fmt.Appendf(nil, `package catalog

entities: service: "svc-%06d": {
	title: "Service %d"
	team: "team-%03d"
	properties: {
		language: %q
		lifecycle: %q
		tier: %q
		repository: "https://github.com/acme/svc-%06d"
		test_coverage: %d.5
		on_call: "oncall-%d@acme.example"
		created: "2026-%02d-%02dT10:00:00Z"
		tags: ["svc", "team-%03d"]
		has_readme: %v
		replicas: %d
	}
	relations: team: "team-%03d"
}
`, i, i, i%teams, languages[i%len(languages)], lifecycle, tiers[i%len(tiers)], i, (i+revision)%100, i%97,
		1+i%12, 1+i%28, i%teams, i%3 != 0, 1+i%50, i%teams)
}

// Write creates the catalog under dir.
func Write(dir string, o Options) error {
	if o.Teams == 0 {
		o.Teams = max(1, o.Services/200)
	}
	write := func(name string, data []byte) error {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, data, 0o644)
	}
	if err := write("cue.mod/module.cue", []byte("module: \"example.com/synth\"\nlanguage: version: \"v0.17.0\"\n")); err != nil {
		return err
	}
	bps := blueprints
	if o.Derived {
		bps = strings.Replace(bps, "\trelations: team: {target: \"team\", required: true, many: false}\n",
			"\trelations: team: {target: \"team\", required: true, many: false}\n"+
				"\tmirrorProperties: team_slack: path: \"team.slack\"\n"+
				"\tcalculationProperties: coverage_gap: {type: \"number\", calculation: \"100 - .properties.test_coverage\"}\n", 1)
		bps = strings.Replace(bps, "\t\tsize: {type: \"number\", minimum: 1}\n\t}\n",
			"\t\tsize: {type: \"number\", minimum: 1}\n\t}\n"+
				"\taggregationProperties: services: {target: \"service\", calculationSpec: func: \"count\"}\n", 1)
	}
	if err := write("blueprints.cue", []byte(bps)); err != nil {
		return err
	}
	teams := []byte("package catalog\n\nentities: team: {\n")
	for t := 0; t < o.Teams; t++ {
		teams = fmt.Appendf(teams, "\t\"team-%03d\": {title: \"Team %d\", properties: {slack: \"#team-%d\", size: %d}}\n", t, t, t, 3+t%9)
	}
	teams = append(teams, "}\n"...)
	if err := write("teams.cue", teams); err != nil {
		return err
	}
	for i := 0; i < o.Services; i++ {
		if err := write(ServicePath(i), Service(i, 0, o)); err != nil {
			return err
		}
	}
	if o.Derived {
		if err := write("derived.cue", []byte(derived)); err != nil {
			return err
		}
	}
	if o.CUECheck {
		if err := write(".pierignore", []byte("check.cue\n")); err != nil {
			return err
		}
		if err := write("entities/check.cue", CUECheck()); err != nil {
			return err
		}
	}
	return nil
}

// CUECheck is a CUE file that applies the service blueprint's compiled
// definition to every service of the package it is unified with.
func CUECheck() []byte {
	bp := ServiceBlueprint()
	return []byte("package catalog\n\n" + schema.EntityDefinition(bp) + "\nentities: service: [string]: #Entity\n")
}

// ServiceBlueprint is the decoded service blueprint.
func ServiceBlueprint() *catalog.Blueprint {
	min0, max100, min1, max50 := numberPtr("0"), numberPtr("100"), numberPtr("1"), numberPtr("50")
	n32 := 32
	return &catalog.Blueprint{
		Identifier: "service",
		Schema: catalog.BlueprintSchema{
			Properties: map[string]catalog.Property{
				"language":      {Type: "string", Enum: anys(languages)},
				"lifecycle":     {Type: "string", Enum: anys(lifecycles)},
				"tier":          {Type: "string", Enum: anys(tiers)},
				"repository":    {Type: "string", Format: "url"},
				"test_coverage": {Type: "number", Minimum: min0, Maximum: max100},
				"on_call":       {Type: "string", Format: "email"},
				"created":       {Type: "string", Format: "date-time"},
				"tags":          {Type: "array", Items: &catalog.Property{Type: "string", MaxLength: &n32}, UniqueItems: true},
				"has_readme":    {Type: "boolean"},
				"replicas":      {Type: "number", Minimum: min1, Maximum: max50},
				"health":        {Type: "string", Runtime: true},
			},
			Required: []string{"language", "lifecycle", "tier"},
		},
		Relations: map[string]catalog.Relation{"team": {Target: "team", Required: true}},
	}
}
