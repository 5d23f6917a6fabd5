package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"

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
