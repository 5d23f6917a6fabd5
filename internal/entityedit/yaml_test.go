package entityedit

import "testing"

// checkoutYAML is an excerpt of catalog-example/entities/service/checkout.yaml.
const checkoutYAML = `# The checkout team's services. YAML files hold the same shape as JSON:
# entities -> blueprint -> identifier -> {title, properties, relations}.
entities:
  service:
    checkout-web:
      title: Checkout Web
      properties:
        description: Hosted payment page (Next.js) embedded by merchants
        language: TypeScript
        tier: Customer Facing  # until the redesign ships
        repository: https://github.com/acme-pay/checkout-web
        test_coverage: 68
        has_readme: true
      relations:
        team: checkout
        dependencies:
          - checkout-bff
    checkout-bff:
      title: Checkout BFF
      properties:
        language: TypeScript
        repository: https://github.com/acme-pay/backend/checkout-bff
      relations:
        team: checkout
`

// environmentsYAML is an excerpt of catalog-example/entities/environment/environments.yaml.
const environmentsYAML = `# Long-lived environments.
entities:
  environment:
    production:
      title: Production (eu-west-1)
      properties:
        type: production
        region: eu-west-1
        cost_per_month: 48200
        locked: false
    staging:
      title: Staging
      properties:
        type: staging
      relations: {}
`

// teamsYAML is an excerpt of catalog-example/entities/team/teams.yaml,
// with one team written in flow style.
const teamsYAML = `entities:
  team:
    platform:
      title: Platform
      properties:
        slack_channel: "#team-platform"
        email: platform@acme-pay.com
        size: 7
    ops: {title: Ops, properties: {size: 3, email: ops@acme-pay.com}}
`

func TestSetYAML(t *testing.T) {
	const svc = "entities/service/checkout.yaml"
	runCases(t, []setCase{
		{
			name: "auto_assign_team: the team goes after the title", file: svc, src: checkoutYAML, bp: "service", id: "checkout-bff",
			changes: []Change{{Name: "team", Value: "backend-team"}},
			diff:    []string{`+      team: backend-team`},
		},
		{
			name: "replace a relation", file: svc, src: checkoutYAML, bp: "service", id: "checkout-web",
			changes: []Change{{Section: "relations", Name: "team", Value: "backend-team"}},
			diff:    []string{`-        team: checkout`, `+        team: backend-team`},
		},
		{
			name: "a comment after the value stays", file: svc, src: checkoutYAML, bp: "service", id: "checkout-web",
			changes: []Change{{Section: "properties", Name: "tier", Value: "Internal"}},
			diff:    []string{`-        tier: Customer Facing  # until the redesign ships`, `+        tier: Internal  # until the redesign ships`},
		},
		{
			name: "a new property at the end of the map", file: svc, src: checkoutYAML, bp: "service", id: "checkout-bff",
			changes: []Change{{Section: "properties", Name: "on_call", Value: "checkout-oncall@acme-pay.pagerduty.com"}},
			diff:    []string{`+        on_call: checkout-oncall@acme-pay.pagerduty.com`},
		},
		{
			name: "values of every type", file: svc, src: checkoutYAML, bp: "service", id: "checkout-web",
			changes: []Change{
				{Section: "properties", Name: "description", Value: "Checkout: the hosted page"},
				{Section: "properties", Name: "test_coverage", Value: 70.5},
				{Section: "properties", Name: "has_readme", Value: false},
				{Section: "properties", Name: "language", Value: nil},
				{Section: "properties", Name: "port", Value: "8080"},
				{Section: "properties", Name: "tags", Value: []any{"pci", "web"}},
				{Section: "properties", Name: "limits", Value: map[string]any{"cpu": 2, "memory": "4Gi"}},
				{Section: "relations", Name: "dependencies", Value: []any{}},
			},
			diff: []string{
				`-        description: Hosted payment page (Next.js) embedded by merchants`,
				`-        language: TypeScript`,
				`+        description: "Checkout: the hosted page"`,
				`+        language: null`,
				`-        test_coverage: 68`,
				`-        has_readme: true`,
				`+        test_coverage: 70.5`,
				`+        has_readme: false`,
				`+        port: "8080"`,
				`+        tags:`,
				`+          - pci`,
				`+          - web`,
				`+        limits:`,
				`+          cpu: 2`,
				`+          memory: 4Gi`,
				`-        dependencies:`,
				`-          - checkout-bff`,
				`+        dependencies: []`,
			},
		},
		{
			name: "a block list replaces a block list", file: svc, src: checkoutYAML, bp: "service", id: "checkout-web",
			changes: []Change{{Section: "relations", Name: "dependencies", Value: []any{"checkout-bff", "checkout-web"}}},
			diff:    []string{`+          - checkout-web`},
		},
		{
			name: "the current values change nothing", file: svc, src: checkoutYAML, bp: "service", id: "checkout-web",
			changes: []Change{
				{Name: "title", Value: "Checkout Web"},
				{Section: "properties", Name: "test_coverage", Value: 68},
				{Section: "relations", Name: "dependencies", Value: []any{"checkout-bff"}},
			},
		},
		{
			name: "a missing relations map is created under the entity", file: "environments.yaml", src: environmentsYAML, bp: "environment", id: "production",
			changes: []Change{{Section: "relations", Name: "team", Value: "platform"}},
			diff:    []string{`+      relations:`, `+        team: platform`},
		},
		{
			name: "an empty flow map becomes a block", file: "environments.yaml", src: environmentsYAML, bp: "environment", id: "staging",
			changes: []Change{{Section: "relations", Name: "team", Value: "platform"}, {Section: "properties", Name: "ttl", Value: "2026-12-04T18:00:00Z"}},
			diff: []string{
				`-      relations: {}`,
				`+        ttl: 2026-12-04T18:00:00Z`,
				`+      relations:`,
				`+        team: platform`,
			},
		},
		{
			name: "quoted only when needed", file: "teams.yaml", src: teamsYAML, bp: "team", id: "platform",
			changes: []Change{
				{Section: "properties", Name: "slack_channel", Value: "#team-platform-eng"},
				{Section: "properties", Name: "email", Value: "true"},
				{Section: "properties", Name: "manager", Value: "dana.okafor@acme-pay.com"},
			},
			diff: []string{
				`-        slack_channel: "#team-platform"`,
				`-        email: platform@acme-pay.com`,
				`+        slack_channel: "#team-platform-eng"`,
				`+        email: "true"`,
				`+        manager: dana.okafor@acme-pay.com`,
			},
		},
		{
			name: "flow mapping", file: "teams.yaml", src: teamsYAML, bp: "team", id: "ops",
			changes: []Change{
				{Name: "title", Value: "Operations"},
				{Section: "properties", Name: "size", Value: 4},
				{Section: "properties", Name: "slack_channel", Value: "#team-ops"},
				{Section: "properties", Name: "pagerduty_schedule", Value: "https://acme-pay.pagerduty.com/schedules/OPS001"},
			},
			diff: []string{
				`-    ops: {title: Ops, properties: {size: 3, email: ops@acme-pay.com}}`,
				`+    ops: {title: Operations, properties: {size: 4, email: ops@acme-pay.com, slack_channel: "#team-ops", pagerduty_schedule: https://acme-pay.pagerduty.com/schedules/OPS001}}`,
			},
		},
		{
			name: "quoted keys and Windows line endings", file: "teams.yaml", src: "entities:\r\n  \"team\":\r\n    'ops':\r\n      \"title\": 'Ops'\r\n", bp: "team", id: "ops",
			changes: []Change{{Name: "title", Value: "Operations"}, {Section: "properties", Name: "size", Value: 3}},
			diff: []string{
				"-      \"title\": 'Ops'\r",
				"+      \"title\": Operations\r",
				"+      properties:\r",
				"+        size: 3\r",
			},
		},
		{
			name: "a block scalar", file: svc, src: "entities:\n  service:\n    a:\n      properties:\n        description: |\n          Two\n          lines\n", bp: "service", id: "a",
			changes: []Change{{Section: "properties", Name: "description", Value: "One line"}},
			err:     svc + ":5:22: properties.description is not a value pier can replace: it is a multi-line block scalar",
		},
		{
			name: "a plain scalar over two lines", file: svc, src: "entities:\n  service:\n    a:\n      properties:\n        description: Two\n          lines\n", bp: "service", id: "a",
			changes: []Change{{Section: "properties", Name: "language", Value: "Go"}},
			err:     svc + `:5:22: "Two lines" spans several lines`,
		},
		{
			name: "a merge key", file: svc, src: "base: &base\n  language: Go\nentities:\n  service:\n    a:\n      properties:\n        <<: *base\n        tier: Internal\n", bp: "service", id: "a",
			changes: []Change{{Section: "properties", Name: "tier", Value: "Experimental"}},
			err:     svc + ":7:9: merge keys (<<) are not supported",
		},
		{
			name: "an alias", file: svc, src: "entities:\n  service:\n    a:\n      properties:\n        language: &go Go\n    b:\n      properties:\n        language: *go\n", bp: "service", id: "b",
			changes: []Change{{Section: "properties", Name: "language", Value: "Rust"}},
			err:     svc + ":8:19: properties.language is not a value pier can replace: it is an alias (*go)",
		},
		{
			name: "an anchor", file: svc, src: "entities:\n  service:\n    a:\n      properties:\n        language: &go Go\n", bp: "service", id: "a",
			changes: []Change{{Section: "properties", Name: "language", Value: "Rust"}},
			err:     "it has an anchor (&go)",
		},
		{
			name: "entity not in the file", file: svc, src: checkoutYAML, bp: "service", id: "payments-api",
			changes: []Change{{Name: "team", Value: "x"}},
			err:     svc + ":1:1: entity service/payments-api is not declared in this file",
		},
		{
			name: "not a mapping", file: svc, src: "- entities\n", bp: "service", id: "a",
			changes: []Change{{Name: "team", Value: "x"}},
			err:     svc + ":1:1: the document must be a mapping",
		},
		{
			name: "an entity with nothing after its colon", file: svc, src: "entities:\n  service:\n    a:\n", bp: "service", id: "a",
			changes: []Change{{Name: "title", Value: "A"}, {Section: "properties", Name: "language", Value: "Go"}},
			diff:    []string{"+      title: A", "+      properties:", "+        language: Go"},
		},
		{
			name: "not YAML", file: svc, src: "entities:\n  service: [\n", bp: "service", id: "a",
			changes: []Change{{Name: "team", Value: "x"}},
			err:     svc + ":2:1: did not find expected node content",
		},
	})
}

func TestScalarYAML(t *testing.T) {
	for s, want := range map[string]string{
		"Checkout Web":         "Checkout Web",
		"https://x.io/a#b":     "https://x.io/a#b",
		"2026-12-04T18:00:00Z": "2026-12-04T18:00:00Z",
		"":                     `""`,
		"#team":                `"#team"`,
		"a #b":                 `"a #b"`,
		"yes":                  "yes",
		"null":                 `"null"`,
		"~":                    `"~"`,
		"1.5":                  `"1.5"`,
		"0123":                 `"0123"`,
		"- x":                  `"- x"`,
		"a: b":                 `"a: b"`,
		"*ref":                 `"*ref"`,
		" padded":              `" padded"`,
		"two\nlines":           `"two\nlines"`,
		"it's":                 "it's",
		"'quoted'":             `"'quoted'"`,
	} {
		if got := scalarYAML(s, false); got != want {
			t.Errorf("scalarYAML(%q) = %s, want %s", s, got, want)
		}
	}
	if got := scalarYAML("a, b", true); got != `"a, b"` {
		t.Errorf("in flow style, a, b is %s", got)
	}
}
