package automation

import (
	"context"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/catalog"
)

func automation(t *testing.T, src string) *catalog.Automation {
	t.Helper()
	a := &catalog.Automation{}
	if err := catalog.Decode([]byte(src), a); err != nil {
		t.Fatal(err)
	}
	if a.Identifier == "" {
		a.Identifier = "auto"
	}
	return a
}

func TestCompile(t *testing.T) {
	tests := []struct {
		name, src string
		events    string
		blueprint string
		err       string
	}{
		{"seed shape", `{"trigger": {"type": "entity-created", "blueprintIdentifier": "service"}, "conditions": [{"property": "repository", "operator": "contains", "value": "/backend/"}], "actions": [{"type": "update-entity", "properties": {"team": "backend-team"}}]}`,
			"ENTITY_CREATED", "service", ""},
		{"Port shape", `{"trigger": {"type": "automation", "event": {"type": "TIMER_PROPERTY_EXPIRED", "blueprintIdentifier": "environment", "propertyIdentifier": "ttl"}, "condition": {"type": "JQ", "expressions": [".diff.after.properties.type == \"ephemeral\""]}}, "invocationMethod": {"type": "WEBHOOK", "url": "https://x"}}`,
			"TIMER_PROPERTY_EXPIRED", "environment", ""},
		{"any change", `{"trigger": {"type": "automation", "event": {"type": "ANY_ENTITY_CHANGE", "blueprintIdentifier": "service"}}, "actions": [{"type": "send-notification", "message": "x"}]}`,
			"ENTITY_CREATED,ENTITY_UPDATED,ENTITY_DELETED", "service", ""},
		{"run updated", `{"trigger": {"type": "automation", "event": {"type": "RUN_UPDATED", "actionIdentifier": "deploy"}}, "actions": [{"type": "run-action", "action": "notify"}]}`,
			"RUN_UPDATED", "", ""},
		{"bad jq", `{"trigger": {"type": "automation", "event": {"type": "ENTITY_CREATED"}, "condition": {"type": "JQ", "expressions": [".a |"]}}, "actions": [{"type": "send-notification"}]}`,
			"", "", "trigger.condition.expressions[0]"},
		{"bad condition", `{"trigger": {"type": "entity-created"}, "conditions": [{"property": "x", "operator": "sortOf", "value": 1}], "actions": [{"type": "send-notification"}]}`,
			"", "", "conditions"},
		{"run-action without action", `{"trigger": {"type": "entity-created"}, "actions": [{"type": "run-action"}]}`,
			"", "", "actions[0]: run-action needs action"},
		{"does nothing", `{"trigger": {"type": "entity-created"}}`, "", "", "does nothing"},
		{"unsupported invocation", `{"trigger": {"type": "entity-created"}, "invocationMethod": {"type": "UPSERT_ENTITY"}}`, "", "", "UPSERT_ENTITY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Compile(automation(t, tt.src))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(r.Events, ","); got != tt.events || r.Blueprint != tt.blueprint {
				t.Fatalf("events %s blueprint %q", got, r.Blueprint)
			}
			sub := r.Subscription(nil)
			if sub.ID != "automation:auto" || strings.Join(sub.Events, ",") != tt.events {
				t.Fatalf("subscription %+v", sub)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	ctx := context.Background()
	seed, _ := Compile(automation(t, `{"trigger": {"type": "entity-created", "blueprintIdentifier": "service"}, "conditions": [{"property": "repository", "operator": "contains", "value": "/backend/"}], "actions": [{"type": "send-notification", "message": "x"}]}`))
	timer, _ := Compile(automation(t, `{"trigger": {"type": "automation", "event": {"type": "TIMER_PROPERTY_EXPIRED", "propertyIdentifier": "ttl"}, "condition": {"type": "JQ", "expressions": [".diff.after.properties.type == \"ephemeral\"", ".diff.after.properties.keep != true"], "combinator": "and"}}, "invocationMethod": {"type": "WEBHOOK", "url": "https://x"}}`))
	either, _ := Compile(automation(t, `{"trigger": {"type": "automation", "event": {"type": "ENTITY_UPDATED"}, "condition": {"type": "JQ", "expressions": [".diff.before.properties.tier == \"gold\"", ".diff.after.properties.tier == \"gold\""], "combinator": "or"}}, "actions": [{"type": "send-notification", "message": "x"}]}`))
	runs, _ := Compile(automation(t, `{"identifier": "follow", "trigger": {"type": "automation", "event": {"type": "RUN_UPDATED", "actionIdentifier": "deploy"}}, "actions": [{"type": "run-action", "action": "notify"}]}`))
	entity := func(repo string) map[string]any {
		return map[string]any{"identifier": "svc", "blueprint": "service", "properties": map[string]any{"repository": repo}}
	}
	envEvent := func(typ string, keep bool, prop string) map[string]any {
		after := map[string]any{"identifier": "pr-1", "properties": map[string]any{"type": typ, "keep": keep}}
		return map[string]any{"eventType": "TIMER_PROPERTY_EXPIRED", "property": prop, "entity": after, "diff": map[string]any{"after": after}}
	}
	tierEvent := func(before, after string) map[string]any {
		return map[string]any{"eventType": "ENTITY_UPDATED", "diff": map[string]any{
			"before": map[string]any{"properties": map[string]any{"tier": before}},
			"after":  map[string]any{"properties": map[string]any{"tier": after}}}}
	}
	runEvent := func(action, requester string) map[string]any {
		return map[string]any{"eventType": "RUN_UPDATED", "run": map[string]any{"action": action, "requester": requester}}
	}
	tests := []struct {
		name  string
		r     *Rule
		event map[string]any
		want  bool
	}{
		{"seed: backend repository", seed, map[string]any{"eventType": "ENTITY_CREATED", "entity": entity("https://github.com/acme/backend/x")}, true},
		{"seed: other repository", seed, map[string]any{"eventType": "ENTITY_CREATED", "entity": entity("https://github.com/acme/frontend/x")}, false},
		{"seed: no entity", seed, map[string]any{"eventType": "ENTITY_CREATED"}, false},
		{"timer: ephemeral", timer, envEvent("ephemeral", false, "ttl"), true},
		{"timer: both expressions must hold", timer, envEvent("ephemeral", true, "ttl"), false},
		{"timer: other property", timer, envEvent("ephemeral", false, "review_by"), false},
		{"timer: production", timer, envEvent("production", false, "ttl"), false},
		{"or: before", either, tierEvent("gold", "silver"), true},
		{"or: after", either, tierEvent("bronze", "gold"), true},
		{"or: neither", either, tierEvent("bronze", "silver"), false},
		{"run of the action", runs, runEvent("deploy", "alice"), true},
		{"run of another action", runs, runEvent("scaffold", "alice"), false},
		{"its own run", runs, runEvent("deploy", "automation:follow"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.r.Matches(ctx, tt.event, nil)
			if err != nil || got != tt.want {
				t.Fatalf("Matches = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestPortPaths(t *testing.T) {
	if got := jqPaths("New backend service {{ entity.title }} ({{ .entity.identifier }}, {{ now | todate }})"); got != "New backend service {{ .entity.title }} ({{ .entity.identifier }}, {{ now | todate }})" {
		t.Fatal(got)
	}
}
