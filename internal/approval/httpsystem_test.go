package approval

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/approval/httpcap"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

func TestHTTPSystemOpenNamesTheRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"ticket": {"id": "T-7"}}`)
	}))
	defer srv.Close()
	tests := []struct {
		name   string
		parser string // the creation request's parser
		ref    string
	}{
		{"the answer names the approval", `"parser": {"approvalId": "/ticket/id"},`, "T-7"},
		{"no approvalId: the run's id", ``, "r_aaaaaaaaaaaaaaaa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := &catalog.ApprovalSystem{}
			js := `{"identifier": "desk",
				"creationRequest": {"endpoint": {"url": "BASE/tickets/{{ .run.id }}", "method": "PUT"}, ` + tt.parser + ` "jsonBody": {}},
				"statusRequest": {"endpoint": {"url": "BASE/tickets/{{ .run.id }}", "method": "GET"},
					"parser": {"statusValue": "/ticket/id", "approvalMatcher": "^approved$"}}}`
			if err := catalog.Decode([]byte(strings.ReplaceAll(js, "BASE", srv.URL)), def); err != nil {
				t.Fatal(err)
			}
			c, err := httpcap.New(def, httpcap.Options{})
			if err != nil {
				t.Fatal(err)
			}
			data := func(run store.Run, _ *catalog.Action) map[string]any {
				return map[string]any{"run": map[string]any{"id": run.ID}, "approval": map[string]any{"id": ""}}
			}
			sys := HTTPSystem{Client: c, Name: "http:desk", Data: data}
			req, err := sys.Open(context.Background(), store.Run{ID: "r_aaaaaaaaaaaaaaaa"}, &catalog.Action{Identifier: "a"}, Rule{})
			if err != nil || req.Ref != tt.ref {
				t.Fatalf("Open: %+v %v, want ref %q", req, err, tt.ref)
			}
		})
	}
}
