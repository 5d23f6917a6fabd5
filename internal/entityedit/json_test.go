package entityedit

import (
	"encoding/json"
	"testing"
)

// riskJSON is an excerpt of catalog-example/entities/service/risk.json.
const riskJSON = `{
  "entities": {
    "service": {
      "fraud-scoring": {
        "title": "Fraud Scoring",
        "properties": {
          "description": "Scores every authorisation with the current fraud model (p99 < 40 ms)",
          "language": "Python",
          "repository": "https://github.com/acme-pay/fraud-scoring",
          "test_coverage": 82,
          "has_alerts": false
        },
        "relations": {
          "team": "risk",
          "dependencies": ["risk-rules-engine"]
        }
      },
      "risk-rules-engine": {
        "title": "Risk Rules Engine",
        "properties": {
          "language": "Java",
          "test_coverage": 47
        },
        "relations": {
          "team": "risk",
          "dependencies": []
        }
      }
    }
  }
}
`

// deployBotJSON is catalog-example's deploy-bot.json before it had
// relations.
const deployBotJSON = `{
    "entities": {
        "service": {
            "deploy-bot": {
                "identifier": "deploy-bot",
                "title": "Deploy Bot",
                "icon": "Deployment",
                "properties": {
                    "language": "Go",
                    "repository": "https://github.com/acme-pay/backend/deploy-bot"
                }
            }
        }
    }
}
`

// previewJSON is catalog-example's environment/preview-pr-1234.json.
const previewJSON = `{
  "entities": {
    "environment": {
      "preview-pr-1234": {
        "title": "Preview: checkout-web#1234",
        "properties": {
          "type": "ephemeral",
          "region": "eu-central-1",
          "url": "https://pr-1234.preview.acme-pay.dev",
          "cost_per_month": 410,
          "ttl": "2026-12-04T18:00:00Z"
        },
        "relations": {}
      }
    }
  }
}
`

func TestSetJSON(t *testing.T) {
	const svc = "entities/service/risk.json"
	runCases(t, []setCase{
		{
			name: "replace a relation", file: svc, src: riskJSON, bp: "service", id: "fraud-scoring",
			changes: []Change{{Section: "relations", Name: "team", Value: "backend-team"}},
			diff:    []string{`-          "team": "risk",`, `+          "team": "backend-team",`},
		},
		{
			name: "top-level team goes after the title", file: svc, src: riskJSON, bp: "service", id: "fraud-scoring",
			changes: []Change{{Name: "team", Value: "backend-team"}},
			diff:    []string{`+        "team": "backend-team",`},
		},
		{
			name: "a new last property gives the previous one a comma", file: svc, src: riskJSON, bp: "service", id: "fraud-scoring",
			changes: []Change{{Section: "properties", Name: "on_call", Value: "risk-oncall@acme-pay.pagerduty.com"}},
			diff: []string{
				`-          "has_alerts": false`,
				`+          "has_alerts": false,`,
				`+          "on_call": "risk-oncall@acme-pay.pagerduty.com"`,
			},
		},
		{
			name: "values of every type", file: svc, src: riskJSON, bp: "service", id: "risk-rules-engine",
			changes: []Change{
				{Section: "properties", Name: "language", Value: nil},
				{Section: "properties", Name: "test_coverage", Value: 52.5},
				{Section: "properties", Name: "description", Value: "Rules <evaluated> next to the \"model\""},
				{Section: "properties", Name: "has_readme", Value: true},
				{Section: "properties", Name: "tags", Value: []any{"jvm", "rules"}},
				{Section: "properties", Name: "limits", Value: map[string]any{"memory": "4Gi", "cpu": json.Number("2")}},
				{Section: "relations", Name: "dependencies", Value: []string{"fraud-scoring"}},
			},
			diff: []string{
				`-          "language": "Java",`,
				`-          "test_coverage": 47`,
				`+          "language": null,`,
				`+          "test_coverage": 52.5,`,
				`+          "description": "Rules <evaluated> next to the \"model\"",`,
				`+          "has_readme": true,`,
				`+          "tags": ["jvm", "rules"],`,
				`+          "limits": {`,
				`+            "cpu": 2,`,
				`+            "memory": "4Gi"`,
				`+          }`,
				`-          "dependencies": []`,
				`+          "dependencies": ["fraud-scoring"]`,
			},
		},
		{
			name: "the current values change nothing", file: svc, src: riskJSON, bp: "service", id: "fraud-scoring",
			changes: []Change{
				{Section: "properties", Name: "test_coverage", Value: 82.0},
				{Section: "properties", Name: "has_alerts", Value: false},
				{Section: "relations", Name: "dependencies", Value: []any{"risk-rules-engine"}},
			},
		},
		{
			name: "a missing relations map is created", file: "deploy-bot.json", src: deployBotJSON, bp: "service", id: "deploy-bot",
			changes: []Change{
				{Section: "relations", Name: "team", Value: "backend-team"},
				{Section: "relations", Name: "dependencies", Value: []any{}},
			},
			diff: []string{
				`+                },`,
				`+                "relations": {`,
				`+                    "team": "backend-team",`,
				`+                    "dependencies": []`,
			},
		},
		{
			name: "an empty map opens up", file: "preview-pr-1234.json", src: previewJSON, bp: "environment", id: "preview-pr-1234",
			changes: []Change{{Section: "relations", Name: "team", Value: "checkout"}},
			diff: []string{
				`-        "relations": {}`,
				`+        "relations": {`,
				`+          "team": "checkout"`,
				`+        }`,
			},
		},
		{
			name: "compact", file: "ops.json", src: `{"entities":{"team":{"ops":{"title":"Ops","properties":{"size":3}}}}}`, bp: "team", id: "ops",
			changes: []Change{
				{Section: "properties", Name: "size", Value: 4},
				{Section: "properties", Name: "email", Value: "ops@acme-pay.com"},
			},
			diff: []string{
				`-{"entities":{"team":{"ops":{"title":"Ops","properties":{"size":3}}}}}`,
				`+{"entities":{"team":{"ops":{"title":"Ops","properties":{"size":4,"email":"ops@acme-pay.com"}}}}}`,
			},
		},
		{
			name: "one line with spaces", file: "ops.json", src: `{"entities": {"team": {"ops": {"title": "Ops"}}}}`, bp: "team", id: "ops",
			changes: []Change{{Section: "properties", Name: "size", Value: 3}, {Name: "title", Value: "Operations"}},
			diff: []string{
				`-{"entities": {"team": {"ops": {"title": "Ops"}}}}`,
				`+{"entities": {"team": {"ops": {"title": "Operations", "properties": {"size": 3}}}}}`,
			},
		},
		{
			name: "a null section", file: "ops.json", src: `{"entities": {"team": {"ops": {"properties": null}}}}`, bp: "team", id: "ops",
			changes: []Change{{Section: "properties", Name: "size", Value: 3}},
			err:     "ops.json:1:46: properties must be a struct to add fields to",
		},
		{
			name: "entity not in the file", file: svc, src: riskJSON, bp: "service", id: "ledger-service",
			changes: []Change{{Name: "title", Value: "x"}},
			err:     "entities/service/risk.json:1:1: entity service/ledger-service is not declared in this file",
		},
		{
			name: "not JSON", file: "ops.json", src: "{\n  \"entities\": {\"team\": {\"ops\": {},}}\n}", bp: "team", id: "ops",
			changes: []Change{{Name: "title", Value: "x"}},
			err:     "ops.json:2:35: invalid JSON",
		},
		{
			name: "a key written twice", file: "ops.json", src: "{\"entities\": {\"team\": {\"ops\": {\n  \"title\": \"A\",\n  \"title\": \"A\"\n}}}}", bp: "team", id: "ops",
			changes: []Change{{Name: "title", Value: "B"}},
			err:     "ops.json:3:3: title is declared 2 times in this file",
		},
	})
}
