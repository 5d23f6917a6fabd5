package github

import (
	"context"
	"fmt"
	"time"

	gogithub "github.com/google/go-github/v62/github"
)

// Review is a pull request review. GitHub keeps every review; deciding
// what a reviewer currently thinks (their latest APPROVED or
// CHANGES_REQUESTED, on which commit) is the caller's job.
type Review struct {
	ID          int64
	User        string // login
	State       string // APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED or PENDING
	CommitID    string // the head it was given on
	Body        string
	SubmittedAt time.Time
}

// Reviews returns every review of pull request number, all pages, oldest
// first as GitHub lists them.
//
// GitHub API docs: https://docs.github.com/rest/pulls/reviews#list-reviews-for-a-pull-request
func (c *Client) Reviews(ctx context.Context, owner, repo string, number int) ([]Review, error) {
	var out []Review
	opts := &gogithub.ListOptions{PerPage: 100}
	for {
		reviews, resp, err := c.gh.PullRequests.ListReviews(ctx, owner, repo, number, opts)
		if err != nil {
			return nil, fmt.Errorf("list reviews of pull request %s/%s#%d: %w", owner, repo, number, notFound(err))
		}
		for _, r := range reviews {
			out = append(out, Review{
				ID:          r.GetID(),
				User:        r.GetUser().GetLogin(),
				State:       r.GetState(),
				CommitID:    r.GetCommitID(),
				Body:        r.GetBody(),
				SubmittedAt: r.GetSubmittedAt().Time,
			})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}
