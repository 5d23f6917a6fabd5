package schema

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSeedExamplesMatchTheirShapes(t *testing.T) {
	s, err := Compile()
	if err != nil {
		t.Fatal(err)
	}
	defs := map[string]string{"blueprints": Blueprint, "actions": Action, "scorecards": Scorecard, "automations": Automation}
	paths, _ := filepath.Glob("testdata/seed/*.json")
	if len(paths) < 9 {
		t.Fatalf("want the 9 seed examples, found %d", len(paths))
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var file map[string]map[string]json.RawMessage
		if err := json.Unmarshal(b, &file); err != nil {
			t.Fatal(err)
		}
		for key, objs := range file {
			for id, obj := range objs {
				vs, err := s.Check(defs[key], obj)
				if err != nil {
					t.Fatal(err)
				}
				if len(vs) > 0 {
					t.Errorf("%s: %s %s: %v", p, key, id, vs)
				}
			}
		}
	}
}

func TestCheckPhrasesViolations(t *testing.T) {
	s, err := Compile()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, def, data string
		path, want      string
	}{
		{"enum", Blueprint, `{"schema":{"properties":{"a":{"type":"strin"}}}}`, "schema.properties.a.type", `must be one of "array", "boolean", "number", "object", "string"; got "strin"`},
		{"unknown field", Blueprint, `{"schema":{"properties":{}},"colour":"red"}`, "colour", `field "colour" is not allowed here`},
		{"missing", Blueprint, `{"title":"x"}`, "schema", `missing required field "schema"`},
		{"type", Relation, `{"target":"team","many":"yes"}`, "many", `must be bool; got "yes"`},
		{"approval system closed", ApprovalSystem, approvalSystem(`"timeout": 5`), "timeout", `field "timeout" is not allowed here`},
		{"approval system method", ApprovalSystem, approvalSystem(`"deletionRequest": {"endpoint": {"url": "https://x", "method": "FETCH"}}`), "deletionRequest.endpoint.method", `must be one of`},
		{"approval system url", ApprovalSystem, approvalSystem(`"deletionRequest": {"endpoint": {"url": "ftp://x", "method": "GET"}}`), "deletionRequest.endpoint.url", `invalid value "ftp://x"`},
		{"approval system pointer", ApprovalSystem, approvalSystem(`"memberListRequest": {"endpoint": {"url": "{{ .secrets.URL }}", "method": "GET"}, "parser": {"memberArrayPath": "members", "memberItems": {"email": "/e", "memberId": "/i"}}}`), "memberListRequest.parser.memberArrayPath", `invalid value "members"`},
		{"approval system members", ApprovalSystem, approvalSystem(`"memberListRequest": {"endpoint": {"url": "https://x", "method": "GET"}, "parser": {"memberArrayPath": "/m"}}`), "memberListRequest.parser.memberItems", `missing required field "memberItems"`},
		{"approval system status parser", ApprovalSystem, `{"creationRequest": {"endpoint": {"url": "https://x", "method": "POST"}}, "statusRequest": {"endpoint": {"url": "https://x", "method": "GET"}, "parser": {"statusValue": "/s", "approvalMatcher": 1}}}`, "statusRequest.parser.approvalMatcher", `must be string`},
		{"invocation", Action, `{"trigger":{"type":"self-service","operation":"CREATE"},"invocationMethod":{"type":"FTP"}}`, "invocationMethod.type", `must be one of`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs, err := s.Check(tt.def, []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				if strings.Join(v.Path, ".") == tt.path {
					if !strings.Contains(v.Message, tt.want) {
						t.Errorf("message %q, want it to contain %q", v.Message, tt.want)
					}
					return
				}
			}
			t.Errorf("no violation at %s; got %+v", tt.path, vs)
		})
	}
}

// approvalSystem is a valid approval system with one more field.
func approvalSystem(extra string) string {
	return `{"creationRequest": {"endpoint": {"url": "https://x/c", "method": "POST"}}, ` +
		`"statusRequest": {"endpoint": {"url": "https://x/{{ .approval.id }}", "method": "GET"}, "parser": {"statusValue": "/s", "approvalMatcher": "ok"}}, ` + extra + `}`
}

// TestPortExportsAreAccepted: objects exported from Port carry read-only
// metadata (createdAt, createdBy, updatedAt, updatedBy, id, and
// teamInheritance: null on blueprints); pasted as they are, they check.
func TestPortExportsAreAccepted(t *testing.T) {
	s, err := Compile()
	if err != nil {
		t.Fatal(err)
	}
	meta := `"createdAt": "2024-05-01T10:00:00.000Z", "createdBy": "auth0|abc", "updatedAt": "2024-06-01T10:00:00.000Z", "updatedBy": "auth0|abc"`
	tests := []struct{ name, def, data string }{
		{"blueprint", Blueprint, `{"identifier": "service", "title": "Service", "schema": {"properties": {}, "required": []},
			"mirrorProperties": {}, "calculationProperties": {}, "aggregationProperties": {}, "relations": {},
			"teamInheritance": null, ` + meta + `}`},
		{"blueprint with team inheritance", Blueprint, `{"schema": {"properties": {}}, "teamInheritance": {"path": "team"}, ` + meta + `}`},
		{"action", Action, `{"id": "action_abc", "identifier": "deploy", "trigger": {"type": "self-service", "operation": "DAY-2", "blueprintIdentifier": "service"},
			"invocationMethod": {"type": "WEBHOOK", "url": "https://ci.example/hook"}, "publish": true, ` + meta + `}`},
		{"scorecard", Scorecard, `{"id": "scorecard_abc", "identifier": "ready", "blueprint": "service", "levels": [{"title": "Basic"}],
			"rules": [{"identifier": "r", "level": "Basic", "query": {"combinator": "and", "conditions": [{"property": "language", "operator": "isNotEmpty"}]}}], ` + meta + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs, err := s.Check(tt.def, []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) > 0 {
				t.Errorf("violations: %+v", vs)
			}
		})
	}
	// Metadata of the wrong type is still wrong.
	vs, err := s.Check(Blueprint, []byte(`{"schema": {"properties": {}}, "createdAt": 5}`))
	if err != nil || len(vs) == 0 {
		t.Errorf("createdAt: 5 checked: %v %v", vs, err)
	}
}
