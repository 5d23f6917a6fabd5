package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/pierhq/pier/internal/api"
	"github.com/pierhq/pier/internal/approval/githubpr"
	"github.com/pierhq/pier/internal/github"
	"github.com/pierhq/pier/internal/review"
	"github.com/pierhq/pier/internal/source"
	"github.com/pierhq/pier/internal/webhook"
	"github.com/pierhq/pier/reconciler"
)

// planStatusContext names the commit status of a pull request's plan,
// apart from pier/reconcile, which says whether a commit was applied.
const planStatusContext = "pier/plan"

// bothHandlers runs two handlers of one event, the second even when the
// first fails: planning a pull request and taking a run request from it
// are independent.
func bothHandlers(a, b webhook.HandlerFunc) webhook.HandlerFunc {
	if a == nil {
		return b
	}
	return func(ctx context.Context, dl webhook.Delivery) error {
		errA := a(ctx, dl)
		if err := b(ctx, dl); err != nil {
			return err
		}
		return errA
	}
}

// onPullRequest plans a pull request into the followed branch when it is
// opened or pushed to, in the background (GitHub waits 10 s for the
// answer; the planner bounds how many run at once). The head is fetched
// as refs/pull/N/head, which GitHub keeps for forks too: a fork's pull
// request is planned like any other, and planning only loads and scores
// the catalog — nothing in it runs, and no secret is read.
func (d *daemon) onPullRequest(_ context.Context, dl webhook.Delivery) error {
	e, ok := dl.Payload.(*gh.PullRequestEvent)
	if !ok || d.git == nil || d.github == nil {
		return nil
	}
	pr := e.GetPullRequest()
	switch e.GetAction() {
	case "opened", "reopened", "synchronize":
	case "closed":
		d.mu.Lock()
		delete(d.openPulls, pr.GetNumber())
		d.mu.Unlock()
		return nil
	default:
		return nil
	}
	repo := e.GetRepo()
	if !strings.EqualFold(repo.GetOwner().GetLogin(), d.owner) || !strings.EqualFold(repo.GetName(), d.repo) ||
		pr.GetBase().GetRef() != d.cfg.Branch || pr.GetState() != "open" ||
		strings.HasPrefix(pr.GetHead().GetRef(), githubpr.BranchPrefix) {
		d.log.Debug("pull request not planned", "number", pr.GetNumber(), "base", pr.GetBase().GetRef())
		return nil
	}
	n, head := pr.GetNumber(), pr.GetHead().GetSHA()
	if n == 0 {
		n = e.GetNumber()
	}
	d.schedule(n, head)
	return nil
}

// schedule plans pull request n at head in the background, unless that
// head is being planned or was planned against the served revision.
func (d *daemon) schedule(n int, head string) {
	d.mu.Lock()
	d.openPulls[n] = head
	busy := d.reviewing[head]
	if !busy && !d.planner.Cached(head) {
		d.reviewing[head] = true
	} else {
		busy = true
	}
	d.mu.Unlock()
	if busy {
		d.log.Debug("pull request head already planned or being planned", "number", n, "head", head)
		return
	}
	d.reviews.Go(func() {
		defer func() {
			d.mu.Lock()
			delete(d.reviewing, head)
			d.mu.Unlock()
		}()
		d.reviewPull(n, head)
	})
}

// replanPulls plans the open pull requests again once main moved: their
// plans were against the state served before, and the comment or check
// should say what merging does now.
func (d *daemon) replanPulls() {
	if d.git == nil || d.github == nil {
		return
	}
	d.mu.Lock()
	open := maps.Clone(d.openPulls)
	d.mu.Unlock()
	for n, head := range open {
		d.schedule(n, head)
	}
}

// reviewPull plans pull request n at head and reports the plan on it: a
// commit status that fails when the revision would be refused (so that
// branch protection can require it) and one comment, edited on every
// push.
func (d *daemon) reviewPull(n int, head string) {
	ctx, cancel := context.WithTimeout(d.ctx, 5*time.Minute)
	defer cancel()
	log := d.log.With("pull_request", n, "head", head)
	rev, err := d.git.FetchRef(ctx, fmt.Sprintf("refs/pull/%d/head", n))
	if err == nil && rev.ID != head {
		// The pull request moved on since this webhook: its own
		// webhook plans the newer head.
		log.Info("pull request moved on; not planning this head", "now", rev.ID)
		return
	}
	var rep *review.Report
	if err == nil {
		rep, err = d.planner.Plan(ctx, reconciler.Revision{ID: rev.ID, FS: rev.FS})
	}
	if err != nil {
		log.Warn("pull request not planned", "err", err)
		d.postStatus(ctx, head, github.StateError, "pier could not plan this pull request: "+err.Error())
		return
	}
	if d.github.IsApp() {
		if _, err := d.github.ReportCheck(ctx, d.owner, d.repo, head, d.checkRun(rep)); err != nil {
			log.Warn("plan check run", "err", err)
			return
		}
		log.Info("pull request planned", "valid", rep.Valid, "check", checkName, "errors", len(rep.Diagnostics))
		return
	}
	state := github.StateSuccess
	if !rep.Valid {
		state = github.StateFailure
	}
	d.postStatus(ctx, head, state, rep.Summary())
	login, err := d.github.Login(ctx)
	if err == nil {
		_, _, err = d.github.UpsertComment(ctx, d.owner, d.repo, n, login, review.Marker, rep.Markdown())
	}
	if err != nil {
		log.Warn("plan comment", "err", err)
		return
	}
	log.Info("pull request planned", "valid", rep.Valid, "created", rep.Counts.Created, "updated", rep.Counts.Updated,
		"deleted", rep.Counts.Deleted, "moves", len(rep.Moves))
}

// checkName names pier's check run, which branch protection can
// require.
const checkName = "pier"

// checkRun is a report as a check run: the plan as its summary, and each
// error an annotation on its file and line (paths from the repository's
// root, as GitHub places them). A revision that would be refused fails
// the check.
func (d *daemon) checkRun(rep *review.Report) github.CheckRun {
	run := github.CheckRun{Name: checkName, Conclusion: "success", Title: rep.Summary(), Summary: rep.Markdown()}
	if !rep.Valid {
		run.Conclusion = "failure"
	}
	for _, diag := range rep.Diagnostics {
		if diag.Pos.File == "" {
			continue // in the summary only
		}
		run.Annotations = append(run.Annotations, github.Annotation{
			Path: path.Join(d.cfg.Path, diag.Pos.File), Line: diag.Pos.Line, Column: diag.Pos.Col,
			Level: "failure", Title: "pier: " + diag.Kind, Message: strings.TrimPrefix(diag.String(), diag.Pos.String()+": "),
		})
	}
	return run
}

func (d *daemon) postStatus(ctx context.Context, sha, state, desc string) {
	err := d.github.SetCommitStatus(ctx, d.owner, d.repo, sha, github.Status{State: state, Description: desc, Context: planStatusContext})
	if err != nil {
		d.log.Warn("plan status", "sha", sha, "err", err)
	}
}

// planRevision is POST /v1/plans: the planner of pull requests, on a
// revision named by the caller.
func (d *daemon) planRevision(ctx context.Context, name string) (*review.Report, error) {
	if d.git == nil {
		return nil, fmt.Errorf("%w: the catalog is a directory, not a git repository", api.ErrNoRevision)
	}
	rev, err := d.git.Resolve(ctx, name)
	if errors.Is(err, source.ErrRevisionNotFound) {
		return nil, fmt.Errorf("%w: %w", api.ErrNoRevision, err)
	}
	if err != nil {
		return nil, err
	}
	return d.planner.Plan(ctx, reconciler.Revision{ID: rev.ID, FS: rev.FS})
}
