package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	gogithub "github.com/google/go-github/v62/github"
)

// BranchHead returns the commit at the head of branch; ErrNotFound when
// there is no such branch.
//
// GitHub API docs: https://docs.github.com/rest/git/refs#get-a-reference
func (c *Client) BranchHead(ctx context.Context, owner, repo, branch string) (sha string, err error) {
	if branch == "" {
		return "", fmt.Errorf("get branch of %s/%s: %w", owner, repo, errors.New("no branch name"))
	}
	ref, _, err := c.gh.Git.GetRef(ctx, owner, repo, "refs/heads/"+branch)
	if err != nil {
		return "", fmt.Errorf("get branch %s of %s/%s: %w", branch, owner, repo, notFound(err))
	}
	return ref.GetObject().GetSHA(), nil
}

// CreateBranch creates branch at the commit fromSHA; ErrExists when the
// branch is already there (wherever it points: the caller decides whether
// that is its own earlier attempt).
//
// GitHub API docs: https://docs.github.com/rest/git/refs#create-a-reference
func (c *Client) CreateBranch(ctx context.Context, owner, repo, branch, fromSHA string) error {
	ref := &gogithub.Reference{
		Ref:    gogithub.String("refs/heads/" + branch),
		Object: &gogithub.GitObject{SHA: &fromSHA},
	}
	_, _, err := c.gh.Git.CreateRef(ctx, owner, repo, ref)
	if answered(err, http.StatusUnprocessableEntity, "Reference already exists") {
		err = &kindError{kind: ErrExists, err: err}
	}
	if err != nil {
		return fmt.Errorf("create branch %s of %s/%s at %s: %w", branch, owner, repo, shortSHA(fromSHA), notFound(err))
	}
	return nil
}

// DeleteBranch deletes branch. A branch that is not there is not an
// error: deleting is how pier cleans up, and a retry, or a person, may
// have been first.
//
// GitHub API docs: https://docs.github.com/rest/git/refs#delete-a-reference
func (c *Client) DeleteBranch(ctx context.Context, owner, repo, branch string) error {
	if branch == "" {
		return fmt.Errorf("delete branch of %s/%s: %w", owner, repo, errors.New("no branch name"))
	}
	_, err := c.gh.Git.DeleteRef(ctx, owner, repo, "refs/heads/"+branch)
	if err != nil && !answered(err, http.StatusUnprocessableEntity, "Reference does not exist") {
		return fmt.Errorf("delete branch %s of %s/%s: %w", branch, owner, repo, notFound(err))
	}
	return nil
}

// MoveBranch points branch at sha, force-pushing when sha does not descend
// from the branch's head: how pier puts back a branch of its own that
// someone else pushed to.
//
// GitHub API docs: https://docs.github.com/rest/git/refs#update-a-reference
func (c *Client) MoveBranch(ctx context.Context, owner, repo, branch, sha string) error {
	ref := &gogithub.Reference{
		Ref:    gogithub.String("refs/heads/" + branch),
		Object: &gogithub.GitObject{SHA: &sha},
	}
	if _, _, err := c.gh.Git.UpdateRef(ctx, owner, repo, ref, true); err != nil {
		return fmt.Errorf("move branch %s of %s/%s to %s: %w", branch, owner, repo, shortSHA(sha), notFound(err))
	}
	return nil
}

// activity is one entry of GitHub's repository activity.
type activity struct {
	After        string         `json:"after"`
	ActivityType string         `json:"activity_type"`
	Actor        *gogithub.User `json:"actor"`
}

// Pushers returns the GitHub logins behind commit sha at the head of
// branch: whoever pushed it there (the repository's activity, which names
// the account that made the push) and the accounts linked to the
// commit's author and committer. The commit's own fields alone could be
// forged — git lets anyone write any author — and the activity alone may
// not list a push yet; together they name everyone who may be the last
// pusher. A server without the activity API (an older GitHub Enterprise
// Server answers 404) is read from the commit alone.
//
// GitHub API docs: https://docs.github.com/rest/repos/repos#list-repository-activities,
// https://docs.github.com/rest/commits/commits#get-a-commit
func (c *Client) Pushers(ctx context.Context, owner, repo, branch, sha string) ([]string, error) {
	var logins []string
	add := func(u *gogithub.User) {
		if l := u.GetLogin(); l != "" && !slices.ContainsFunc(logins, func(x string) bool { return strings.EqualFold(x, l) }) {
			logins = append(logins, l)
		}
	}
	u := fmt.Sprintf("repos/%s/%s/activity?ref=%s&per_page=100", url.PathEscape(owner), url.PathEscape(repo), url.QueryEscape("refs/heads/"+branch))
	req, err := c.gh.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	var acts []activity
	if _, err := c.gh.Do(ctx, req, &acts); err != nil && statusCode(err) != http.StatusNotFound {
		return nil, fmt.Errorf("list activity of %s in %s/%s: %w", branch, owner, repo, err)
	}
	for _, a := range acts {
		if strings.EqualFold(a.After, sha) && a.ActivityType != "branch_deletion" {
			add(a.Actor)
		}
	}
	commit, _, err := c.gh.Repositories.GetCommit(ctx, owner, repo, sha, nil)
	if err != nil {
		return nil, fmt.Errorf("get commit %s of %s/%s: %w", shortSHA(sha), owner, repo, notFound(err))
	}
	add(commit.GetAuthor())
	add(commit.GetCommitter())
	slices.SortFunc(logins, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return logins, nil
}
