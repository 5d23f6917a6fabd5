package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

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
	h := state.NewHolder()
	h.Publish(state.Applied{Revision: "r", At: time.Now(), Catalog: res.Catalog, Objects: res.Objects})
	srv := New(Options{State: h, Auth: &Auth{AnonymousReads: true}})
	for _, q := range []struct{ name, body string }{
		{"indexed", `{"combinator":"and","rules":[{"property":"$blueprint","operator":"=","value":"service"},{"property":"lifecycle","operator":"=","value":"Development"},{"property":"team","operator":"=","value":"team-042"}]}`},
		{"scan", `{"combinator":"and","rules":[{"property":"$blueprint","operator":"=","value":"service"},{"property":"test_coverage","operator":">=","value":95.5},{"property":"has_readme","operator":"=","value":true}]}`},
	} {
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest("POST", "/v1/entities/search", strings.NewReader(q.body))
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code, w.Body.String())
				}
			}
		})
	}
}
