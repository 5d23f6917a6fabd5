package githubfake

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v62/github"
)

// setupRepo starts a fake with octo-org/catalog and a go-github client.
func setupRepo(t *testing.T) (*Fake, *github.Client) {
	t.Helper()
	f := New()
	t.Cleanup(f.Close)
	f.AddRepo("octo-org", "catalog")
	return f, client(t, f, "")
}

// ghStatus returns the status and message of a go-github error, or 0.
func ghStatus(err error) (int, string) {
	var e *github.ErrorResponse
	if !errors.As(err, &e) {
		return 0, ""
	}
	return e.Response.StatusCode, e.Message
}

func TestAddRepoCreatesMain(t *testing.T) {
	f, _ := setupRepo(t)
	sha, ok := f.Branch("octo-org", "catalog", "main")
	if !ok || !isSHA(sha) {
		t.Fatalf("main = %q, %v", sha, ok)
	}
	if b, ok := f.File("octo-org", "catalog", "main", "README.md"); !ok || string(b) != "# catalog\n" {
		t.Errorf("README.md = %q, %v", b, ok)
	}
	f.Commit("octo-org", "catalog", "main", map[string][]byte{"a": []byte("a")})
	f.AddRepo("octo-org", "catalog") // again: nothing is reset
	if got, _ := f.Branch("octo-org", "catalog", "main"); got == sha {
		t.Error("AddRepo reset main")
	}
}

func TestRefs(t *testing.T) {
	f, c := setupRepo(t)
	ctx := context.Background()
	main, _ := f.Branch("octo-org", "catalog", "main")
	newRef := func(branch, sha string) error {
		_, _, err := c.Git.CreateRef(ctx, "octo-org", "catalog", &github.Reference{
			Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: github.String(sha)}})
		return err
	}

	ref, _, err := c.Git.GetRef(ctx, "octo-org", "catalog", "refs/heads/main")
	if err != nil || ref.GetRef() != "refs/heads/main" || ref.GetObject().GetSHA() != main || ref.GetObject().GetType() != "commit" {
		t.Fatalf("GetRef main: %v %v", ref, err)
	}
	for _, tc := range []struct {
		name, branch, sha string
		code              int
		message           string
	}{
		{"new", "pier/run-1", main, 0, ""},
		{"slash in name", "feature/x/y", main, 0, ""},
		{"exists", "pier/run-1", main, 422, "Reference already exists"},
		{"unknown commit", "other", sha, 422, "Object does not exist"},
	} {
		code, msg := ghStatus(newRef(tc.branch, tc.sha))
		if code != tc.code || msg != tc.message {
			t.Errorf("%s: %d %q, want %d %q", tc.name, code, msg, tc.code, tc.message)
		}
	}
	if got, ok := f.Branch("octo-org", "catalog", "feature/x/y"); !ok || got != main {
		t.Errorf("feature/x/y = %q %v", got, ok)
	}
	if _, _, err := c.Git.GetRef(ctx, "octo-org", "catalog", "refs/heads/nope"); !is(err, 404) {
		t.Errorf("missing branch: %v", err)
	}
	if _, _, err := c.Git.GetRef(ctx, "octo-org", "missing", "refs/heads/main"); !is(err, 404) {
		t.Errorf("missing repository: %v", err)
	}

	resp, err := c.Git.DeleteRef(ctx, "octo-org", "catalog", "refs/heads/feature/x/y")
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("DeleteRef: %v", err)
	}
	_, err = c.Git.DeleteRef(ctx, "octo-org", "catalog", "refs/heads/feature/x/y")
	if code, msg := ghStatus(err); code != 422 || msg != "Reference does not exist" {
		t.Errorf("deleting again: %v", err)
	}

	// Raw mistakes.
	for _, tc := range []struct {
		body    string
		code    int
		message string
	}{
		{`{"sha":"` + main + `"}`, 422, "Invalid request.\n\n\"ref\" wasn't supplied."},
		{`{"ref":"refs/heads/z"}`, 422, "Invalid request.\n\n\"sha\" wasn't supplied."},
		{`{"ref":"z","sha":"` + main + `"}`, 422, "Reference name must start with 'refs/' and have at least two slashes."},
		{`{"ref":`, 400, "Problems parsing JSON"},
	} {
		if code, _, got := post(t, f, "/repos/octo-org/catalog/git/refs", tc.body); code != tc.code || got["message"] != tc.message {
			t.Errorf("%s: %d %v", tc.body, code, got["message"])
		}
	}
}

func TestDeleteBranchClosesPullRequests(t *testing.T) {
	f, c := setupRepo(t)
	f.Commit("octo-org", "catalog", "feature", map[string][]byte{"x": []byte("x")})
	n := f.OpenPullRequest("octo-org", "catalog", "alice", "feature", "main", "t", "")
	if _, err := c.Git.DeleteRef(context.Background(), "octo-org", "catalog", "refs/heads/feature"); err != nil {
		t.Fatal(err)
	}
	if pr, _ := f.PullRequest("octo-org", "catalog", n); pr.State != "closed" || pr.Merged {
		t.Errorf("pull request %+v", pr)
	}
}

func TestContents(t *testing.T) {
	f, c := setupRepo(t)
	ctx := context.Background()
	main, _ := f.Branch("octo-org", "catalog", "main")
	f.Commit("octo-org", "catalog", "run", nil)
	long := strings.Repeat("entity: service\n", 20) // base64 over several lines

	put := func(path, branch, sha, content string) (*github.RepositoryContentResponse, *github.Response, error) {
		opts := &github.RepositoryContentFileOptions{Message: github.String("add " + path), Content: []byte(content), Branch: github.String(branch)}
		if sha != "" {
			opts.SHA = &sha
		}
		return c.Repositories.CreateFile(ctx, "octo-org", "catalog", path, opts)
	}
	res, resp, err := put("runs/1.json", "run", "", long)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v", err)
	}
	head, _ := f.Branch("octo-org", "catalog", "run")
	if res.Commit.GetSHA() != head || len(res.Commit.Parents) != 1 || res.Commit.GetMessage() != "add runs/1.json" {
		t.Errorf("commit %+v, branch at %s", res.Commit, head)
	}
	if res.Content.GetPath() != "runs/1.json" || res.Content.GetName() != "1.json" || res.Content.GetSHA() != blobSHA([]byte(long)) || res.Content.Content != nil {
		t.Errorf("content %+v", res.Content)
	}
	if got, _ := f.Branch("octo-org", "catalog", "main"); got != main {
		t.Error("main moved")
	}

	file, _, _, err := c.Repositories.GetContents(ctx, "octo-org", "catalog", "runs/1.json", &github.RepositoryContentGetOptions{Ref: "run"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := file.GetContent(); err != nil || got != long || file.GetEncoding() != "base64" || file.GetType() != "file" || !strings.Contains(*file.Content, "\n") {
		t.Errorf("GetContents = %q, %v", got, err)
	}

	for _, tc := range []struct {
		name, path, branch, sha string
		code                    int
		message                 string
	}{
		{"exists without sha", "runs/1.json", "run", "", 422, "Invalid request.\n\n\"sha\" wasn't supplied."},
		{"stale sha", "runs/1.json", "run", blobSHA([]byte("old")), 409, "runs/1.json does not match " + blobSHA([]byte("old"))},
		{"unknown branch", "x", "nope", "", 404, "Branch nope not found"},
		{"update", "runs/1.json", "run", file.GetSHA(), 200, ""},
	} {
		_, resp, err := put(tc.path, tc.branch, tc.sha, "new")
		if code, msg := ghStatus(err); resp.StatusCode != tc.code || msg != tc.message {
			t.Errorf("%s: %d %q, want %d %q", tc.name, code, msg, tc.code, tc.message)
		}
	}
	if b, _ := f.File("octo-org", "catalog", "run", "runs/1.json"); string(b) != "new" {
		t.Errorf("after update: %q", b)
	}
	if _, ok := f.File("octo-org", "catalog", main, "runs/1.json"); ok {
		t.Error("file on main's commit")
	}

	for _, tc := range []struct{ name, path, ref, message string }{
		{"missing file", "nope", "run", "Not Found"},
		{"unknown ref", "runs/1.json", "nope", "No commit found for the ref nope"},
		{"default branch", "runs/1.json", "", "Not Found"},
	} {
		_, _, _, err := c.Repositories.GetContents(ctx, "octo-org", "catalog", tc.path, &github.RepositoryContentGetOptions{Ref: tc.ref})
		if code, msg := ghStatus(err); code != 404 || msg != tc.message {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// By commit SHA, and mistakes in the body.
	if _, _, _, err := c.Repositories.GetContents(ctx, "octo-org", "catalog", "README.md", &github.RepositoryContentGetOptions{Ref: main}); err != nil {
		t.Errorf("by SHA: %v", err)
	}
	for body, message := range map[string]string{
		`{"content":"eA=="}`:               "Invalid request.\n\n\"message\" wasn't supplied.",
		`{"message":"m"}`:                  "Invalid request.\n\n\"content\" wasn't supplied.",
		`{"message":"m","content":"%%%"}`:  "content is not valid Base64",
		`{"message":"m","content":"eA=="}`: "", // to main, created
	} {
		code, _, got := call(t, f, http.MethodPut, "/repos/octo-org/catalog/contents/new.txt", body)
		if message == "" {
			if code != 201 {
				t.Errorf("%s: %d %v", body, code, got)
			}
		} else if code != 422 || got["message"] != message {
			t.Errorf("%s: %d %v", body, code, got["message"])
		}
	}
	if b, _ := f.File("octo-org", "catalog", "main", "new.txt"); string(b) != "x" {
		t.Errorf("new.txt on main = %q", b)
	}
}

func TestCommitHelper(t *testing.T) {
	f, _ := setupRepo(t)
	main, _ := f.Branch("octo-org", "catalog", "main")
	sha := f.Commit("octo-org", "catalog", "feature", map[string][]byte{"a.txt": []byte("a"), "README.md": nil})
	if got, _ := f.Branch("octo-org", "catalog", "feature"); got != sha || sha == main {
		t.Errorf("feature at %s, commit %s", got, sha)
	}
	if _, ok := f.File("octo-org", "catalog", "feature", "README.md"); ok {
		t.Error("README.md not deleted")
	}
	if _, ok := f.File("octo-org", "catalog", "main", "README.md"); !ok {
		t.Error("README.md deleted on main")
	}
	if b, ok := f.File("octo-org", "catalog", sha, "a.txt"); !ok || string(b) != "a" {
		t.Errorf("a.txt at %s = %q", sha, b)
	}
}

// is reports whether err is a go-github error with status code.
func is(err error, code int) bool {
	c, _ := ghStatus(err)
	return c == code
}

// Who pushed what is what the last-pusher rule reads: the repository's
// activity (the actor of each push) and a commit's linked accounts.
func TestPushesActivityAndCommits(t *testing.T) {
	f, c := setupRepo(t)
	ctx := context.Background()
	main, _ := f.Branch("octo-org", "catalog", "main")
	first := f.Push("octo-org", "catalog", "feature", "bob", map[string][]byte{"a": []byte("1")})
	second := f.Push("octo-org", "catalog", "feature", "carol", map[string][]byte{"a": []byte("2")})
	anon := f.Commit("octo-org", "catalog", "feature", map[string][]byte{"a": []byte("3")})

	// Back to first: not a fast forward, so it needs force.
	_, _, err := c.Git.UpdateRef(ctx, "octo-org", "catalog", &github.Reference{
		Ref: github.String("refs/heads/feature"), Object: &github.GitObject{SHA: github.String(first)}}, false)
	if code, msg := ghStatus(err); code != 422 || msg != "Update is not a fast forward" {
		t.Fatalf("update without force: %v", err)
	}
	if _, _, err := c.Git.UpdateRef(ctx, "octo-org", "catalog", &github.Reference{
		Ref: github.String("refs/heads/feature"), Object: &github.GitObject{SHA: github.String(first)}}, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Branch("octo-org", "catalog", "feature"); got != first {
		t.Fatalf("feature at %s after a forced update to %s", got, first)
	}

	type act struct{ typ, before, after, actor string }
	list := func(query string) []act {
		t.Helper()
		req, _ := c.NewRequest("GET", "repos/octo-org/catalog/activity?"+query, nil)
		var got []struct {
			Before, After string
			Ref           string
			ActivityType  string `json:"activity_type"`
			Actor         *github.User
		}
		if _, err := c.Do(ctx, req, &got); err != nil {
			t.Fatal(err)
		}
		var out []act
		for _, a := range got {
			if a.Ref != "refs/heads/feature" {
				t.Errorf("ref %q for ref=feature", a.Ref)
			}
			out = append(out, act{a.ActivityType, a.Before, a.After, a.Actor.GetLogin()})
		}
		return out
	}
	want := []act{
		{"force_push", anon, first, "octocat"},
		{"push", second, anon, ""},
		{"push", first, second, "carol"},
		{"push", main, first, "bob"},
		{"branch_creation", zeroSHA, main, "bob"},
	}
	if got := list("ref=feature"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("activity, newest first:\n got %v\nwant %v", got, want)
	}
	if got := list("ref=refs/heads/feature&activity_type=push&actor=CAROL"); fmt.Sprint(got) != fmt.Sprint(want[2:3]) {
		t.Errorf("filtered: %v", got)
	}

	for _, tc := range []struct{ sha, author string }{{first, "bob"}, {second, "carol"}, {anon, ""}} {
		got, _, err := c.Repositories.GetCommit(ctx, "octo-org", "catalog", tc.sha, nil)
		if err != nil || got.GetSHA() != tc.sha || got.GetAuthor().GetLogin() != tc.author || got.GetCommitter().GetLogin() != tc.author {
			t.Errorf("commit %s: %v, %v; want author %q", tc.sha, got, err, tc.author)
		}
	}
	if _, _, err := c.Repositories.GetCommit(ctx, "octo-org", "catalog", "feature", nil); err != nil {
		t.Errorf("commit by branch name: %v", err)
	}
	if _, _, err := c.Repositories.GetCommit(ctx, "octo-org", "catalog", "0123456789012345678901234567890123456789", nil); !is(err, 422) {
		t.Errorf("unknown commit: %v", err)
	}
}
