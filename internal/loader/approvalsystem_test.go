package loader

import (
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/catalog"
)

// snow is a ServiceNow-like approval system in CUE; each check below
// breaks one line of it.
const snow = `package catalog

approvalSystems: snow: {
	title:    "ServiceNow"
	schedule: "@every 30s"
	creationRequest: {
		endpoint: {
			url:    "https://acme.service-now.com/api/now/table/change_request"
			method: "POST"
			headers: [{name: "Authorization", value: "Bearer {{ .secrets.SNOW_TOKEN }}"}]
		}
		jsonBody: {short_description: "pier: {{ .action.identifier }} by {{ .trigger.by }}"}
		parser: {approvalId: "/result/sys_id", statusValue: "/result/approval"}
	}
	statusRequest: {
		endpoint: {url: "https://acme.service-now.com/api/now/table/change_request/{{ .approval.id }}", method: "GET"}
		parser: {statusValue: "/result/approval", approvalMatcher: "^approved$", rejectionMatcher: "^rejected$"}
	}
}
`

const approvedAction = `{"actions": {"deploy": {
  "trigger": {"type": "self-service", "operation": "CREATE"},
  "invocationMethod": {"type": "WEBHOOK", "url": "https://x"},
  "approval": {"system": "http:snow"}
}}}`

func TestApprovalSystems(t *testing.T) {
	base := map[string]string{"blueprints.cue": serviceBlueprint, "teams.json": teams, "approvals.cue": snow, "deploy.json": approvedAction}
	tests := []struct {
		name     string
		from, to string            // one replacement in approvals.cue
		files    map[string]string // files replaced or added
		want     []want
	}{
		{name: "valid"},
		{name: "shape", from: `method: "GET"`, to: `method: "FETCH"`,
			want: []want{{"approvals.cue:16:107", catalog.KindShape, `statusRequest.endpoint.method: must be one of "DELETE", "GET"`}}},
		{name: "header template", from: `"Bearer {{ .secrets.SNOW_TOKEN }}"`, to: `"Bearer {{ .secrets.SNOW_TOKEN | }}"`,
			want: []want{{"approvals.cue:10:45", catalog.KindShape, `creationRequest.endpoint.headers[0].value: template: jq ".secrets.SNOW_TOKEN |"`}}},
		{name: "body template", from: `{{ .trigger.by }}`, to: `{{ .trigger.by[ }}`,
			want: []want{{"approvals.cue:12:33", catalog.KindShape, `creationRequest.jsonBody.short_description: template: jq ".trigger.by["`}}},
		{name: "a secret in a URL template", from: `statusValue: "/result/approval"}`, to: `statusValue: "/result/approval", urlTemplate: "https://acme.service-now.com/{{ .approval.id }}?t={{ .secrets.SNOW_TOKEN }}"}`,
			want: []want{{"approvals.cue:13:88", catalog.KindShape, "creationRequest.parser.urlTemplate: a secret may only be sent in a header or the jsonBody, never in a URL"}}},
		{name: "a secret in an endpoint URL", from: `url:    "https://acme.service-now.com/api/now/table/change_request"`, to: `url:    "https://acme.service-now.com/api?key={{ .secrets.SNOW_TOKEN }}"`,
			want: []want{{"approvals.cue:8:12", catalog.KindShape, "creationRequest.endpoint.url: a secret may only be sent in a header or the jsonBody"}}},
		{name: "matcher", from: `"^rejected$"`, to: `"^(rejected$"`,
			want: []want{{"approvals.cue:17:94", catalog.KindShape, "statusRequest.parser.rejectionMatcher: not a regular expression"}}},
		{name: "pointer", from: `"/result/sys_id"`, to: `"result/sys_id"`,
			want: []want{{"approvals.cue:13:24", catalog.KindShape, `creationRequest.parser.approvalId: invalid value "result/sys_id"`}}},
		{name: "pointer escape", from: `"/result/sys_id"`, to: `"/result/sys~2id"`,
			want: []want{{"approvals.cue:13:24", catalog.KindShape, "~ must be followed by 0 or 1"}}},
		{name: "status parser", from: `approvalMatcher: "^approved$", `, to: ``,
			want: []want{{"approvals.cue:17:11", catalog.KindShape, `statusRequest.parser.approvalMatcher: missing required field "approvalMatcher"`}}},
		{name: "approval id", from: `approvalId: "/result/sys_id", `, to: ``,
			want: []want{{"approvals.cue:13:11", catalog.KindShape, "creationRequest.parser.approvalId: required: statusRequest reads .approval.id"}}},
		{name: "schedule", from: `"@every 30s"`, to: `"every half minute"`,
			want: []want{{"approvals.cue:5:12", catalog.KindShape, `schedule: "every half minute" is not a cron schedule`}}},
		{name: "reference", files: map[string]string{"deploy.json": strings.Replace(approvedAction, "http:snow", "http:jira", 1)},
			want: []want{{"deploy.json:4:26", catalog.KindReference, `actions.deploy.approval.system: approval system "jira" is not declared`}}},
		{name: "broken system still counts as declared", from: `method: "GET"`, to: `method: "get"`,
			want: []want{{"approvals.cue:16:107", catalog.KindShape, "method: must be one of"}}},
		{name: "identifier http: cannot name", from: `approvalSystems: snow:`, to: `approvalSystems: "snow.v2":`,
			want: []want{
				{"approvals.cue:3:18", catalog.KindIdentifier, `"snow.v2" cannot be selected as http:snow.v2`},
				{"deploy.json:4:26", catalog.KindReference, `approval system "snow" is not declared`},
			}},
		{name: "misspelt key", files: map[string]string{"x.cue": "approvalsystems: {}\n"},
			want: []want{{"x.cue:1:1", catalog.KindUnknownKey, `(did you mean "approvalSystems"?)`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range base {
				files[k] = v
			}
			if !strings.Contains(snow, tt.from) {
				t.Fatalf("%q is not in the fixture", tt.from)
			}
			files["approvals.cue"] = strings.Replace(snow, tt.from, tt.to, 1)
			for k, v := range tt.files {
				files[k] = v
			}
			res := load(t, files)
			if len(res.Diagnostics) != len(tt.want) {
				t.Fatalf("got %d diagnostics, want %d:\n%v", len(res.Diagnostics), len(tt.want), res.Diagnostics)
			}
			for i, w := range tt.want {
				d := res.Diagnostics[i]
				if !strings.HasPrefix(d.Pos.String(), w.pos) || d.Kind != w.kind || !strings.Contains(d.String(), w.msg) {
					t.Errorf("diagnostic %d:\n got  %s [%s]\n want %s [%s] containing %q", i, d, d.Kind, w.pos, w.kind, w.msg)
				}
			}
			if len(tt.want) > 0 {
				return
			}
			as := res.Catalog.ApprovalSystems["snow"]
			if as == nil || as.Identifier != "snow" || as.Schedule != "@every 30s" || as.StatusRequest.Parser.ApprovalMatcher != "^approved$" ||
				as.CreationRequest.Endpoint.Headers[0].Name != "Authorization" || as.CreationRequest.JSONBody.(map[string]any)["short_description"] == nil {
				t.Fatalf("decoded as %+v", as)
			}
			if o, ok := res.Objects[catalog.Key{Kind: catalog.KindApprovalSystemObj, ID: "snow"}]; !ok || o.Source.File != "approvals.cue" {
				t.Errorf("object %+v", o)
			}
		})
	}
}
