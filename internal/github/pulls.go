package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	gogithub "github.com/google/go-github/v62/github"
)

// PullRequest is what pier reads of a pull request.
type PullRequest struct {
	Number               int
	State                string // open or closed
	Merged               bool
	Title                string
	Body                 string
	HTMLURL              string
	HeadRef              string // the branch with the changes
	HeadSHA              string // its commit: what reviews must be on
	HeadOwner, HeadRepo  string // the repository of HeadRef: a fork's, or the base's
	BaseRef              string // the branch it merges into
	Author               string // the login of who opened it
	CreatedAt, UpdatedAt time.Time
}

// NewPullRequest is a pull request to open from the branch Head into
// Base.
type NewPullRequest struct {
	Title, Body, Head, Base string
}

// PullRequestFile is a file a pull request changes.
type PullRequestFile struct {
	Filename string
	Status   string // added, modified, removed, renamed, copied, changed or unchanged
}

func pullRequest(pr *gogithub.PullRequest) PullRequest {
	return PullRequest{
		Number: pr.GetNumber(),
		State:  pr.GetState(),
		// List endpoints and webhooks leave merged out; merged_at is
		// always there.
		Merged:    pr.GetMerged() || pr.MergedAt != nil,
		Title:     pr.GetTitle(),
		Body:      pr.GetBody(),
		HTMLURL:   pr.GetHTMLURL(),
		HeadRef:   pr.GetHead().GetRef(),
		HeadSHA:   pr.GetHead().GetSHA(),
		HeadOwner: pr.GetHead().GetRepo().GetOwner().GetLogin(),
		HeadRepo:  pr.GetHead().GetRepo().GetName(),
		BaseRef:   pr.GetBase().GetRef(),
		Author:    pr.GetUser().GetLogin(),
		CreatedAt: pr.GetCreatedAt().Time,
		UpdatedAt: pr.GetUpdatedAt().Time,
	}
}

// CreatePullRequest opens a pull request as the token's user. If one is
// already open from pr.Head into pr.Base, the error matches ErrExists.
//
// GitHub API docs: https://docs.github.com/rest/pulls/pulls#create-a-pull-request
func (c *Client) CreatePullRequest(ctx context.Context, owner, repo string, pr NewPullRequest) (PullRequest, error) {
	created, _, err := c.gh.PullRequests.Create(ctx, owner, repo, &gogithub.NewPullRequest{
		Title: &pr.Title, Body: &pr.Body, Head: &pr.Head, Base: &pr.Base,
	})
	if answered(err, http.StatusUnprocessableEntity, "A pull request already exists") {
		err = &kindError{kind: ErrExists, err: err}
	}
	if err != nil {
		return PullRequest{}, fmt.Errorf("create pull request from %s on %s/%s: %w", pr.Head, owner, repo, notFound(err))
	}
	return pullRequest(created), nil
}

// PullRequest returns pull request number; ErrNotFound if there is none.
//
// GitHub API docs: https://docs.github.com/rest/pulls/pulls#get-a-pull-request
func (c *Client) PullRequest(ctx context.Context, owner, repo string, number int) (PullRequest, error) {
	pr, _, err := c.gh.PullRequests.Get(ctx, owner, repo, number)
	if err != nil {
		return PullRequest{}, fmt.Errorf("get pull request %s/%s#%d: %w", owner, repo, number, notFound(err))
	}
	return pullRequest(pr), nil
}

// OpenPullRequestFrom returns the open pull request whose head is branch
// of owner/repo; ErrNotFound if there is none. It finds a pull request
// that was created when the answer saying so was lost.
//
// GitHub API docs: https://docs.github.com/rest/pulls/pulls#list-pull-requests
func (c *Client) OpenPullRequestFrom(ctx context.Context, owner, repo, branch string) (PullRequest, error) {
	list, _, err := c.gh.PullRequests.List(ctx, owner, repo, &gogithub.PullRequestListOptions{State: "open", Head: owner + ":" + branch})
	if err != nil {
		return PullRequest{}, fmt.Errorf("list pull requests from %s on %s/%s: %w", branch, owner, repo, notFound(err))
	}
	if len(list) == 0 {
		return PullRequest{}, fmt.Errorf("no open pull request from %s on %s/%s: %w", branch, owner, repo, ErrNotFound)
	}
	return pullRequest(list[0]), nil
}

// PullRequestFiles returns every file pull request number changes, all
// pages of them (GitHub lists at most 3,000).
//
// GitHub API docs: https://docs.github.com/rest/pulls/pulls#list-pull-requests-files
func (c *Client) PullRequestFiles(ctx context.Context, owner, repo string, number int) ([]PullRequestFile, error) {
	var out []PullRequestFile
	opts := &gogithub.ListOptions{PerPage: 100}
	for {
		files, resp, err := c.gh.PullRequests.ListFiles(ctx, owner, repo, number, opts)
		if err != nil {
			return nil, fmt.Errorf("list files of pull request %s/%s#%d: %w", owner, repo, number, notFound(err))
		}
		for _, f := range files {
			out = append(out, PullRequestFile{Filename: f.GetFilename(), Status: f.GetStatus()})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// ClosePullRequest closes pull request number without merging it.
//
// GitHub API docs: https://docs.github.com/rest/pulls/pulls#update-a-pull-request
func (c *Client) ClosePullRequest(ctx context.Context, owner, repo string, number int) error {
	_, _, err := c.gh.PullRequests.Edit(ctx, owner, repo, number, &gogithub.PullRequest{State: gogithub.String("closed")})
	if err != nil {
		return fmt.Errorf("close pull request %s/%s#%d: %w", owner, repo, number, notFound(err))
	}
	return nil
}

// MergePullRequest merges pull request number with a merge commit titled
// commitTitle (GitHub's default title if empty), provided its head is
// still sha: approvals were checked on that commit, and GitHub answers
// 409 rather than merge one pushed since.
//
// GitHub API docs: https://docs.github.com/rest/pulls/pulls#merge-a-pull-request
func (c *Client) MergePullRequest(ctx context.Context, owner, repo string, number int, sha, commitTitle string) error {
	if sha == "" {
		return fmt.Errorf("merge pull request %s/%s#%d: %w", owner, repo, number, errors.New("no head commit to merge"))
	}
	res, _, err := c.gh.PullRequests.Merge(ctx, owner, repo, number, "", &gogithub.PullRequestOptions{CommitTitle: commitTitle, SHA: sha})
	if err == nil && !res.GetMerged() {
		err = fmt.Errorf("not merged: %s", res.GetMessage())
	}
	if err != nil {
		return fmt.Errorf("merge pull request %s/%s#%d at %s: %w", owner, repo, number, shortSHA(sha), notFound(err))
	}
	return nil
}

// RequestReviewers asks users (logins) and teams (slugs) to review pull
// request number. Asking nobody sends nothing.
//
// GitHub API docs: https://docs.github.com/rest/pulls/review-requests#request-reviewers-for-a-pull-request
func (c *Client) RequestReviewers(ctx context.Context, owner, repo string, number int, users, teams []string) error {
	if len(users) == 0 && len(teams) == 0 {
		return nil
	}
	_, _, err := c.gh.PullRequests.RequestReviewers(ctx, owner, repo, number, gogithub.ReviewersRequest{Reviewers: users, TeamReviewers: teams})
	if err != nil {
		return fmt.Errorf("request reviewers on pull request %s/%s#%d: %w", owner, repo, number, notFound(err))
	}
	return nil
}

// Comment adds a comment to the conversation of pull request (or issue)
// number.
//
// GitHub API docs: https://docs.github.com/rest/issues/comments#create-an-issue-comment
func (c *Client) Comment(ctx context.Context, owner, repo string, number int, body string) error {
	_, _, err := c.gh.Issues.CreateComment(ctx, owner, repo, number, &gogithub.IssueComment{Body: &body})
	if err != nil {
		return fmt.Errorf("comment on %s/%s#%d: %w", owner, repo, number, notFound(err))
	}
	return nil
}
