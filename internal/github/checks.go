package github

import (
	"context"
	"fmt"

	gogithub "github.com/google/go-github/v62/github"
)

// GitHub's limits on a check run's output: annotations per request, and
// the summary's length in characters.
const (
	maxAnnotationsPerRequest = 50
	maxCheckSummary          = 65535
)

// CheckRun is a completed check run to report on a commit.
type CheckRun struct {
	Name       string
	Conclusion string // success, failure, neutral...
	Title      string
	Summary    string // markdown
	// Annotations are sent 50 a request, as GitHub takes them.
	Annotations []Annotation
}

// Annotation marks a line of a file in a pull request's diff.
type Annotation struct {
	Path           string
	Line, Column   int // 1-based; Column 0 for the whole line
	Level          string
	Title, Message string
}

// ReportCheck sets check run c on commit sha: the run of that name on
// the commit is updated when there is one (a commit planned again keeps
// one check), otherwise created. The Checks API takes only a GitHub
// App's installation tokens.
//
// GitHub API docs: https://docs.github.com/rest/checks/runs
func (c *Client) ReportCheck(ctx context.Context, owner, repo, sha string, run CheckRun) (int64, error) {
	id, err := c.reportCheck(ctx, owner, repo, sha, run)
	if err != nil {
		return 0, fmt.Errorf("check run %s on %s/%s@%s: %w", run.Name, owner, repo, shortSHA(sha), notFound(err))
	}
	return id, nil
}

func (c *Client) reportCheck(ctx context.Context, owner, repo, sha string, run CheckRun) (int64, error) {
	found, _, err := c.gh.Checks.ListCheckRunsForRef(ctx, owner, repo, sha, &gogithub.ListCheckRunsOptions{CheckName: &run.Name})
	if err != nil {
		return 0, err
	}
	batch := func(i int) []*gogithub.CheckRunAnnotation {
		var out []*gogithub.CheckRunAnnotation
		for _, a := range run.Annotations[i:min(i+maxAnnotationsPerRequest, len(run.Annotations))] {
			line := max(a.Line, 1)
			an := &gogithub.CheckRunAnnotation{
				Path: gogithub.String(a.Path), StartLine: gogithub.Int(line), EndLine: gogithub.Int(line),
				AnnotationLevel: gogithub.String(a.Level), Message: gogithub.String(a.Message),
			}
			if a.Title != "" {
				an.Title = gogithub.String(a.Title)
			}
			if a.Column > 0 {
				an.StartColumn, an.EndColumn = gogithub.Int(a.Column), gogithub.Int(a.Column)
			}
			out = append(out, an)
		}
		return out
	}
	output := func(i int) *gogithub.CheckRunOutput {
		return &gogithub.CheckRunOutput{Title: gogithub.String(run.Title), Summary: gogithub.String(truncate(run.Summary, maxCheckSummary)), Annotations: batch(i)}
	}
	var id int64
	if found != nil && len(found.CheckRuns) > 0 {
		id = found.CheckRuns[0].GetID()
		_, _, err = c.gh.Checks.UpdateCheckRun(ctx, owner, repo, id, gogithub.UpdateCheckRunOptions{
			Name: run.Name, Status: gogithub.String("completed"), Conclusion: gogithub.String(run.Conclusion), Output: output(0),
		})
	} else {
		var cr *gogithub.CheckRun
		cr, _, err = c.gh.Checks.CreateCheckRun(ctx, owner, repo, gogithub.CreateCheckRunOptions{
			Name: run.Name, HeadSHA: sha, Status: gogithub.String("completed"), Conclusion: gogithub.String(run.Conclusion), Output: output(0),
		})
		id = cr.GetID()
	}
	if err != nil {
		return 0, err
	}
	for i := maxAnnotationsPerRequest; i < len(run.Annotations); i += maxAnnotationsPerRequest {
		if _, _, err := c.gh.Checks.UpdateCheckRun(ctx, owner, repo, id, gogithub.UpdateCheckRunOptions{Name: run.Name, Output: output(i)}); err != nil {
			return id, err
		}
	}
	return id, nil
}

// IsApp reports whether the client authenticates as a GitHub App, which
// the Checks API requires.
func (c *Client) IsApp() bool { return c.app != nil }
