package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver counts what it is sent, by path.
type receiver struct {
	mu     sync.Mutex
	bodies map[string][]map[string]any
	srv    *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{bodies: map[string][]map[string]any{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		r.mu.Lock()
		r.bodies[req.URL.Path] = append(r.bodies[req.URL.Path], m)
		r.mu.Unlock()
		io.WriteString(w, `{"ok": true}`)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got(path string) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.bodies[path]...)
}

func (r *receiver) wait(t *testing.T, path string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if got := r.got(path); len(got) >= n {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s received %d requests, want %d", path, len(r.got(path)), n)
	return nil
}

func automationsCatalog(hook string) string {
	return fmt.Sprintf(`
blueprints: team: {title: "Team", schema: properties: {}}
blueprints: service: {
	title: "Service"
	schema: properties: repository: {type: "string", format: "url"}
}
blueprints: environment: {
	title: "Environment"
	schema: properties: {
		type: {type: "string", enum: ["production", "ephemeral"]}
		ttl: {type: "string", format: "timer"}
	}
}
entities: team: "backend-team": {}

actions: welcome: {
	trigger: {
		type: "self-service", operation: "CREATE", blueprintIdentifier: "service"
		userInputs: properties: name: {type: "string"}
	}
	invocationMethod: {type: "WEBHOOK", url: "%[1]s/welcome", synchronized: true, body: {service: "{{ .inputs.name }}", by: "{{ .trigger.by.user.login }}"}}
}

automations: welcome_new_services: {
	trigger: {type: "entity-created", blueprintIdentifier: "service"}
	actions: [{type: "run-action", action: "welcome", properties: name: "{{ .event.entity.identifier }}"}]
}

// The seed's automation, the GitOps way: the change is a pull request.
automations: auto_assign_team: {
	title: "Auto-assign Team Based on Repository"
	trigger: {type: "entity-created", blueprintIdentifier: "service"}
	conditions: [{property: "repository", operator: "contains", value: "/backend/"}]
	actions: [
		{type: "update-entity", properties: team: "backend-team"},
		{type: "send-notification", channel: "slack", url: "%[1]s/slack", message: "New backend service {{ entity.identifier }} has been registered and assigned to backend-team"},
	]
}

// Tell a channel when a welcome run succeeds: RUN_UPDATED, filtered by jq.
automations: announce_welcomes: {
	trigger: {
		type: "automation"
		event: {type: "RUN_UPDATED", actionIdentifier: "welcome"}
		condition: {type: "JQ", expressions: [".run.status == \"SUCCESS\""]}
	}
	actions: [{type: "send-notification", channel: "webhook", url: "%[1]s/runs", message: "welcome run {{ .event.run.id }} succeeded"}]
}

automations: destroy_expired_environment: {
	trigger: {
		type: "automation"
		event: {type: "TIMER_PROPERTY_EXPIRED", blueprintIdentifier: "environment", propertyIdentifier: "ttl"}
		condition: {type: "JQ", expressions: [".diff.after.properties.type == \"ephemeral\""], combinator: "and"}
	}
	invocationMethod: {type: "WEBHOOK", url: "%[1]s/destroy", synchronized: true, body: {environment: "{{ .event.diff.after.identifier }}", run: "{{ .run.id }}"}}
}
`, hook)
}

func TestAutomationsFireOncePerEvent(t *testing.T) {
	hook := newReceiver(t)
	e := newRunsEnvWith(t, automationsCatalog(hook.srv.URL), "--timers", "@every 1s")
	backend := "entities: service: \"ledger\": properties: repository: \"https://github.com/acme/backend/ledger\"\n"
	frontend := "entities: service: \"web\": properties: repository: \"https://github.com/acme/frontend/web\"\n"
	envs := "entities: environment: \"pr-7\": properties: {type: \"ephemeral\", ttl: \"2020-01-01T00:00:00Z\"}\n" +
		"entities: environment: prod: properties: {type: \"production\", ttl: \"2020-01-01T00:00:00Z\"}\n"
	files := map[string]string{"services/ledger.cue": backend, "services/web.cue": frontend, "envs.cue": envs}
	sha := e.repo.commit("add services", files)
	fakeFiles := map[string][]byte{}
	for k, v := range files {
		fakeFiles[k] = []byte(v)
	}
	e.fake.Commit("acme", "catalog", "main", fakeFiles) // GitHub's copy of the catalog
	e.td.push(t, sha, runsWebhookSecret)

	// Both new services are welcomed, each once, through the run pipeline.
	got := hook.wait(t, "/welcome", 2)
	names := []string{got[0]["service"].(string), got[1]["service"].(string)}
	if !(names[0] == "ledger" && names[1] == "web" || names[0] == "web" && names[1] == "ledger") || got[0]["by"] != "automation:welcome_new_services" {
		t.Fatalf("welcome requests %v", got)
	}
	// The expired ephemeral environment is destroyed once; production is
	// left alone.
	destroyed := hook.wait(t, "/destroy", 1)
	if destroyed[0]["environment"] != "pr-7" {
		t.Fatalf("destroy %v", destroyed)
	}
	// auto_assign_team proposes the change as a pull request editing the
	// file that declares the entity, and tells Slack.
	slack := hook.wait(t, "/slack", 1)
	if !strings.Contains(slack[0]["text"].(string), "New backend service ledger has been registered") {
		t.Fatalf("slack %v", slack)
	}
	var prNumber int
	for n := 1; n < 10; n++ {
		if pr, ok := e.fake.PullRequest("acme", "catalog", n); ok && strings.HasPrefix(pr.Head, "pier/automation/auto_assign_team/") {
			prNumber = n
			edited, _ := e.fake.File("acme", "catalog", pr.Head, "services/ledger.cue")
			if want := backend + "entities: service: ledger: team: \"backend-team\"\n"; string(edited) != want {
				t.Fatalf("the pull request's file:\n%s\nwant:\n%s", edited, want)
			}
			if !strings.Contains(pr.Body, "Auto-assign Team Based on Repository") {
				t.Fatalf("body %s", pr.Body)
			}
		}
	}
	if prNumber == 0 {
		t.Fatal("no pull request from auto_assign_team")
	}

	// A restart, a poll and a push of the same revision fire nothing
	// again.
	e.td.stop()
	e.start()
	e.td.push(t, sha, runsWebhookSecret)
	time.Sleep(2 * time.Second) // two timer checks
	if n := len(hook.got("/welcome")); n != 2 {
		t.Fatalf("%d welcomes after a restart", n)
	}
	if n := len(hook.got("/destroy")); n != 1 {
		t.Fatalf("%d destroys after a restart", n)
	}
	if n := len(hook.got("/slack")); n != 1 {
		t.Fatalf("%d slack messages after a restart", n)
	}
	if got := hook.got("/runs"); len(got) != 2 || !strings.HasPrefix(got[0]["message"].(string), "welcome run r_") {
		t.Fatalf("run announcements: %v", got)
	}
	if _, ok := e.fake.PullRequest("acme", "catalog", prNumber+1); ok {
		t.Fatal("a second pull request")
	}
	_, out := e.call("GET", "/v1/actions/runs?action=welcome", "", nil)
	if n := len(out["runs"].([]any)); n != 2 {
		t.Fatalf("%d welcome runs", n)
	}

	// An automation reacts to the events of the revision that adds it.
	sha = e.repo.commit("an automation and a service", map[string]string{
		"services/api2.cue": "entities: service: api2: properties: repository: \"https://github.com/acme/frontend/api2\"\n",
		"more.cue": `automations: welcome_twice: {
	trigger: {type: "entity-created", blueprintIdentifier: "service"}
	actions: [{type: "run-action", action: "welcome", properties: name: "again-{{ .event.entity.identifier }}"}]
}
`,
	})
	e.td.push(t, sha, runsWebhookSecret)
	got = hook.wait(t, "/welcome", 4)
	var names2 []string
	for _, b := range got[2:] {
		names2 = append(names2, b["service"].(string))
	}
	slices.Sort(names2)
	if strings.Join(names2, ",") != "again-api2,api2" {
		t.Fatalf("welcomes for the new revision: %v", names2)
	}
}
