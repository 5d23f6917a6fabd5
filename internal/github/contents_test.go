package github

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestFiles(t *testing.T) {
	c, f := newFake(t)
	ctx := context.Background()
	main, _ := f.Branch("octo-org", "catalog", "main")
	if err := c.CreateBranch(ctx, "octo-org", "catalog", "pier/run-1", main); err != nil {
		t.Fatal(err)
	}
	long := []byte(strings.Repeat("kind: service\n", 50)) // several lines of base64

	for _, tc := range []struct {
		name, path string
		content    []byte
	}{
		{"create", "runs/1.yaml", long},
		{"update", "runs/1.yaml", []byte("kind: job\n")},
		{"update README", "README.md", []byte("# Catalog\n")},
		{"empty file", "runs/.keep", nil},
	} {
		sha, err := c.PutFile(ctx, "octo-org", "catalog", "pier/run-1", tc.path, "pier: "+tc.name, tc.content)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if head, _ := f.Branch("octo-org", "catalog", "pier/run-1"); sha != head {
			t.Errorf("%s: commit %s, branch at %s", tc.name, sha, head)
		}
		got, err := c.GetFile(ctx, "octo-org", "catalog", "pier/run-1", tc.path)
		if err != nil || string(got) != string(tc.content) {
			t.Errorf("%s: GetFile = %q, %v", tc.name, got, err)
		}
	}
	if got, err := c.GetFile(ctx, "octo-org", "catalog", main, "README.md"); err != nil || string(got) != "# catalog\n" {
		t.Errorf("README.md at main's commit: %q, %v", got, err)
	}

	for _, tc := range []struct{ name, ref, path, context string }{
		{"missing file", "pier/run-1", "nope.yaml", "get nope.yaml from octo-org/catalog@pier/run-1"},
		{"not on the default branch", "", "runs/1.yaml", "get runs/1.yaml from octo-org/catalog:"},
		{"unknown ref", "nope", "README.md", "get README.md from octo-org/catalog@nope"},
	} {
		_, err := c.GetFile(ctx, "octo-org", "catalog", tc.ref, tc.path)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), tc.context) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	_, err := c.PutFile(ctx, "octo-org", "catalog", "nope", "x", "m", []byte("x"))
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "put x on octo-org/catalog@nope") {
		t.Errorf("PutFile on a missing branch: %v", err)
	}
}
