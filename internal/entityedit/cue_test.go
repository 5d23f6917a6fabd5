package entityedit

import "testing"

// paymentsCUE is an excerpt of catalog-example/entities/service/payments-api.cue.
const paymentsCUE = `package catalog

// One entity per file is the usual layout for a service that changes
// often: its pull requests touch one file and its owners can be set in
// CODEOWNERS.
entities: service: "payments-api": {
	title: "Payments API"
	properties: {
		description:            "Public REST API for creating and capturing payments"
		language:               "Go"
		lifecycle:              "Production"
		tier:                   "Mission Critical" // reviewed every quarter
		repository:             "https://github.com/acme-pay/payments-api"
		test_coverage:          91
		has_readme:             true
		security_review_status: "approved"
		cpu_requests:           1
	}
	relations: {
		team: "payments"
		dependencies: []
	}
}
`

// moneyMovementCUE is an excerpt of catalog-example/entities/service/money-movement.cue:
// a definition, a pattern constraint and shorthand fields.
const moneyMovementCUE = `package catalog

#MoneyMovementService: {
	title: string
	properties: {
		language:   "Go" | "Python" | "Java" | "TypeScript" | "Rust"
		repository: =~"^https://github.com/acme-pay/[a-z0-9-]+$"
		has_alerts: bool
	}
	relations: {
		team:   *"payments" | string
		system: *null | string
		dependencies: [...string]
	}
}

_moneyMovementRepo: "https://github.com/acme-pay"

entities: service: [string]: #MoneyMovementService

entities: service: {
	"ledger-service": {
		title: "Ledger Service"
		properties: {
			language:   "Java"
			repository: "\(_moneyMovementRepo)/ledger-service"
			has_alerts: true
		}
		relations: dependencies: []
	}
	"legacy-billing": {
		title: "Legacy Billing"
		properties: {
			language:   "Java"
			repository: "https://github.com/acme-pay/legacy-billing"
			has_alerts: false
		}
		relations: dependencies: []
	}
}
`

// identityCUE is an excerpt of catalog-example/entities/service/identity.cue,
// with its imported baseline declared in the file.
const identityCUE = `package catalog

#ProductionService: {
	lifecycle:  "Production"
	has_readme: *true | bool
	has_alerts: *true | bool
	...
}

#Repo: {
	name: string
	url:  "https://github.com/acme-pay/\(name)"
}

entities: service: {
	"auth-service": {
		title: "Auth Service"
		properties: #ProductionService & {
			description: "OAuth2 / OIDC provider for merchants and the dashboard; issues API keys"
			language:    "Go"
			repository: (#Repo & {name: "auth-service"}).url
			test_coverage: 88.5
		}
		relations: {
			team: "identity"
			dependencies: []
		}
	}
}
`

func TestSetCUE(t *testing.T) {
	const svc = "entities/service/payments-api.cue"
	runCases(t, []setCase{
		{
			name: "auto_assign_team: the team goes after the title, aligned", file: svc, src: paymentsCUE, bp: "service", id: "payments-api",
			changes: []Change{{Name: "team", Value: "backend-team"}},
			diff:    []string{`+	team:  "backend-team"`},
		},
		{
			name: "replace a relation", file: svc, src: paymentsCUE, bp: "service", id: "payments-api",
			changes: []Change{{Section: "relations", Name: "team", Value: "backend-team"}},
			diff:    []string{`-		team: "payments"`, `+		team: "backend-team"`},
		},
		{
			name: "a comment after the value stays", file: svc, src: paymentsCUE, bp: "service", id: "payments-api",
			changes: []Change{{Section: "properties", Name: "tier", Value: "Internal"}},
			diff:    []string{`-		tier:                   "Mission Critical" // reviewed every quarter`, `+		tier:                   "Internal" // reviewed every quarter`},
		},
		{
			name: "a new property is aligned with the others", file: svc, src: paymentsCUE, bp: "service", id: "payments-api",
			changes: []Change{{Section: "properties", Name: "on_call", Value: "payments-oncall@acme-pay.pagerduty.com"}},
			diff:    []string{`+		on_call:                "payments-oncall@acme-pay.pagerduty.com"`},
		},
		{
			name: "values of every type", file: svc, src: paymentsCUE, bp: "service", id: "payments-api",
			changes: []Change{
				{Section: "properties", Name: "description", Value: `Says "hi" \(not interpolated)`},
				{Section: "properties", Name: "language", Value: nil},
				{Section: "properties", Name: "test_coverage", Value: 93.5},
				{Section: "properties", Name: "has_readme", Value: false},
				{Section: "properties", Name: "tags", Value: []any{"pci", "rest"}},
				{Section: "properties", Name: "limits", Value: map[string]any{"memory": "4Gi", "cpu": 2}},
				{Section: "relations", Name: "dependencies", Value: []any{"payments-api"}},
			},
			diff: []string{
				`-		description:            "Public REST API for creating and capturing payments"`,
				`-		language:               "Go"`,
				`+		description:            "Says \"hi\" \\(not interpolated)"`,
				`+		language:               null`,
				`-		test_coverage:          91`,
				`-		has_readme:             true`,
				`+		test_coverage:          93.5`,
				`+		has_readme:             false`,
				`+		tags: ["pci", "rest"]`,
				`+		limits: {`,
				`+			cpu:    2`,
				`+			memory: "4Gi"`,
				`+		}`,
				`-		dependencies: []`,
				`+		dependencies: ["payments-api"]`,
			},
		},
		{
			name: "the current values change nothing", file: svc, src: paymentsCUE, bp: "service", id: "payments-api",
			changes: []Change{
				{Name: "title", Value: "Payments API"},
				{Section: "properties", Name: "test_coverage", Value: 91.0},
				{Section: "relations", Name: "dependencies", Value: []any{}},
			},
		},
		{
			name: "a missing section in shorthand", file: svc, src: "entities: service: \"payments-api\": {\n\ttitle: \"Payments API\"\n}\n", bp: "service", id: "payments-api",
			changes: []Change{{Section: "relations", Name: "team", Value: "payments"}},
			diff:    []string{"+\trelations: team: \"payments\""},
		},
		{
			name: "an empty struct opens up", file: svc, src: "entities: service: \"payments-api\": {\n\ttitle: \"Payments API\"\n\trelations: {}\n}\n", bp: "service", id: "payments-api",
			changes: []Change{{Section: "relations", Name: "team", Value: "payments"}, {Section: "relations", Name: "system", Value: nil}},
			diff:    []string{"-\trelations: {}", "+\trelations: {", "+\t\tteam:   \"payments\"", "+\t\tsystem: null", "+\t}"},
		},
		{
			name: "next to a shorthand section", file: "money-movement.cue", src: moneyMovementCUE, bp: "service", id: "legacy-billing",
			changes: []Change{{Section: "relations", Name: "team", Value: "backend-team"}, {Section: "properties", Name: "language", Value: "Go"}},
			diff: []string{
				"-\t\t\tlanguage:   \"Java\"",
				"+\t\t\tlanguage:   \"Go\"",
				"+\t\trelations: team: \"backend-team\"",
			},
		},
		{
			name: "an interpolation", file: "money-movement.cue", src: moneyMovementCUE, bp: "service", id: "ledger-service",
			changes: []Change{{Section: "properties", Name: "repository", Value: "https://github.com/acme-pay/ledger"}},
			err:     "money-movement.cue:26:16: properties.repository is an interpolation, not a literal pier can replace",
		},
		{
			name: "inside a unification with a definition", file: "identity.cue", src: identityCUE, bp: "service", id: "auth-service",
			changes: []Change{{Section: "properties", Name: "language", Value: "Rust"}, {Section: "properties", Name: "has_alerts", Value: false}},
			diff: []string{
				"-\t\t\tlanguage:    \"Go\"",
				"+\t\t\tlanguage:    \"Rust\"",
				"+\t\t\thas_alerts:    false",
			},
		},
		{
			name: "a reference", file: "identity.cue", src: identityCUE, bp: "service", id: "auth-service",
			changes: []Change{{Section: "properties", Name: "repository", Value: "https://github.com/acme-pay/auth"}},
			err:     "identity.cue:21:16: properties.repository is a reference, not a literal pier can replace",
		},
		{
			name: "an entity in shorthand at the top level", file: "ops.cue", src: "entities: team: ops: title: \"Ops\"\n", bp: "team", id: "ops",
			changes: []Change{{Section: "properties", Name: "size", Value: 3}, {Section: "properties", Name: "email", Value: "ops@acme-pay.com"}},
			diff: []string{
				"+entities: team: ops: properties: {",
				"+\tsize:  3",
				"+\temail: \"ops@acme-pay.com\"",
				"+}",
			},
		},
		{
			name: "one line", file: "ops.cue", src: "entities: team: ops: {title: \"Ops\", properties: {size: 3}}\n", bp: "team", id: "ops",
			changes: []Change{{Section: "properties", Name: "email", Value: "ops@acme-pay.com"}},
			diff: []string{
				"-entities: team: ops: {title: \"Ops\", properties: {size: 3}}",
				"+entities: team: ops: {title: \"Ops\", properties: {size: 3, email: \"ops@acme-pay.com\"}}",
			},
		},
		{
			name: "spread across unification", file: "ops.cue", src: "entities: team: ops: {title: \"Ops\"}\nentities: team: ops: title: \"Ops\"\n", bp: "team", id: "ops",
			changes: []Change{{Name: "title", Value: "Operations"}},
			err:     "ops.cue:2:22: title is declared 2 times in this file (first at line 1); its value is spread across unification",
		},
		{
			name: "entity not in the file", file: svc, src: paymentsCUE, bp: "service", id: "ledger-service",
			changes: []Change{{Name: "title", Value: "x"}},
			err:     svc + ":1:1: entity service/ledger-service is not declared in this file",
		},
		{
			name: "not CUE", file: "ops.cue", src: "entities: team: {\n  ops: \n", bp: "team", id: "ops",
			changes: []Change{{Name: "title", Value: "x"}},
			err:     "ops.cue:2:9: expected operand",
		},
	})
}
