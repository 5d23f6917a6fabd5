package githubfake

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
)

func TestCreatePull(t *testing.T) {
	f, c := setupRepo(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	f.SetNow(func() time.Time { return at })
	head := f.Commit("octo-org", "catalog", "pier/run-1", map[string][]byte{"runs/1.json": []byte("{}\n")})
	f.Commit("octo-org", "catalog", "empty", nil)
	f.Commit("octo-org", "catalog", "empty", map[string][]byte{"README.md": nil})
	f.Commit("octo-org", "catalog", "empty", map[string][]byte{"README.md": []byte("# catalog\n")})
	// "behind" is main itself: no commits to merge.
	sha, _ := f.Branch("octo-org", "catalog", "main")
	if code, _, _ := post(t, f, "/repos/octo-org/catalog/git/refs", `{"ref":"refs/heads/behind","sha":"`+sha+`"}`); code != 201 {
		t.Fatal(code)
	}

	pr, resp, err := c.PullRequests.Create(ctx, "octo-org", "catalog", &github.NewPullRequest{
		Title: github.String("Run 1"), Head: github.String("pier/run-1"), Base: github.String("main"), Body: github.String("by pier"),
	})
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("Create: %v", err)
	}
	if pr.GetNumber() != 1 || pr.GetState() != "open" || pr.GetMerged() || pr.GetUser().GetLogin() != "octocat" ||
		pr.GetHead().GetRef() != "pier/run-1" || pr.GetHead().GetSHA() != head || pr.GetBase().GetRef() != "main" ||
		pr.GetHTMLURL() != "https://github.com/octo-org/catalog/pull/1" || pr.GetBody() != "by pier" ||
		!pr.GetCreatedAt().Time.Equal(at) || pr.GetChangedFiles() != 1 || pr.GetCommits() != 1 || !pr.GetMergeable() ||
		pr.GetHead().GetRepo().GetFullName() != "octo-org/catalog" || resp.Header.Get("Location") != pr.GetURL() {
		t.Errorf("created %+v", pr)
	}

	for _, tc := range []struct {
		name, body string
		want       string // message, then the fields' codes and messages
	}{
		{"no head", `{"title":"t","base":"main"}`, "Validation Failed head:missing_field:"},
		{"nothing", `{}`, "Validation Failed head:missing_field: base:missing_field: title:missing_field:"},
		{"unknown head", `{"title":"t","head":"nope","base":"main"}`, "Validation Failed head:invalid:"},
		{"fork head", `{"title":"t","head":"someone:pier/run-1","base":"main"}`, "Validation Failed head:invalid:"},
		{"unknown base", `{"title":"t","head":"pier/run-1","base":"nope"}`, "Validation Failed base:invalid:"},
		{"already open", `{"title":"t","head":"octo-org:pier/run-1","base":"main"}`, "Validation Failed :custom:A pull request already exists for octo-org:pier/run-1."},
		{"no commits", `{"title":"t","head":"behind","base":"main"}`, "Validation Failed :custom:No commits between main and behind"},
	} {
		code, _, got := post(t, f, "/repos/octo-org/catalog/pulls", tc.body)
		msg := fmt.Sprint(got["message"])
		errs, _ := got["errors"].([]any)
		for _, e := range errs {
			e := e.(map[string]any)
			if e["resource"] != "PullRequest" {
				t.Errorf("%s: resource %v", tc.name, e["resource"])
			}
			msg += fmt.Sprintf(" %v:%v:%v", or(e["field"]), e["code"], or(e["message"]))
		}
		if code != 422 || msg != tc.want {
			t.Errorf("%s: %d %q, want 422 %q", tc.name, code, msg, tc.want)
		}
	}
	// A file-less branch with other commits can be proposed.
	if code, _, got := post(t, f, "/repos/octo-org/catalog/pulls", `{"title":"t","head":"empty","base":"main"}`); code != 201 || got["number"] != 2.0 || got["changed_files"] != 0.0 {
		t.Errorf("empty: %d %v", code, got)
	}
	if _, _, err := c.PullRequests.Get(ctx, "octo-org", "catalog", 9); !is(err, 404) {
		t.Errorf("missing pull request: %v", err)
	}
}

func or(v any) any {
	if v == nil {
		return ""
	}
	return v
}

func TestClosePull(t *testing.T) {
	f, c := setupRepo(t)
	ctx := context.Background()
	f.Commit("octo-org", "catalog", "b", map[string][]byte{"x": []byte("x")})
	n := f.OpenPullRequest("octo-org", "catalog", "alice", "b", "main", "t", "")
	edit := func(state string) (*github.PullRequest, error) {
		pr, _, err := c.PullRequests.Edit(ctx, "octo-org", "catalog", n, &github.PullRequest{State: &state})
		return pr, err
	}
	pr, err := edit("closed")
	if err != nil || pr.GetState() != "closed" || pr.ClosedAt == nil || pr.GetMerged() || pr.GetUser().GetLogin() != "alice" {
		t.Fatalf("close: %+v %v", pr, err)
	}
	if pr, err = edit("open"); err != nil || pr.GetState() != "open" || pr.ClosedAt != nil {
		t.Errorf("reopen: %+v %v", pr, err)
	}
	if _, err = edit("merged"); !is(err, 422) {
		t.Errorf("bad state: %v", err)
	}
	f.ClosePR("octo-org", "catalog", n)
	if got, _ := f.PullRequest("octo-org", "catalog", n); got.State != "closed" || got.Author != "alice" {
		t.Errorf("after ClosePR: %+v", got)
	}
}

func TestMergePull(t *testing.T) {
	f, c := setupRepo(t)
	ctx := context.Background()
	head := f.Commit("octo-org", "catalog", "b", map[string][]byte{"runs/1.json": []byte("{}"), "README.md": nil})
	f.Commit("octo-org", "catalog", "main", map[string][]byte{"other.txt": []byte("o")}) // main moves on
	n := f.OpenPullRequest("octo-org", "catalog", "alice", "b", "main", "Run 1", "")
	merge := func(sha string) (*github.PullRequestMergeResult, error) {
		res, _, err := c.PullRequests.Merge(ctx, "octo-org", "catalog", n, "", &github.PullRequestOptions{SHA: sha, CommitTitle: "pier: run 1"})
		return res, err
	}

	_, err := merge(strings.Repeat("0", 40))
	if code, msg := ghStatus(err); code != 409 || msg != "Head branch was modified. Review and try the merge again." {
		t.Errorf("stale sha: %v", err)
	}
	res, err := merge(head)
	if err != nil || !res.GetMerged() || res.GetMessage() != "Pull Request successfully merged" {
		t.Fatalf("merge: %+v %v", res, err)
	}
	main, _ := f.Branch("octo-org", "catalog", "main")
	if res.GetSHA() != main {
		t.Errorf("merge commit %s, main at %s", res.GetSHA(), main)
	}
	for path, want := range map[string]string{"runs/1.json": "{}", "other.txt": "o", "README.md": ""} {
		if b, _ := f.File("octo-org", "catalog", "main", path); string(b) != want {
			t.Errorf("main:%s = %q, want %q", path, b, want)
		}
	}
	pr, _, _ := c.PullRequests.Get(ctx, "octo-org", "catalog", n)
	if !pr.GetMerged() || pr.GetState() != "closed" || pr.GetMergeCommitSHA() != main || pr.GetMergedBy().GetLogin() != "octocat" || pr.GetChangedFiles() != 2 {
		t.Errorf("merged pull request %+v", pr)
	}
	if _, err := merge(head); !is(err, 405) {
		t.Errorf("merging again: %v", err)
	}
	// The files of a merged pull request are still what it changed.
	files, _, err := c.PullRequests.ListFiles(ctx, "octo-org", "catalog", n, nil)
	if err != nil || len(files) != 2 || files[0].GetFilename() != "README.md" || files[0].GetStatus() != "removed" || files[1].GetStatus() != "added" {
		t.Errorf("files %v %v", files, err)
	}

	// Closed, or in conflict: not mergeable.
	f.Commit("octo-org", "catalog", "c", map[string][]byte{"other.txt": []byte("mine")})
	f.Commit("octo-org", "catalog", "main", map[string][]byte{"other.txt": []byte("theirs")})
	n = f.OpenPullRequest("octo-org", "catalog", "alice", "c", "main", "conflict", "")
	if pr, _, _ := c.PullRequests.Get(ctx, "octo-org", "catalog", n); pr.GetMergeable() || pr.GetMergeableState() != "dirty" {
		t.Errorf("conflicting pull request: mergeable %v %s", pr.GetMergeable(), pr.GetMergeableState())
	}
	if _, err := merge(""); !is(err, 405) {
		t.Errorf("conflict: %v", err)
	}
	f.ClosePR("octo-org", "catalog", n)
	if _, err := merge(""); !is(err, 405) {
		t.Errorf("closed: %v", err)
	}
}

func TestPullFilesPagination(t *testing.T) {
	f, c := setupRepo(t)
	files := map[string][]byte{"README.md": []byte("# catalog\nmore\n")}
	for i := range 4 {
		files[fmt.Sprintf("runs/%d.json", i)] = []byte("a\nb\n")
	}
	f.Commit("octo-org", "catalog", "b", files)
	n := f.OpenPullRequest("octo-org", "catalog", "alice", "b", "main", "t", "")

	var got []string
	opts := &github.ListOptions{PerPage: 2}
	for pages := 1; ; pages++ {
		page, resp, err := c.PullRequests.ListFiles(context.Background(), "octo-org", "catalog", n, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page {
			got = append(got, fmt.Sprintf("%s:%s:+%d-%d", f.GetFilename(), f.GetStatus(), f.GetAdditions(), f.GetDeletions()))
		}
		if resp.NextPage == 0 {
			if pages != 3 {
				t.Errorf("%d pages, want 3", pages)
			}
			break
		}
		opts.Page = resp.NextPage
	}
	want := "README.md:modified:+1-0 runs/0.json:added:+2-0 runs/1.json:added:+2-0 runs/2.json:added:+2-0 runs/3.json:added:+2-0"
	if strings.Join(got, " ") != want {
		t.Errorf("files\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestReviewRequestsAndComments(t *testing.T) {
	f, c := setupRepo(t)
	ctx := context.Background()
	f.Commit("octo-org", "catalog", "b", map[string][]byte{"x": []byte("x")})
	n := f.OpenPullRequest("octo-org", "catalog", "octocat", "b", "main", "t", "")

	pr, resp, err := c.PullRequests.RequestReviewers(ctx, "octo-org", "catalog", n, github.ReviewersRequest{
		Reviewers: []string{"alice", "bob"}, TeamReviewers: []string{"platform"}})
	if err != nil || resp.StatusCode != 201 || len(pr.RequestedReviewers) != 2 || pr.RequestedTeams[0].GetSlug() != "platform" {
		t.Fatalf("RequestReviewers: %+v %v", pr, err)
	}
	_, _, err = c.PullRequests.RequestReviewers(ctx, "octo-org", "catalog", n, github.ReviewersRequest{Reviewers: []string{"OctoCat"}})
	if code, msg := ghStatus(err); code != 422 || msg != "Review cannot be requested from pull request author." {
		t.Errorf("author: %v", err)
	}
	f.Review("octo-org", "catalog", n, "Alice", "APPROVED") // answers the request
	reviewers, _, err := c.PullRequests.ListReviewers(ctx, "octo-org", "catalog", n, nil)
	if err != nil || len(reviewers.Users) != 1 || reviewers.Users[0].GetLogin() != "bob" || len(reviewers.Teams) != 1 {
		t.Errorf("ListReviewers: %+v %v", reviewers, err)
	}

	comment, resp, err := c.Issues.CreateComment(ctx, "octo-org", "catalog", n, &github.IssueComment{Body: github.String("Dispatched run 1.")})
	if err != nil || resp.StatusCode != 201 || comment.GetBody() != "Dispatched run 1." || comment.GetUser().GetLogin() != "octocat" ||
		!strings.HasPrefix(comment.GetHTMLURL(), "https://github.com/octo-org/catalog/pull/1#issuecomment-") {
		t.Errorf("CreateComment: %+v %v", comment, err)
	}
	if code, _, got := post(t, f, fmt.Sprintf("/repos/octo-org/catalog/issues/%d/comments", n), `{}`); code != 422 || got["message"] != "Invalid request.\n\n\"body\" wasn't supplied." {
		t.Errorf("no body: %d %v", code, got)
	}
	if code, _, _ := post(t, f, "/repos/octo-org/catalog/issues/99/comments", `{"body":"x"}`); code != 404 {
		t.Errorf("unknown issue: %d", code)
	}
	got, _ := f.PullRequest("octo-org", "catalog", n)
	if fmt.Sprint(got.RequestedReviewers, got.RequestedTeams, got.Comments) != "[bob] [platform] [Dispatched run 1.]" {
		t.Errorf("snapshot %+v", got)
	}
}

func TestReviews(t *testing.T) {
	f, c := setupRepo(t)
	ctx := context.Background()
	first := f.Commit("octo-org", "catalog", "b", map[string][]byte{"x": []byte("1")})
	n := f.OpenPullRequest("octo-org", "catalog", "alice", "b", "main", "t", "")
	var ids []int64
	for _, r := range []struct{ user, state string }{
		{"bob", "APPROVED"}, {"carol", "CHANGES_REQUESTED"}, {"alice", "COMMENTED"}, {"dave", "COMMENTED"}, {"erin", "APPROVED"},
	} {
		ids = append(ids, f.Review("octo-org", "catalog", n, r.user, r.state))
	}
	f.DismissReview("octo-org", "catalog", n, ids[1])
	second := f.Commit("octo-org", "catalog", "b", map[string][]byte{"x": []byte("2")}) // a push: the head moves
	ids = append(ids, f.Review("octo-org", "catalog", n, "bob", "APPROVED"))
	ids = append(ids, f.ReviewOn("octo-org", "catalog", n, "frank", "APPROVED", first))
	if pr, _ := f.PullRequest("octo-org", "catalog", n); pr.HeadSHA != second {
		t.Fatalf("head %s, want %s", pr.HeadSHA, second)
	}

	var got []string
	var pages int
	opts := &github.ListOptions{PerPage: 3}
	for {
		page, resp, err := c.PullRequests.ListReviews(ctx, "octo-org", "catalog", n, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range page {
			on := map[string]string{first: "first", second: "second"}[r.GetCommitID()]
			got = append(got, fmt.Sprintf("%d:%s:%s:%s", r.GetID(), r.GetUser().GetLogin(), r.GetState(), on))
			if r.SubmittedAt == nil || !strings.Contains(r.GetHTMLURL(), "#pullrequestreview-") {
				t.Errorf("review %+v", r)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	want := fmt.Sprintf("%d:bob:APPROVED:first %d:carol:DISMISSED:first %d:alice:COMMENTED:first %d:dave:COMMENTED:first %d:erin:APPROVED:first %d:bob:APPROVED:second %d:frank:APPROVED:first",
		ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[6])
	if strings.Join(got, " ") != want || pages != 3 {
		t.Errorf("reviews in %d pages\n got %s\nwant %s", pages, strings.Join(got, " "), want)
	}
	if !slices.IsSorted(ids) {
		t.Errorf("ids %v not increasing", ids)
	}
	// Default page size: all of them, no Link.
	all, resp, _ := c.PullRequests.ListReviews(ctx, "octo-org", "catalog", n, nil)
	if len(all) != 7 || resp.Header.Get("Link") != "" {
		t.Errorf("default page: %d reviews, Link %q", len(all), resp.Header.Get("Link"))
	}
}

func TestReviewHelperRefusesWhatGitHubRefuses(t *testing.T) {
	f, _ := setupRepo(t)
	f.Commit("octo-org", "catalog", "b", map[string][]byte{"x": []byte("x")})
	n := f.OpenPullRequest("octo-org", "catalog", "alice", "b", "main", "t", "")
	for _, tc := range []struct{ user, state string }{{"alice", "APPROVED"}, {"bob", "LGTM"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s %s: no panic", tc.user, tc.state)
				}
			}()
			f.Review("octo-org", "catalog", n, tc.user, tc.state)
		}()
	}
}

func TestTeamMembership(t *testing.T) {
	f := New()
	defer f.Close()
	f.AddTeamMember("octo-org", "platform", "alice", "active")
	f.AddTeamMember("octo-org", "platform", "bob", "pending")
	c := client(t, f, "")
	for _, tc := range []struct {
		team, user string
		code       int
		state      string
	}{
		{"platform", "alice", 200, "active"},
		{"Platform", "ALICE", 200, "active"},
		{"platform", "bob", 200, "pending"},
		{"platform", "carol", 404, ""},
		{"other", "alice", 404, ""},
	} {
		m, resp, _ := c.Teams.GetTeamMembershipBySlug(context.Background(), "octo-org", tc.team, tc.user)
		if resp.StatusCode != tc.code || m.GetState() != tc.state || (m != nil && m.GetRole() != "member") {
			t.Errorf("%s/%s: %d %+v", tc.team, tc.user, resp.StatusCode, m)
		}
	}
	code, _, got := call(t, f, http.MethodGet, "/orgs/octo-org/teams/platform/memberships/alice", "")
	if code != 200 || got["url"] != f.URL()+"/orgs/octo-org/teams/platform/memberships/alice" || len(got) != 3 {
		t.Errorf("shape %v", got)
	}
}

func TestConcurrentHelpersAndAPI(t *testing.T) {
	f, c := setupRepo(t)
	f.AddWorkflow("octo-org", "catalog", "deploy.yml")
	ctx := context.Background()
	done := make(chan struct{})
	for i := range 10 {
		go func() {
			defer func() { done <- struct{}{} }()
			branch := fmt.Sprint("b", i)
			f.Commit("octo-org", "catalog", branch, map[string][]byte{branch: []byte("x")})
			n := f.OpenPullRequest("octo-org", "catalog", "alice", branch, "main", branch, "")
			f.Review("octo-org", "catalog", n, "bob", "APPROVED")
			if _, _, err := c.PullRequests.Get(ctx, "octo-org", "catalog", n); err != nil {
				t.Error(err)
			}
			if _, err := c.Actions.CreateWorkflowDispatchEventByFileName(ctx, "octo-org", "catalog", "deploy.yml",
				github.CreateWorkflowDispatchEventRequest{Ref: "main"}); err != nil {
				t.Error(err)
			}
			f.Commit("octo-org", "catalog", "main", map[string][]byte{branch: []byte("y")})
		}()
	}
	for range 10 {
		<-done
	}
	if n := len(f.Dispatches("octo-org", "catalog")); n != 10 {
		t.Errorf("%d dispatches", n)
	}
	if pr, ok := f.PullRequest("octo-org", "catalog", 10); !ok || pr.Number != 10 {
		t.Errorf("pull request 10: %+v", pr)
	}
}
