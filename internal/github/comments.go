package github

import (
	"context"
	"fmt"
	"strings"

	gogithub "github.com/google/go-github/v62/github"
)

// UpsertComment keeps one comment of pier's on pull request number: the
// first comment of the conversation written by login whose body starts
// with marker is edited to body, or, when there is none, body is posted
// as a new comment. A plan is re-posted on every push; editing keeps the
// conversation to one comment however many pushes there are. It returns
// the comment's id and whether it was created.
//
// GitHub API docs: https://docs.github.com/rest/issues/comments#list-issue-comments
// and https://docs.github.com/rest/issues/comments#update-an-issue-comment
func (c *Client) UpsertComment(ctx context.Context, owner, repo string, number int, login, marker, body string) (int64, bool, error) {
	id, err := c.findComment(ctx, owner, repo, number, login, marker)
	if err != nil {
		return 0, false, fmt.Errorf("list comments of %s/%s#%d: %w", owner, repo, number, notFound(err))
	}
	if id != 0 {
		if _, _, err := c.gh.Issues.EditComment(ctx, owner, repo, id, &gogithub.IssueComment{Body: &body}); err != nil {
			return 0, false, fmt.Errorf("edit comment %d on %s/%s#%d: %w", id, owner, repo, number, notFound(err))
		}
		return id, false, nil
	}
	cm, _, err := c.gh.Issues.CreateComment(ctx, owner, repo, number, &gogithub.IssueComment{Body: &body})
	if err != nil {
		return 0, false, fmt.Errorf("comment on %s/%s#%d: %w", owner, repo, number, notFound(err))
	}
	return cm.GetID(), true, nil
}

// findComment returns the id of the first comment by login starting with
// marker, or 0.
func (c *Client) findComment(ctx context.Context, owner, repo string, number int, login, marker string) (int64, error) {
	opts := &gogithub.IssueListCommentsOptions{ListOptions: gogithub.ListOptions{PerPage: 100}}
	for {
		cms, resp, err := c.gh.Issues.ListComments(ctx, owner, repo, number, opts)
		if err != nil {
			return 0, err
		}
		for _, cm := range cms {
			if strings.EqualFold(cm.GetUser().GetLogin(), login) && strings.HasPrefix(cm.GetBody(), marker) {
				return cm.GetID(), nil
			}
		}
		if resp.NextPage == 0 {
			return 0, nil
		}
		opts.Page = resp.NextPage
	}
}
