package github

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestBranches(t *testing.T) {
	c, f := newFake(t)
	ctx := context.Background()
	main, _ := f.Branch("octo-org", "catalog", "main")

	head, err := c.BranchHead(ctx, "octo-org", "catalog", "main")
	if err != nil || head != main {
		t.Fatalf("BranchHead(main) = %q, %v; want %s", head, err, main)
	}
	for _, tc := range []struct {
		name, branch, from string
		want               error // nil, ErrExists, or errSome for another error
	}{
		{"new", "pier/run-1", main, nil},
		{"again", "pier/run-1", main, ErrExists},
		{"unknown commit", "pier/run-2", strings.Repeat("0", 40), errSome},
	} {
		err := c.CreateBranch(ctx, "octo-org", "catalog", tc.branch, tc.from)
		switch {
		case tc.want == nil && err != nil, tc.want != nil && err == nil:
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		case tc.want == ErrExists && !errors.Is(err, ErrExists):
			t.Errorf("%s: %v, want ErrExists", tc.name, err)
		case tc.want == errSome && (errors.Is(err, ErrExists) || errors.Is(err, ErrNotFound) || !isStatus(err, 422)):
			t.Errorf("%s: %v, want a plain 422", tc.name, err)
		case err != nil && !strings.Contains(err.Error(), "create branch "+tc.branch+" of octo-org/catalog"):
			t.Errorf("%s: error %q does not name the branch", tc.name, err)
		}
	}
	if got, _ := c.BranchHead(ctx, "octo-org", "catalog", "pier/run-1"); got != main {
		t.Errorf("pier/run-1 at %s", got)
	}

	if err := c.DeleteBranch(ctx, "octo-org", "catalog", "pier/run-1"); err != nil {
		t.Fatalf("DeleteBranch: %v", err)
	}
	if err := c.DeleteBranch(ctx, "octo-org", "catalog", "pier/run-1"); err != nil {
		t.Errorf("DeleteBranch of a missing branch: %v", err)
	}
	_, err = c.BranchHead(ctx, "octo-org", "catalog", "pier/run-1")
	if !errors.Is(err, ErrNotFound) || !isStatus(err, 404) || !strings.Contains(err.Error(), "get branch pier/run-1 of octo-org/catalog") {
		t.Errorf("BranchHead of a deleted branch: %v", err)
	}
	for name, err := range map[string]error{
		"create": c.CreateBranch(ctx, "octo-org", "missing", "b", main),
		"delete": c.DeleteBranch(ctx, "octo-org", "missing", "b"),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s in a missing repository: %v", name, err)
		}
	}
}

// errSome stands for "an error, but not one of the sentinels" in tables.
var errSome = errors.New("some error")

func TestPushersAndMoveBranch(t *testing.T) {
	c, f := newFake(t)
	ctx := context.Background()
	bob := f.Push("octo-org", "catalog", "pier/run/r_1", "bob", map[string][]byte{"runs/r_1.json": []byte("{}")})
	anon := f.Commit("octo-org", "catalog", "pier/run/r_1", map[string][]byte{"runs/r_1.json": []byte("{ }")})
	for _, tc := range []struct {
		name, sha string
		want      string
	}{
		{"pushed and authored by bob", bob, "bob"},
		// No account linked to the commit, and the push's actor unknown.
		{"anonymous", anon, ""},
	} {
		got, err := c.Pushers(ctx, "octo-org", "catalog", "pier/run/r_1", tc.sha)
		if err != nil || strings.Join(got, ",") != tc.want {
			t.Errorf("%s: %v, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	// pier (the token's user, octocat) puts its branch back to bob's
	// commit: the push is pier's, the commit still bob's.
	if err := c.MoveBranch(ctx, "octo-org", "catalog", "pier/run/r_1", bob); err != nil {
		t.Fatal(err)
	}
	if head, _ := f.Branch("octo-org", "catalog", "pier/run/r_1"); head != bob {
		t.Fatalf("head %s, want %s", head, bob)
	}
	if got, err := c.Pushers(ctx, "octo-org", "catalog", "pier/run/r_1", bob); err != nil || strings.Join(got, ",") != "bob,octocat" {
		t.Errorf("after the move: %v, %v", got, err)
	}
	if err := c.MoveBranch(ctx, "octo-org", "catalog", "nope", bob); err == nil || !strings.Contains(err.Error(), "move branch nope of octo-org/catalog") {
		t.Errorf("unknown branch: %v", err)
	}
	if _, err := c.Pushers(ctx, "octo-org", "catalog", "main", strings.Repeat("1", 40)); err == nil {
		t.Error("unknown commit: no error")
	}
}
