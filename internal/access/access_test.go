package access_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/query"
)

// base is a catalog of two teams and a service of each, with the two
// actions the seed's developer role may execute and one that needs
// approval.
const base = `{
  "blueprints": {
    "team": {"identifier": "team", "title": "Team", "schema": {"properties": {"github_team": {"type": "string"}}}},
    "service": {"identifier": "service", "title": "Service", "schema": {"properties": {"tier": {"type": "string"}}},
      "relations": {"team": {"target": "team", "required": false, "many": false}}}
  },
  "entities": {
    "team": {"payments": {"properties": {"github_team": "acme/payments"}}, "checkout": {"properties": {"github_team": "acme/checkout"}}},
    "service": {
      "payments-api": {"properties": {"tier": "1"}, "relations": {"team": "payments"}},
      "checkout-web": {"properties": {"tier": "2"}, "relations": {"team": "checkout"}}
    }
  },
  "actions": {
    "deploy_service": {"trigger": {"type": "self-service", "operation": "DAY-2", "blueprintIdentifier": "service"}, "invocationMethod": {"type": "WEBHOOK", "url": "https://x"}},
    "restart_service": {"trigger": {"type": "self-service", "operation": "DAY-2", "blueprintIdentifier": "service"}, "invocationMethod": {"type": "WEBHOOK", "url": "https://x"}},
    "delete_database": {"trigger": {"type": "self-service", "operation": "DELETE", "blueprintIdentifier": "service"}, "requiredApproval": true, "invocationMethod": {"type": "WEBHOOK", "url": "https://x"}}
  }
}`

const bindings = `{"roleBindings": {
  "developer": {"teams": ["payments", "checkout"]},
  "team_lead": {"users": ["lee"]},
  "platform_admin": {"users": ["pat"]}
}}`

func load(t *testing.T, files map[string]string) (*loader.Result, catalog.Diagnostics) {
	t.Helper()
	l, err := loader.New(1)
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{}
	for name, src := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(src)}
	}
	res, err := l.Load(context.Background(), fsys)
	if err != nil {
		t.Fatal(err)
	}
	return res, res.Diagnostics
}

func seed(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/seed-rbac.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The seed's RBAC block loads as written, and means what it says.
func TestSeedRBAC(t *testing.T) {
	res, diags := load(t, map[string]string{"catalog.json": base, "rbac.json": string(seed(t)), "bindings.json": bindings})
	if len(diags) > 0 {
		t.Fatalf("the seed's RBAC block does not load: %v", diags)
	}
	cat := res.Catalog
	p, ps := access.Compile(cat)
	if len(ps) > 0 || !p.Declared() {
		t.Fatalf("problems %v", ps)
	}
	ent := func(id string) *query.Entity { return &query.Entity{Entity: cat.Entities["service"][id]} }
	act := func(id string) *query.Entity { return access.ActionView(cat.Actions[id]) }
	type check struct {
		action, resource string
		obj              *query.Entity
		want             bool
	}
	people := []struct {
		who    access.Subject
		roles  string
		checks []check
	}{
		{access.Subject{Login: "dev", Teams: []string{"payments"}}, "developer,signed-in", []check{
			{access.Read, access.Entity, ent("payments-api"), true},
			{access.Read, access.Entity, ent("checkout-web"), false},
			{access.Write, access.Entity, ent("payments-api"), false},
			{access.Execute, access.Action, act("deploy_service"), true},
			{access.Execute, access.Action, act("delete_database"), false},
			{access.Read, access.Action, act("delete_database"), true}, // definitions are readable by anyone signed in
		}},
		{access.Subject{Login: "both", Teams: []string{"payments", "checkout"}}, "developer,signed-in", []check{
			{access.Read, access.Entity, ent("payments-api"), true},
			{access.Read, access.Entity, ent("checkout-web"), true},
		}},
		{access.Subject{Login: "nobody"}, "signed-in", []check{
			{access.Read, access.Entity, ent("payments-api"), false},
			{access.Execute, access.Action, act("deploy_service"), false},
		}},
		{access.Subject{Login: "Lee", Teams: []string{"checkout"}}, "developer,signed-in,team_lead", []check{
			{access.Write, access.Entity, ent("checkout-web"), true},
			{access.Write, access.Entity, ent("payments-api"), false},
			{access.Execute, access.Action, act("restart_service"), true},
			{access.Execute, access.Action, act("delete_database"), false}, // approval_required
		}},
		{access.Subject{Login: "pat"}, "platform_admin,signed-in", []check{
			{access.Write, access.Entity, ent("payments-api"), true},
			{access.Execute, access.Action, act("delete_database"), true},
			{access.Read, access.Any, nil, true},
		}},
		{access.Subject{Anonymous: true}, "viewer", []check{
			{access.Read, access.Entity, ent("payments-api"), true},
			{access.Write, access.Entity, ent("payments-api"), false},
			{access.Execute, access.Action, act("deploy_service"), false},
		}},
		{access.Subject{Admin: true}, "admin,signed-in", []check{
			{access.Approve, access.Run, nil, true},
		}},
	}
	for _, pp := range people {
		g := p.For(pp.who)
		if got := strings.Join(g.Roles(), ","); got != pp.roles {
			t.Errorf("%+v holds %s, want %s", pp.who, got, pp.roles)
		}
		for _, c := range pp.checks {
			got := false
			if c.obj == nil {
				got = g.All(c.action, c.resource)
			} else {
				got = g.Allows(c.action, c.resource, c.obj, nil)
			}
			if got != c.want {
				id := ""
				if c.obj != nil {
					id = c.obj.Identifier
				}
				t.Errorf("%s: %s %s %s = %v, want %v", pp.who.Who(), c.action, c.resource, id, got, c.want)
			}
		}
	}
	// A listing filter is the subject's conditions, filled in.
	f := p.For(access.Subject{Login: "both", Teams: []string{"payments", "checkout"}}).Filter(access.Read, access.Entity)
	if f.All || f.None() || len(f.Rules) != 1 || len(f.Rule().Rules) != 2 || f.Rule().Rules[1].Value != "checkout" {
		t.Errorf("filter %+v", f)
	}
	if f := p.For(access.Subject{Login: "nobody"}).Filter(access.Read, access.Entity); !f.None() {
		t.Errorf("nobody's filter %+v", f)
	}
	if f := p.For(access.Subject{Login: "pat"}).Filter(access.Read, access.Entity); !f.All {
		t.Errorf("pat's filter %+v", f)
	}
}

// Without roles, everyone signed in may do what pier allowed before
// roles, and anonymous callers read.
func TestDefaultPolicy(t *testing.T) {
	res, _ := load(t, map[string]string{"catalog.json": base})
	p, ps := access.Compile(res.Catalog)
	if len(ps) > 0 || p.Declared() {
		t.Fatal(ps)
	}
	someone := p.For(access.Subject{Login: "someone"})
	for _, c := range [][2]string{{access.Read, access.Any}, {access.Write, access.Entity}, {access.Execute, access.Action}, {access.Approve, access.Run}, {access.Write, access.Any}} {
		if !someone.All(c[0], c[1]) {
			t.Errorf("someone may not %s %s", c[0], c[1])
		}
	}
	anon := p.For(access.Subject{Anonymous: true})
	if !anon.All(access.Read, access.Entity) || anon.Can(access.Write, access.Entity) || anon.Can(access.Execute, access.Action) {
		t.Errorf("anonymous: %v", anon.Roles())
	}
}

// Bad roles are refused at load with the position of the field at
// fault; the loader keeps none of them.
func TestBadRoles(t *testing.T) {
	tests := []struct{ name, roles, want string }{
		{"unknown template", `{"roles": [{"identifier": "r", "permissions": [{"action": "read", "resource": "entity", "condition": {"property": "owner", "operator": "=", "value": "{{ user.department }}"}}]}]}`,
			`roles.json:1:102: roles.r.permissions[0].condition: {{ user.department }}: a condition knows user.login`},
		{"condition that does not compile", `{"roles": [{"identifier": "r", "permissions": [{"action": "read", "resource": "entity", "condition": {"property": "tier", "operator": "between", "value": "soon"}}]}]}`,
			`roles.json:1:102: roles.r.permissions[0].condition: query rules[0]: operator between needs a value {from, to} or {preset}`},
		{"a team inside a string", `{"roles": [{"identifier": "r", "permissions": [{"action": "read", "resource": "entity", "condition": {"property": "tier", "operator": "=", "value": "t-{{ user.team }}"}}]}]}`,
			`roles.json:1:102: roles.r.permissions[0].condition: {{ user.team }} must be a rule's whole value`},
		{"unknown action", `{"roles": [{"identifier": "r", "permissions": [{"action": "delete", "resource": "entity"}]}]}`,
			`roles.json:1:59: roles.r.permissions[0].action: must be one of "*", "approve", "execute", "read", "write"; got "delete"`},
		{"built-in name", `{"roles": {"admin": {"identifier": "admin", "permissions": []}}}`,
			`"admin" is one of pier's built-in roles`},
		{"binding of an undeclared role", `{"roles": [{"identifier": "r", "permissions": []}], "roleBindings": {"rr": {"everyone": true}}}`,
			`roleBindings.rr: binds role "rr", which is not declared under roles (roles: r)`},
		{"binding of an unknown team", `{"roles": [{"identifier": "r", "permissions": []}], "roleBindings": {"r": {"teams": ["payment"]}}}`,
			`roleBindings.r.teams[0]: team "payment" is not an entity of blueprint team`},
		{"a role in the list without identifier", `{"roles": [{"permissions": []}]}`,
			`roles[0]: a role in the list must be an object with an identifier`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, diags := load(t, map[string]string{"catalog.json": base, "roles.json": tt.roles})
			if !strings.Contains(diags.Error(), tt.want) {
				t.Fatalf("diagnostics %v, want %q", diags, tt.want)
			}
			for id := range res.Catalog.Roles {
				if id != "r" || !strings.Contains(tt.name, "binding") {
					t.Errorf("role %s kept", id)
				}
			}
		})
	}
}
