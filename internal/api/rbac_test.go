package api

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/identity"
)

// rbacFixture serves catalog-example, whose roles are the seed's
// (catalog-example/access): marco is a developer and the team lead of
// payments, priya a developer of checkout, pat of the platform team, which
// administers. Each has a client acting for them.
func rbacFixture(t *testing.T) *fixture {
	t.Helper()
	f, _ := newRunsFixture(t, func(f *fixture, o *Options) {
		o.Auth.Clients = append(o.Auth.Clients,
			Client{ID: "marco-cli", Secret: "m", Login: "marco"},
			Client{ID: "priya-cli", Secret: "p", Login: "priya"},
			Client{ID: "pat-cli", Secret: "q", Login: "pat"},
			Client{ID: "machine", Secret: "x"},
		)
		o.People = &People{Directory: &identity.Directory{Dev: map[string]identity.Person{
			"marco": {Login: "marco", GitHubTeams: []string{"payments"}},
			"priya": {Login: "priya", GitHubTeams: []string{"checkout"}},
			"pat":   {Login: "pat", GitHubTeams: []string{"platform"}},
		}}}
	})
	return f
}

func (f *fixture) tokenOf(t *testing.T, id, secret string) string {
	t.Helper()
	code, body := f.do(t, "POST", "/v1/auth/access_token", "", map[string]string{"clientId": id, "clientSecret": secret})
	if code != 200 {
		t.Fatalf("token of %s: %d %v", id, code, body)
	}
	return body["accessToken"].(string)
}

func ids(list []any) []string {
	out := []string{}
	for _, x := range list {
		out = append(out, x.(map[string]any)["identifier"].(string))
	}
	slices.Sort(out)
	return out
}

// A developer of one team can neither read, write nor run against
// another team's services, through any endpoint; searches and summaries
// say nothing of what is hidden.
func TestRolesLimitEveryDoor(t *testing.T) {
	f := rbacFixture(t)
	marco, priya := f.tokenOf(t, "marco-cli", "m"), f.tokenOf(t, "priya-cli", "p")
	forbidden := func(who, method, path string, tok string, body any) {
		t.Helper()
		code, out := f.do(t, method, path, tok, body)
		if code != 403 || !strings.Contains(fmt.Sprint(out["message"]), "may not") || out["permission"] == nil {
			t.Errorf("%s %s as %s: %d %v, want a 403 naming the permission", method, path, who, code, out)
		}
	}
	// Single reads of another team's service.
	for _, p := range []string{
		"/v1/blueprints/service/entities/checkout-web",
		"/v1/entities/service/checkout-web/history",
		"/v1/blueprints/service/entities/checkout-web/scorecards",
	} {
		forbidden("marco", "GET", p, marco, nil)
	}
	// Writes.
	forbidden("marco", "PATCH", "/v1/blueprints/service/entities/checkout-web", marco, map[string]any{"properties": map[string]any{"health_status": "Healthy"}})
	forbidden("priya", "PATCH", "/v1/blueprints/service/entities/checkout-web", priya, map[string]any{"properties": map[string]any{"health_status": "Healthy"}}) // a developer reads only
	forbidden("marco", "POST", "/v1/blueprints/service/entities?upsert=true&merge=true", marco, map[string]any{"identifier": "checkout-web", "properties": map[string]any{"health_status": "Healthy"}})
	if code, out := f.do(t, "PATCH", "/v1/blueprints/service/entities/payments-api", marco, map[string]any{"properties": map[string]any{"health_status": "Healthy"}}); code != 200 {
		t.Errorf("marco leads payments and may write its services: %d %v", code, out)
	}
	// Runs on another team's service, and actions the role does not name.
	forbidden("marco", "POST", "/v1/actions/rollback_deployment/runs", marco, map[string]any{"entity": "checkout-web", "properties": map[string]any{}})
	forbidden("priya", "POST", "/v1/actions/rollback_deployment/runs", priya, map[string]any{"entity": "checkout-web", "properties": map[string]any{}})
	// The daemon's own records.
	for _, p := range []string{"/v1/audit-log", "/v1/webhooks/deliveries", "/v1/status"} {
		forbidden("marco", "GET", p, marco, nil)
	}
	// A plan shows everything a revision touches.
	forbidden("marco", "POST", "/v1/plans", marco, map[string]any{"revision": "main"})

	// Listings and searches keep only what the caller may read.
	_, out := f.do(t, "GET", "/v1/blueprints/service/entities", marco, nil)
	mine := ids(out["entities"].([]any))
	if slices.Contains(mine, "checkout-web") || !slices.Contains(mine, "payments-api") {
		t.Fatalf("marco lists %v", mine)
	}
	for _, q := range []map[string]any{
		{"combinator": "and", "rules": []any{map[string]any{"property": "$blueprint", "operator": "=", "value": "service"}}},
		{"combinator": "or", "rules": []any{map[string]any{"property": "$identifier", "operator": "=", "value": "checkout-web"}, map[string]any{"property": "$identifier", "operator": "=", "value": "payments-api"}}},
		// Crafted to find hidden entities through their relations.
		{"combinator": "and", "rules": []any{map[string]any{"operator": "relatedTo", "blueprint": "team", "value": "checkout"}}},
		{"combinator": "and", "rules": []any{map[string]any{"property": "team", "operator": "=", "value": "checkout"}}},
	} {
		_, out := f.do(t, "POST", "/v1/entities/search", marco, q)
		for _, id := range ids(out["entities"].([]any)) {
			if e := f.holder.Load().Entity("service", id); e != nil && e.Relations["team"] != "payments" {
				t.Errorf("search %v as marco found %s of team %v", q, id, e.Relations["team"])
			}
		}
	}
	_, all := f.do(t, "POST", "/v1/entities/search", f.tokenOf(t, "pat-cli", "q"), map[string]any{"combinator": "and", "rules": []any{map[string]any{"property": "$blueprint", "operator": "=", "value": "service"}}})
	_, his := f.do(t, "POST", "/v1/entities/search", marco, map[string]any{"combinator": "and", "rules": []any{map[string]any{"property": "$blueprint", "operator": "=", "value": "service"}}})
	if n, m := len(all["entities"].([]any)), len(his["entities"].([]any)); m == 0 || m >= n || m != len(mine) {
		t.Errorf("pat finds %d services, marco %d (lists %d)", n, m, len(mine))
	}

	// Relations to hidden entities say only their identifiers; hidden
	// entities pointing here are not listed.
	_, out = f.do(t, "GET", "/v1/blueprints/service/entities/checkout-bff", priya, nil)
	deps := out["relatedEntities"].(map[string]any)["dependencies"].([]any)
	for _, d := range deps {
		d := d.(map[string]any)
		if d["identifier"] == "payments-api" && (d["title"] != nil || d["exists"] != false) {
			t.Errorf("priya sees payments-api through a relation: %v", d)
		}
	}
	_, out = f.do(t, "GET", "/v1/blueprints/service/entities/payments-api", marco, nil)
	for _, r := range out["referencedBy"].([]any) {
		if id := r.(map[string]any)["identifier"]; id == "checkout-bff" {
			t.Errorf("marco sees checkout-bff point at payments-api")
		}
	}

	// A scorecard's standing counts only what the caller may read.
	_, sum := f.do(t, "GET", "/v1/scorecards/production_readiness", marco, nil)
	_, full := f.do(t, "GET", "/v1/scorecards/production_readiness", f.tokenOf(t, "pat-cli", "q"), nil)
	if a, b := sum["summary"].(map[string]any)["entities"], full["summary"].(map[string]any)["entities"]; a == b {
		t.Errorf("marco's summary counts %v entities, as the admin's", a)
	}

	// A machine acting for nobody holds no role: it reads definitions
	// only.
	machine := f.tokenOf(t, "machine", "x")
	forbidden("machine", "GET", "/v1/blueprints/service/entities/payments-api", machine, nil)
	if code, out := f.do(t, "GET", "/v1/blueprints/service", machine, nil); code != 200 {
		t.Errorf("definitions: %d %v", code, out)
	}

	// Refusals are audited.
	_, log := f.do(t, "GET", "/v1/audit-log", f.tokenOf(t, "pat-cli", "q"), nil)
	denied := 0
	for _, e := range log["entries"].([]any) {
		e := e.(map[string]any)
		if e["action"] == "access.denied" && e["actor"] == "marco" {
			denied++
		}
	}
	if denied < 5 {
		t.Errorf("%d refusals of marco audited", denied)
	}
}

// GET /v1/me says who the caller is.
func TestMe(t *testing.T) {
	f := rbacFixture(t)
	code, out := f.do(t, "GET", "/v1/me", f.tokenOf(t, "marco-cli", "m"), nil)
	u, _ := out["user"].(map[string]any)
	if code != 200 || u["login"] != "marco" || fmt.Sprint(u["teams"]) != "[payments]" || !strings.Contains(fmt.Sprint(u["roles"]), "team_lead") || u["via"] != "client" {
		t.Fatalf("me: %d %v", code, out)
	}
}
