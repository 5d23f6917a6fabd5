package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/identity"
	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/synth"
)

// BenchmarkSearch runs the search handler in process over a synthetic
// catalog of 20,000 services (no HTTP), for profiling.
func BenchmarkSearch(b *testing.B) {
	dir := b.TempDir()
	if err := synth.Write(dir, synth.Options{Services: 20000}); err != nil {
		b.Fatal(err)
	}
	l, err := loader.New(0)
	if err != nil {
		b.Fatal(err)
	}
	res, err := l.Load(context.Background(), os.DirFS(dir))
	if err != nil || !res.OK() {
		b.Fatal(err, res.Diagnostics)
	}
	// The seed's developer: services of their own team only.
	res.Catalog.Roles["developer"] = &catalog.Role{Identifier: "developer", Permissions: []catalog.Permission{
		{Action: "read", Resource: "entity", Condition: []byte(`{"property": "team", "operator": "=", "value": "{{ user.team }}"}`)},
	}}
	res.Catalog.RoleBindings["developer"] = &catalog.RoleBinding{Everyone: true}
	h := state.NewHolder()
	h.Publish(state.Applied{Revision: "r", At: time.Now(), Catalog: res.Catalog, Objects: res.Objects})
	auth := &Auth{AnonymousReads: true, Clients: []Client{{ID: "dev", Secret: "s", Login: "dev"}}}
	srv := New(Options{State: h, Auth: auth, People: &People{Directory: &identity.Directory{
		Dev: map[string]identity.Person{"dev": {Login: "dev", GitHubTeams: []string{"team-042"}}},
	}}})
	person, _ := auth.issue("dev", time.Now())
	// who: anonymous callers read every entity; the person, their team's.
	for _, who := range []struct{ name, token string }{{"all", ""}, {"person", person}} {
		for _, q := range []struct{ name, body string }{
			{"indexed", `{"combinator":"and","rules":[{"property":"$blueprint","operator":"=","value":"service"},{"property":"lifecycle","operator":"=","value":"Development"},{"property":"team","operator":"=","value":"team-042"}]}`},
			{"scan", `{"combinator":"and","rules":[{"property":"$blueprint","operator":"=","value":"service"},{"property":"test_coverage","operator":">=","value":95.5},{"property":"has_readme","operator":"=","value":true}]}`},
		} {
			b.Run(q.name+"/"+who.name, func(b *testing.B) {
				for b.Loop() {
					req := httptest.NewRequest("POST", "/v1/entities/search", strings.NewReader(q.body))
					if who.token != "" {
						req.Header.Set("Authorization", "Bearer "+who.token)
					}
					w := httptest.NewRecorder()
					srv.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatal(w.Code, w.Body.String())
					}
				}
			})
		}
		b.Run("get/"+who.name, func(b *testing.B) {
			id := h.Load().IDs("service")[42]
			for b.Loop() {
				req := httptest.NewRequest("GET", "/v1/blueprints/service/entities/"+id, nil)
				if who.token != "" {
					req.Header.Set("Authorization", "Bearer "+who.token)
				}
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, req)
				if w.Code != http.StatusOK && w.Code != http.StatusForbidden {
					b.Fatal(w.Code, w.Body.String())
				}
			}
		})
	}
}
