package github

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// openRun makes the branch pier/run-1 with a file and opens a pull
// request from it through c.
func openRun(t *testing.T, c *Client) PullRequest {
	t.Helper()
	ctx := context.Background()
	main, err := c.BranchHead(ctx, "octo-org", "catalog", "main")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateBranch(ctx, "octo-org", "catalog", "pier/run-1", main); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutFile(ctx, "octo-org", "catalog", "pier/run-1", "runs/1.yaml", "pier: run 1", []byte("run: 1\n")); err != nil {
		t.Fatal(err)
	}
	pr, err := c.CreatePullRequest(ctx, "octo-org", "catalog", NewPullRequest{Title: "Run 1", Body: "Approve to run.", Head: "pier/run-1", Base: "main"})
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func TestCreatePullRequest(t *testing.T) {
	c, f := newFake(t)
	ctx := context.Background()
	at := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	f.SetNow(func() time.Time { return at })
	pr := openRun(t, c)
	head, _ := f.Branch("octo-org", "catalog", "pier/run-1")
	want := PullRequest{
		Number: 1, State: "open", Title: "Run 1", Body: "Approve to run.",
		HTMLURL: "https://github.com/octo-org/catalog/pull/1",
		HeadRef: "pier/run-1", HeadSHA: head, HeadOwner: "octo-org", HeadRepo: "catalog", BaseRef: "main", Author: "octocat",
		CreatedAt: at, UpdatedAt: at,
	}
	if pr != want {
		t.Errorf("created\n got %+v\nwant %+v", pr, want)
	}
	got, err := c.PullRequest(ctx, "octo-org", "catalog", 1)
	if err != nil || got != want {
		t.Errorf("PullRequest = %+v, %v", got, err)
	}

	_, err = c.CreatePullRequest(ctx, "octo-org", "catalog", NewPullRequest{Title: "again", Head: "pier/run-1", Base: "main"})
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "create pull request from pier/run-1 on octo-org/catalog") {
		t.Errorf("second pull request: %v", err)
	}
	_, err = c.CreatePullRequest(ctx, "octo-org", "catalog", NewPullRequest{Title: "t", Head: "nope", Base: "main"})
	if err == nil || errors.Is(err, ErrExists) || !isStatus(err, 422) {
		t.Errorf("missing head: %v", err)
	}
	if _, err := c.PullRequest(ctx, "octo-org", "catalog", 7); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "octo-org/catalog#7") {
		t.Errorf("missing pull request: %v", err)
	}

	// A push moves the head: what reviews must be on.
	pushed := f.Commit("octo-org", "catalog", "pier/run-1", map[string][]byte{"x": []byte("x")})
	if got, _ := c.PullRequest(ctx, "octo-org", "catalog", 1); got.HeadSHA != pushed {
		t.Errorf("head %s after a push, want %s", got.HeadSHA, pushed)
	}
}

func TestPullRequestFiles(t *testing.T) {
	c, f := newFake(t)
	files := map[string][]byte{"README.md": nil}
	for i := range 130 { // more than one page of 100
		files[fmt.Sprintf("runs/%03d.yaml", i)] = []byte("x")
	}
	f.Commit("octo-org", "catalog", "b", files)
	n := f.OpenPullRequest("octo-org", "catalog", "alice", "b", "main", "t", "")
	before := len(f.Requests())

	got, err := c.PullRequestFiles(context.Background(), "octo-org", "catalog", n)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 131 || got[0] != (PullRequestFile{"README.md", "removed"}) || got[130] != (PullRequestFile{"runs/129.yaml", "added"}) {
		t.Errorf("%d files: first %+v, last %+v", len(got), got[0], got[len(got)-1])
	}
	if reqs := f.Requests()[before:]; len(reqs) != 2 || !strings.Contains(reqs[1].RawQuery, "page=2") {
		t.Errorf("requests %+v, want two pages", reqs)
	}
	if _, err := c.PullRequestFiles(context.Background(), "octo-org", "catalog", 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing pull request: %v", err)
	}
}

func TestCloseAndMergePullRequest(t *testing.T) {
	c, f := newFake(t)
	ctx := context.Background()
	pr := openRun(t, c)

	// Pushed since approval: GitHub refuses the merge.
	err := c.MergePullRequest(ctx, "octo-org", "catalog", pr.Number, strings.Repeat("a", 40), "pier: run 1")
	if !isStatus(err, 409) || !strings.Contains(err.Error(), "merge pull request octo-org/catalog#1 at aaaaaaaaaaaa") {
		t.Errorf("stale head: %v", err)
	}
	if err := c.MergePullRequest(ctx, "octo-org", "catalog", pr.Number, "", ""); err == nil {
		t.Error("no head commit: no error")
	}
	if err := c.MergePullRequest(ctx, "octo-org", "catalog", pr.Number, pr.HeadSHA, "pier: run 1"); err != nil {
		t.Fatalf("merge: %v", err)
	}
	got, _ := c.PullRequest(ctx, "octo-org", "catalog", pr.Number)
	if !got.Merged || got.State != "closed" {
		t.Errorf("after merge: %+v", got)
	}
	if b, ok := f.File("octo-org", "catalog", "main", "runs/1.yaml"); !ok || string(b) != "run: 1\n" {
		t.Errorf("main lacks the run file: %q", b)
	}
	if err := c.MergePullRequest(ctx, "octo-org", "catalog", pr.Number, pr.HeadSHA, ""); !isStatus(err, 405) {
		t.Errorf("merging again: %v", err)
	}

	f.Commit("octo-org", "catalog", "other", map[string][]byte{"y": []byte("y")})
	n := f.OpenPullRequest("octo-org", "catalog", "alice", "other", "main", "t", "")
	if err := c.ClosePullRequest(ctx, "octo-org", "catalog", n); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.PullRequest(ctx, "octo-org", "catalog", n); got.State != "closed" || got.Merged {
		t.Errorf("after close: %+v", got)
	}
	if err := c.ClosePullRequest(ctx, "octo-org", "catalog", 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("closing a missing pull request: %v", err)
	}
}

func TestRequestReviewersAndComment(t *testing.T) {
	c, f := newFake(t)
	ctx := context.Background()
	pr := openRun(t, c)
	before := len(f.Requests())
	if err := c.RequestReviewers(ctx, "octo-org", "catalog", pr.Number, nil, nil); err != nil || len(f.Requests()) != before {
		t.Errorf("asking nobody: %v, %d requests", err, len(f.Requests())-before)
	}
	if err := c.RequestReviewers(ctx, "octo-org", "catalog", pr.Number, []string{"alice"}, []string{"platform"}); err != nil {
		t.Fatal(err)
	}
	if err := c.RequestReviewers(ctx, "octo-org", "catalog", pr.Number, []string{"octocat"}, nil); !isStatus(err, 422) {
		t.Errorf("the author: %v", err)
	}
	if err := c.Comment(ctx, "octo-org", "catalog", pr.Number, "Run r_1 dispatched."); err != nil {
		t.Fatal(err)
	}
	err := c.Comment(ctx, "octo-org", "catalog", 99, "x")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "comment on octo-org/catalog#99") {
		t.Errorf("comment on a missing pull request: %v", err)
	}
	got, _ := f.PullRequest("octo-org", "catalog", pr.Number)
	if fmt.Sprint(got.RequestedReviewers, got.RequestedTeams, got.Comments) != "[alice] [platform] [Run r_1 dispatched.]" {
		t.Errorf("pull request %+v", got)
	}
}
