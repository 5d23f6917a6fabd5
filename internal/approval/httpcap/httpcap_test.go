package httpcap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
)

// decl decodes an approval system as the loader would, with BASE
// replaced by the test server's URL.
func decl(t *testing.T, base, js string) *catalog.ApprovalSystem {
	t.Helper()
	def := &catalog.ApprovalSystem{}
	if err := catalog.Decode([]byte(strings.ReplaceAll(js, "BASE", base)), def); err != nil {
		t.Fatal(err)
	}
	return def
}

func secrets(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) { v, ok := m[name]; return v, ok }
}

// seen is one request the fake server received.
type seen struct {
	method, path, query, body string
	header                    http.Header
}

// fake is a test server that records requests and answers with the
// handler's status and body.
type fake struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newFake(t *testing.T, answer func(r *http.Request) (int, string)) *fake {
	f := &fake{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, string(b), r.Header.Clone()})
		f.mu.Unlock()
		code, body := answer(r)
		w.WriteHeader(code)
		io.WriteString(w, body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) last(t *testing.T) seen {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("no request was sent")
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

// serviceNow is modelled on LaunchDarkly's ServiceNow manifest: a change
// request is created, then polled by its sys_id.
const serviceNow = `{
	"identifier": "servicenow",
	"creationRequest": {
		"endpoint": {
			"url": "BASE/api/now/table/change_request",
			"method": "POST",
			"headers": [{"name": "Authorization", "value": "Bearer {{ .secrets.SNOW_TOKEN }}"}]
		},
		"jsonBody": {
			"short_description": "pier: {{ .action.identifier }} on {{ .entity.identifier }}",
			"requested_by": "{{ .trigger.by }}",
			"ttl": "{{ .inputs.ttl }}",
			"correlation_id": "{{ .run.id }}"
		},
		"parser": {
			"approvalId": "/result/sys_id",
			"statusValue": "/result/approval",
			"statusDisplay": "/result/number",
			"urlTemplate": "https://snow.example/nav_to.do?uri=change_request.do%3Fsys_id%3D{{ .approval.id }}&n={{ .response.result.number }}"
		}
	},
	"statusRequest": {
		"endpoint": {
			"url": "BASE/api/now/table/change_request/{{ .approval.id }}",
			"method": "GET",
			"headers": [{"name": "Authorization", "value": "Bearer {{ .secrets.SNOW_TOKEN }}"}]
		},
		"parser": {
			"statusValue": "/result/approval",
			"approvalMatcher": "^approved$",
			"rejectionMatcher": "^rejected$",
			"urlTemplate": "https://snow.example/change/{{ .approval.id }}"
		}
	},
	"deletionRequest": {
		"endpoint": {
			"url": "BASE/api/now/table/change_request/{{ .approval.id }}",
			"method": "DELETE",
			"headers": [{"name": "Authorization", "value": "Bearer {{ .secrets.SNOW_TOKEN }}"}]
		}
	}
}`

func runData(approvalID string) map[string]any {
	d := map[string]any{
		"run":     map[string]any{"id": "r_1"},
		"action":  map[string]any{"identifier": "deploy"},
		"inputs":  map[string]any{"ttl": json.Number("7")},
		"entity":  map[string]any{"identifier": "api"},
		"trigger": map[string]any{"by": "ada@example.com"},
	}
	if approvalID != "" {
		d["approval"] = map[string]any{"id": approvalID}
	}
	return d
}

func TestServiceNowLifecycle(t *testing.T) {
	var mu sync.Mutex
	state := "requested"
	srv := newFake(t, func(r *http.Request) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == "POST" && r.URL.Path == "/api/now/table/change_request":
			return 201, `{"result": {"sys_id": "c0ffee", "number": "CHG0001", "approval": "requested"}}`
		case r.URL.Path == "/api/now/table/change_request/c0ffee":
			return 200, fmt.Sprintf(`{"result": {"sys_id": "c0ffee", "number": "CHG0001", "approval": %q}}`, state)
		}
		return 404, `{"error": "no such record"}`
	})
	sys, err := New(decl(t, srv.URL, serviceNow), Options{Secrets: secrets(map[string]string{"SNOW_TOKEN": "s3cr3t-token"})})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	st, err := sys.Create(ctx, runData(""))
	if err != nil {
		t.Fatal(err)
	}
	want := Status{ID: "c0ffee", Value: "requested", Display: "CHG0001", Decision: Pending,
		URL: "https://snow.example/nav_to.do?uri=change_request.do%3Fsys_id%3Dc0ffee&n=CHG0001"}
	if st != want {
		t.Fatalf("Create = %+v, want %+v", st, want)
	}
	req := srv.last(t)
	if got := req.header.Get("Authorization"); got != "Bearer s3cr3t-token" {
		t.Errorf("Authorization = %q", got)
	}
	if req.header.Get("Content-Type") != "application/json" || req.header.Get("Accept") != "application/json" {
		t.Errorf("headers %v", req.header)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(req.body), &body); err != nil {
		t.Fatalf("body %q: %v", req.body, err)
	}
	if body["short_description"] != "pier: deploy on api" || body["requested_by"] != "ada@example.com" || body["ttl"] != 7.0 || body["correlation_id"] != "r_1" {
		t.Errorf("creation body %s", req.body)
	}

	for _, tt := range []struct {
		state string
		want  Decision
	}{{"requested", Pending}, {"approved", Approved}, {"rejected", Rejected}, {"not requested", Pending}} {
		mu.Lock()
		state = tt.state
		mu.Unlock()
		st, err := sys.Status(ctx, runData(st.ID))
		if err != nil {
			t.Fatal(err)
		}
		if st.Decision != tt.want || st.Value != tt.state || st.Display != tt.state || st.ID != "c0ffee" || st.URL != "https://snow.example/change/c0ffee" {
			t.Errorf("status %q: %+v, want %s", tt.state, st, tt.want)
		}
		if req := srv.last(t); req.method != "GET" || req.body != "" || req.header.Get("Content-Type") != "" {
			t.Errorf("status request %+v", req)
		}
	}

	n := srv.count()
	if err := sys.PostApply(ctx, runData("c0ffee")); err != nil || srv.count() != n {
		t.Errorf("undeclared PostApply: err %v, %d requests sent", err, srv.count()-n)
	}
	if err := sys.Delete(ctx, runData("c0ffee")); err != nil {
		t.Fatal(err)
	}
	if req := srv.last(t); req.method != "DELETE" || req.path != "/api/now/table/change_request/c0ffee" {
		t.Errorf("deletion request %+v", req)
	}
	if _, err := sys.Members(ctx, runData("")); err == nil || !strings.Contains(err.Error(), "memberListRequest") {
		t.Errorf("undeclared Members: %v", err)
	}
	at := time.Date(2026, 11, 22, 10, 0, 30, 0, time.UTC)
	if next := sys.NextPoll(at); !next.Equal(at.Add(time.Minute)) { // @every 1m
		t.Errorf("default schedule: next poll after %v at %v", at, next)
	}
}

func TestSecrets(t *testing.T) {
	srv := newFake(t, func(*http.Request) (int, string) { return 200, `{}` })
	def := decl(t, srv.URL, `{
		"identifier": "s",
		"creationRequest": {"endpoint": {"url": "BASE/c?key=plain", "method": "POST",
			"headers": [{"name": "X-Token", "value": "{{ .secrets.TOKEN }}"}, {"name": "X-Plain", "value": "p"}]},
			"jsonBody": {"key": "{{ .secrets.API_KEY }}"}},
		"statusRequest": {"endpoint": {"url": "BASE/s", "method": "GET"}, "parser": {"statusValue": "/s", "approvalMatcher": "ok"}}
	}`)
	sys, err := New(def, Options{Secrets: secrets(map[string]string{"API_KEY": "k3y-value", "TOKEN": "t0ken-value"})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Create(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	req := srv.last(t)
	if req.body != `{"key":"k3y-value"}` || req.header.Get("X-Token") != "t0ken-value" || req.header.Get("X-Plain") != "p" {
		t.Errorf("request %+v", req)
	}

	// An unknown secret is an error naming it, and nothing is sent.
	n := srv.count()
	sys, err = New(def, Options{Secrets: secrets(map[string]string{"API_KEY": "k3y-value"})})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sys.Create(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), `secret "TOKEN" is not set`) || srv.count() != n {
		t.Errorf("unknown secret: err %v, %d requests sent", err, srv.count()-n)
	}
	// Without a resolver every secret is unknown.
	sys, _ = New(def, Options{})
	if _, err := sys.Create(context.Background(), nil); err == nil || !strings.Contains(err.Error(), `secret "API_KEY"`) {
		t.Errorf("no resolver: %v", err)
	}
}

// Secrets go only where they are sent and never shown: a URL is logged,
// quoted in errors, and (urlTemplate) published on the run.
func TestSecretsOnlyInHeadersAndBodies(t *testing.T) {
	for _, tt := range []struct{ name, creation, want string }{
		{"endpoint url", `{"endpoint": {"url": "https://x/c?key={{ .secrets.KEY }}", "method": "POST"}}`, "creationRequest.endpoint.url: a secret may only be sent in a header or the jsonBody"},
		{"urlTemplate", `{"endpoint": {"url": "https://x/c", "method": "POST"}, "parser": {"approvalId": "/id", "urlTemplate": "https://x/{{ .approval.id }}?t={{ .secrets.SNOW_TOKEN }}"}}`,
			"creationRequest.parser.urlTemplate: a secret may only be sent in a header or the jsonBody, never in a URL, which is logged and shown on the run: move .secrets.SNOW_TOKEN into a header"},
		{"an unnamed access in a url", `{"endpoint": {"url": "https://x/{{ .secrets }}", "method": "POST"}}`, "creationRequest.endpoint.url: a secret may only be sent"},
		{"header and body are fine", `{"endpoint": {"url": "https://x/c", "method": "POST", "headers": [{"name": "A", "value": "{{ .secrets.KEY }}"}]}, "jsonBody": {"k": "{{ .secrets.KEY }}"}}`, ""},
	} {
		var def catalog.ApprovalSystem
		if err := catalog.Decode([]byte(`{"identifier": "s", "creationRequest": `+tt.creation+`,
			"statusRequest": {"endpoint": {"url": "https://x/s", "method": "GET"}, "parser": {"statusValue": "/s", "approvalMatcher": "ok"}}}`), &def); err != nil {
			t.Fatal(err)
		}
		var msgs []string
		for _, p := range Check(&def) {
			msgs = append(msgs, p.String())
		}
		got := strings.Join(msgs, "; ")
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestJSONBody(t *testing.T) {
	srv := newFake(t, func(*http.Request) (int, string) { return 200, `{}` })
	tests := []struct {
		name, body string
		inputs     map[string]any
		want       string // the body sent, or the error
		err        bool
	}{
		{"string template renders JSON text", `"{\"ttl\": {{ .inputs.ttl }}, \"who\": \"{{ .inputs.who }}\"}"`,
			map[string]any{"ttl": json.Number("7"), "who": "ada"}, `{"ttl": 7, "who": "ada"}`, false},
		{"string template renders invalid JSON", `"{\"ttl\": {{ .inputs.ttl }}}"`,
			map[string]any{"ttl": "seven days"}, "jsonBody does not render to valid JSON", true},
		{"lone template keeps the value", `"{{ {ttl: .inputs.ttl} }}"`, map[string]any{"ttl": json.Number("7")}, `{"ttl":7}`, false},
		{"structured body", `{"a": ["{{ .inputs.ttl }}", "x{{ .inputs.ttl }}"], "b": null}`, map[string]any{"ttl": json.Number("7")}, `{"a":[7,"x7"],"b":null}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys, err := New(decl(t, srv.URL, `{"identifier": "b",
				"creationRequest": {"endpoint": {"url": "BASE/c", "method": "POST"}, "jsonBody": `+tt.body+`},
				"statusRequest": {"endpoint": {"url": "BASE/s", "method": "GET"}, "parser": {"statusValue": "/s", "approvalMatcher": "ok"}}}`), Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = sys.Create(context.Background(), map[string]any{"inputs": tt.inputs})
			if tt.err {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := srv.last(t).body; got != tt.want {
				t.Errorf("body %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPointers(t *testing.T) {
	var doc any
	if err := catalog.Decode([]byte(`{"a/b": {"m~n": "slash-tilde"}, "items": [{"v": "zero"}, {"v": 1.50}], "": {"t": true}, "nil": null, "obj": {}}`), &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ ptr, want, err string }{
		{"/a~1b/m~0n", "slash-tilde", ""},
		{"/items/0/v", "zero", ""},
		{"/items/1/v", "1.50", ""}, // numbers as written
		{"//t", "true", ""},        // the empty key
		{"/items/01/v", "", `no value at "/items/01/v"`},
		{"/items/2", "", "no value"},
		{"/items/-", "", "no value"},
		{"/missing", "", `no value at "/missing"`},
		{"/nil", "", "is null"},
		{"/obj", "", "is an object"},
		{"/items", "", "is an array"},
		{"/a~2b", "", "~ must be followed by 0 or 1"},
		{"a", "", "must start with /"},
	}
	for _, tt := range tests {
		p, err := parsePointer(tt.ptr)
		var got string
		if err == nil {
			got, err = p.text(doc)
		}
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: got %q, %v; want error %q", tt.ptr, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s = %q, %v; want %q", tt.ptr, got, err, tt.want)
		}
	}
}

func TestErrorResponses(t *testing.T) {
	long := strings.Repeat("x", 2000)
	srv := newFake(t, func(r *http.Request) (int, string) {
		switch r.URL.Path {
		case "/big":
			return 200, `{"s": "` + strings.Repeat("y", maxBody) + `"}`
		case "/html":
			return 200, `<html>maintenance</html>`
		case "/missing":
			return 200, `{"result": {}}`
		}
		return 503, `{"error": "down for maintenance", "echo": "Bearer t0ken-value"}` + long
	})
	opts := Options{Secrets: secrets(map[string]string{"TOKEN": "t0ken-value"})}
	tests := []struct {
		path string
		want []string
	}{
		{"/down", []string{`statusRequest: GET http://`, "/down: 503 Service Unavailable", "down for maintenance", "REDACTED"}},
		{"/big", []string{"response exceeds 1048576 bytes"}},
		{"/html", []string{"response is not JSON", "maintenance"}},
		{"/missing", []string{`parser statusValue: no value at "/result/approval"`}},
	}
	for _, tt := range tests {
		sys, err := New(decl(t, srv.URL, `{"identifier": "e",
			"creationRequest": {"endpoint": {"url": "BASE/c", "method": "POST"}},
			"statusRequest": {"endpoint": {"url": "BASE`+tt.path+`?token=plain", "method": "GET",
				"headers": [{"name": "Authorization", "value": "Bearer {{ .secrets.TOKEN }}"}]},
				"parser": {"statusValue": "/result/approval", "approvalMatcher": "approved"}}}`), opts)
		if err != nil {
			t.Fatal(err)
		}
		_, err = sys.Status(context.Background(), runData("x"))
		if err == nil {
			t.Errorf("%s: no error", tt.path)
			continue
		}
		msg := err.Error()
		t.Log(msg)
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q lacks %q", tt.path, msg, w)
			}
		}
		if strings.Contains(msg, "t0ken-value") || strings.Contains(msg, "token=") || len(msg) > 600 {
			t.Errorf("%s: error leaks the secret or the query, or is unbounded: %q", tt.path, msg)
		}
	}
}

// A transport error quotes neither the query nor a secret in the path.
func TestTransportErrorIsRedacted(t *testing.T) {
	srv := newFake(t, func(*http.Request) (int, string) { return 200, `{}` })
	srv.Close()
	sys, err := New(decl(t, srv.URL, `{"identifier": "t",
		"creationRequest": {"endpoint": {"url": "BASE/c/{{ .run.id }}?token=plain", "method": "POST",
			"headers": [{"name": "Authorization", "value": "Bearer {{ .secrets.TOKEN }}"}]}},
		"statusRequest": {"endpoint": {"url": "BASE/s", "method": "GET"}, "parser": {"statusValue": "/s", "approvalMatcher": "ok"}}}`),
		Options{Secrets: secrets(map[string]string{"TOKEN": "t0ken-value"})})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sys.Create(context.Background(), runData("x"))
	if err == nil || !strings.Contains(err.Error(), "POST http://") || !strings.Contains(err.Error(), "/c/r_1") ||
		strings.Contains(err.Error(), "t0ken-value") || strings.Contains(err.Error(), "token=") {
		t.Errorf("transport error %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sys.Create(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestMembers(t *testing.T) {
	srv := newFake(t, func(*http.Request) (int, string) {
		return 200, `{"result": [{"user": {"email": "ada@example.com", "sys_id": 101}}, {"user": {"email": "bob@example.com", "sys_id": "u-2"}}]}`
	})
	js := `{"identifier": "m",
		"creationRequest": {"endpoint": {"url": "BASE/c", "method": "POST"}},
		"statusRequest": {"endpoint": {"url": "BASE/s", "method": "GET"}, "parser": {"statusValue": "/s", "approvalMatcher": "ok"}},
		"memberListRequest": {"endpoint": {"url": "BASE/members", "method": "GET"},
			"parser": {"memberArrayPath": "/result", "memberItems": {"email": "/user/email", "memberId": "/user/sys_id"}}}}`
	sys, err := New(decl(t, srv.URL, js), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := sys.Members(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Member{{ID: "101", Email: "ada@example.com"}, {ID: "u-2", Email: "bob@example.com"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("members %v, want %v", got, want)
	}
	if r := srv.last(t); r.path != "/members" || r.method != "GET" {
		t.Errorf("request %+v", r)
	}

	sys, _ = New(decl(t, srv.URL, strings.Replace(js, `"/user/email"`, `"/user/mail"`, 1)), Options{})
	if _, err := sys.Members(context.Background(), nil); err == nil || !strings.Contains(err.Error(), `member 0: memberItems.email: no value at "/user/mail"`) {
		t.Errorf("missing member field: %v", err)
	}
}

func TestNoOpsWhenUndeclared(t *testing.T) {
	sys, err := New(decl(t, "http://127.0.0.1:1", `{"identifier": "n",
		"creationRequest": {"endpoint": {"url": "BASE/c", "method": "POST"}},
		"statusRequest": {"endpoint": {"url": "BASE/s", "method": "GET"}, "parser": {"statusValue": "/s", "approvalMatcher": "ok"}},
		"schedule": "*/5 * * * *"}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.PostApply(context.Background(), nil); err != nil {
		t.Error(err)
	}
	if err := sys.Delete(context.Background(), nil); err != nil {
		t.Error(err)
	}
	at := time.Date(2026, 11, 22, 10, 1, 0, 0, time.UTC)
	if next := sys.NextPoll(at); !next.Equal(time.Date(2026, 11, 22, 10, 5, 0, 0, time.UTC)) {
		t.Errorf("schedule */5: next poll after %v at %v", at, next)
	}
}

func TestCompileErrorsNameTheField(t *testing.T) {
	const status = `"statusRequest": {"endpoint": {"url": "https://x/s", "method": "GET"}, "parser": {"statusValue": "/s", "approvalMatcher": "ok"}}`
	const create = `"creationRequest": {"endpoint": {"url": "https://x/c", "method": "POST"}}`
	tests := []struct{ name, js, want string }{
		{"header template", `"creationRequest": {"endpoint": {"url": "https://x/c", "method": "POST", "headers": [{"name": "A", "value": "ok"}, {"name": "B", "value": "{{ .x | }}"}]}}, ` + status,
			"creationRequest.endpoint.headers[1].value: template"},
		{"url template", `"creationRequest": {"endpoint": {"url": "https://x/{{ .a", "method": "POST"}}, ` + status,
			"creationRequest.endpoint.url: template"},
		{"body template", `"creationRequest": {"endpoint": {"url": "https://x/c", "method": "POST"}, "jsonBody": {"a": ["ok", "{{ ]] }}"]}}, ` + status,
			"creationRequest.jsonBody.a[1]: template"},
		{"string body template", `"creationRequest": {"endpoint": {"url": "https://x/c", "method": "POST"}, "jsonBody": "{{ ( }}"}, ` + status,
			"creationRequest.jsonBody: template"},
		{"matcher", create + `, "statusRequest": {"endpoint": {"url": "https://x/s", "method": "GET"}, "parser": {"statusValue": "/s", "approvalMatcher": "ok", "rejectionMatcher": "(no"}}`,
			"statusRequest.parser.rejectionMatcher: not a regular expression"},
		{"pointer", create + `, "statusRequest": {"endpoint": {"url": "https://x/s", "method": "GET"}, "parser": {"statusValue": "/a~2", "approvalMatcher": "ok"}}`,
			"statusRequest.parser.statusValue: JSON pointer"},
		{"status without parser", create + `, "statusRequest": {"endpoint": {"url": "https://x/s", "method": "GET"}}`,
			"statusRequest: needs a parser with statusValue and approvalMatcher"},
		{"status without matcher", create + `, "statusRequest": {"endpoint": {"url": "https://x/s", "method": "GET"}, "parser": {"statusValue": "/s"}}`,
			`statusRequest.parser: missing required field "approvalMatcher"`},
		{"approval id needed", create + `, "statusRequest": {"endpoint": {"url": "https://x/s/{{ .approval.id }}", "method": "GET"}, "parser": {"statusValue": "/s", "approvalMatcher": "ok"}}`,
			"creationRequest.parser.approvalId: required: statusRequest reads .approval.id"},
		{"dynamic secret", `"creationRequest": {"endpoint": {"url": "https://x/c", "method": "POST", "headers": [{"name": "A", "value": "{{ .secrets[.inputs.name] }}"}]}}, ` + status,
			"creationRequest.endpoint.headers[0].value: refer to a secret as .secrets.NAME"},
		{"method", `"creationRequest": {"endpoint": {"url": "https://x/c", "method": "FETCH"}}, ` + status,
			`creationRequest.endpoint.method: must be one of GET, POST, PUT, PATCH, DELETE; got "FETCH"`},
		{"members", create + `, ` + status + `, "memberListRequest": {"endpoint": {"url": "https://x/m", "method": "GET"}, "parser": {"memberArrayPath": "/m"}}`,
			"memberListRequest.parser: needs memberArrayPath and memberItems"},
		{"schedule", `"schedule": "every minute", ` + create + `, ` + status, `schedule: "every minute" is not a cron schedule`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(decl(t, "", `{"identifier": "c", `+tt.js+`}`), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), `approval system "c": `) {
				t.Errorf("err %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

// A creation answered 2xx made an approval, whatever the answer says: one
// pier cannot follow is ErrUnusable (never created again); an answer that
// is not JSON at all, or a 5xx, is an ordinary error, retried. Every
// creation carries the run's id as its Idempotency-Key.
func TestCreationAnswers(t *testing.T) {
	var answer struct {
		code int
		body string
	}
	srv := newFake(t, func(*http.Request) (int, string) { return answer.code, answer.body })
	sys, err := New(decl(t, srv.URL, `{"identifier": "c",
		"creationRequest": {"endpoint": {"url": "BASE/c", "method": "POST", "headers": [{"name": "Authorization", "value": "Bearer {{ .secrets.TOKEN }}"}]},
			"parser": {"approvalId": "/result/sys_id", "statusValue": "/result/state", "urlTemplate": "https://board.example/{{ .approval.id }}"}},
		"statusRequest": {"endpoint": {"url": "BASE/s", "method": "GET"}, "parser": {"statusValue": "/s", "approvalMatcher": "ok"}}}`),
		Options{Secrets: secrets(map[string]string{"TOKEN": "t0ken-value"})})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		code     int
		body     string
		unusable bool
		err      string
	}{
		{"no id", 201, `{"result": {"state": "requested"}}`, true, `parser approvalId: no value at "/result/sys_id" (the answer: "{\"result\": {\"state\": \"requested\"}}")`},
		{"empty id", 201, `{"result": {"sys_id": "", "state": "requested"}}`, true, "is empty"},
		{"no status", 200, `{"result": {"sys_id": "c1"}}`, true, "parser statusValue"},
		{"an echoed secret is redacted", 201, `{"result": {"note": "Bearer t0ken-value"}}`, true, "REDACTED"},
		{"not JSON", 201, `<html>proxy</html>`, false, "response is not JSON"},
		{"5xx", 502, `bad gateway`, false, "502"},
	} {
		answer.code, answer.body = tt.code, tt.body
		_, err := sys.Create(context.Background(), runData(""))
		if err == nil || errors.Is(err, ErrUnusable) != tt.unusable || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "t0ken-value") {
			t.Errorf("%s: %v (unusable %v)", tt.name, err, errors.Is(err, ErrUnusable))
		}
		if got := srv.last(t).header.Get(IdempotencyKey); got != "r_1" {
			t.Errorf("%s: Idempotency-Key %q", tt.name, got)
		}
	}
	answer.code, answer.body = 201, `{"result": {"sys_id": "c1", "state": "requested with t0ken-value"}}`
	st, err := sys.Create(context.Background(), runData(""))
	if err != nil || st.ID != "c1" || st.URL != "https://board.example/c1" || st.Display != "requested with REDACTED" {
		t.Errorf("created: %+v, %v", st, err)
	}
	if _, err := sys.Status(context.Background(), runData("c1")); err == nil || errors.Is(err, ErrUnusable) {
		t.Errorf("a status answer is never unusable: %v", err)
	}
}
