package github

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	gogithub "github.com/google/go-github/v62/github"
)

// Commit status states.
const (
	StatePending = "pending"
	StateSuccess = "success"
	StateFailure = "failure"
	StateError   = "error"
)

// DefaultStatusContext names pier's status on a commit.
const DefaultStatusContext = "pier/reconcile"

// MaxStatusDescription is GitHub's limit on a status description, in
// characters; GitHub refuses longer ones (422), so they are truncated.
const MaxStatusDescription = 140

// Status is a commit status to set.
type Status struct {
	// State is one of StatePending, StateSuccess, StateFailure and
	// StateError.
	State string
	// Description is a one-line summary; it is cut to
	// MaxStatusDescription characters.
	Description string
	// TargetURL, if set, is where the status links to, such as the
	// revision's page in pier.
	TargetURL string
	// Context tells pier's statuses apart from others on the commit;
	// DefaultStatusContext if empty.
	Context string
}

// SetCommitStatus sets a status on the commit sha of owner/repo; a later
// status with the same context replaces it in GitHub's UI.
//
// GitHub API docs: https://docs.github.com/rest/commits/statuses#create-a-commit-status
func (c *Client) SetCommitStatus(ctx context.Context, owner, repo, sha string, s Status) error {
	if err := c.setCommitStatus(ctx, owner, repo, sha, s); err != nil {
		return fmt.Errorf("set commit status on %s/%s@%s: %w", owner, repo, shortSHA(sha), err)
	}
	return nil
}

func (c *Client) setCommitStatus(ctx context.Context, owner, repo, sha string, s Status) error {
	switch s.State {
	case StatePending, StateSuccess, StateFailure, StateError:
	default:
		return fmt.Errorf("invalid state %q (want pending, success, failure or error)", s.State)
	}
	if owner == "" || repo == "" || sha == "" {
		return errors.New("owner, repository and commit are required")
	}
	if s.Context == "" {
		s.Context = DefaultStatusContext
	}
	st := &gogithub.RepoStatus{
		State:   &s.State,
		Context: &s.Context,
	}
	if s.Description != "" {
		d := truncate(s.Description, MaxStatusDescription)
		st.Description = &d
	}
	if s.TargetURL != "" {
		st.TargetURL = &s.TargetURL
	}
	_, _, err := c.gh.Repositories.CreateStatus(ctx, owner, repo, sha, st)
	return err
}

// truncate cuts s to at most n characters, ending with an ellipsis when
// it had to cut. It counts characters, not bytes, as GitHub does, and
// never splits one.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}

func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
