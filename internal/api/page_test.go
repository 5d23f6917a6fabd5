package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store/sqlite"
)

// TestListingsPageAlike: every listing that pages reads ?limit and its
// cursor by one rule — a bad value is a 400 naming it, on each of them —
// and answers an empty page as [], never null.
func TestListingsPageAlike(t *testing.T) {
	f, _ := newRunsFixture(t, func(f *fixture, o *Options) { o.Deliveries = f.st })
	listings := []struct {
		path, key string
		bad       []string // query strings refused
		empty     string   // a query string whose page is empty
	}{
		{"/v1/actions/runs", "runs", []string{"limit=abc", "limit=-1", "before=abc", "before=-1"}, ""},
		{"/v1/webhooks/deliveries", "deliveries", []string{"limit=abc", "limit=-1", "before=abc", "before=-1"}, ""},
		{"/v1/audit-log", "entries", []string{"limit=abc", "limit=-1", "before=abc", "before=-1", "before=0"}, ""},
		{"/v1/scorecards/production_readiness/history", "history", []string{"limit=1.5", "before=abc", "before=-1"}, "before=1"},
		{"/v1/blueprints/team/entities/payments/scorecards/history", "history", []string{"limit=x", "before=r_1"}, ""},
		{"/v1/blueprints/service/entities", "entities", []string{"limit=abc", "limit=-1"}, "from=~"},
	}
	for _, l := range listings {
		t.Run(l.path, func(t *testing.T) {
			for _, q := range l.bad {
				code, out := f.do(t, "GET", l.path+"?"+q, f.token, nil)
				param, _, _ := strings.Cut(q, "=")
				if msg, _ := out["message"].(string); code != http.StatusBadRequest || out["error"] != "invalid_parameter" || !strings.Contains(msg, "query parameter "+param+"=") {
					t.Errorf("?%s: %d %v, want a 400 naming %s", q, code, out, param)
				}
			}
			code, out := f.do(t, "GET", l.path+"?"+l.empty, f.token, nil)
			if list, ok := out[l.key].([]any); code != http.StatusOK || !ok || len(list) != 0 {
				t.Errorf("?%s: %d %v, want an empty %s list", l.empty, code, out, l.key)
			}
		})
	}
}

// TestEmptyListsAreLists: a server with nothing to list answers every
// list as [], never null.
func TestEmptyListsAreLists(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer(New(Options{State: state.NewHolder(), Store: st, Deliveries: st, Auth: &Auth{AnonymousReads: true}}))
	defer srv.Close()
	f := &fixture{srv: srv}
	for path, key := range map[string]string{
		"/v1/blueprints":          "blueprints",
		"/v1/actions":             "actions",
		"/v1/scorecards":          "scorecards",
		"/v1/automations":         "automations",
		"/v1/approval-systems":    "approvalSystems",
		"/v1/webhooks":            "webhooks",
		"/v1/webhooks/deliveries": "deliveries",
		"/v1/audit-log":           "entries",
		"/v1/status":              "revisions",
	} {
		code, out := f.do(t, "GET", path, "", nil)
		if list, ok := out[key].([]any); code != http.StatusOK || !ok || len(list) != 0 {
			t.Errorf("GET %s: %d, %s = %#v, want []", path, code, key, out[key])
		}
	}
	code, out := f.do(t, "POST", "/v1/entities/search", "", map[string]any{"combinator": "and", "rules": []any{}})
	if list, ok := out["entities"].([]any); code != http.StatusOK || !ok || len(list) != 0 {
		t.Errorf("search: %d %v, want []", code, out)
	}
}
