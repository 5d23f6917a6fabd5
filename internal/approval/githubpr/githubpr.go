// Package githubpr is the approval system of pier's GitOps path: a run
// that needs approval becomes a pull request on the catalog repository
// adding the run's request file, and the pull request's reviews are the
// approval.
//
// The decision is always taken from the pull request's reviews as the
// API lists them (approval.Approvers.DecidePullRequest); webhooks only
// say when to look again. Approvals count on the pull request's head
// commit, and the head is checked once more just before dispatch
// (Recheck): a commit pushed between the decision and the dispatch makes
// the approvals stale.
//
// What is approved is what runs. The system follows the pull request
// (Follow): a person's run request is read again at every new head and
// becomes the run's inputs once it validates; a branch pier opened
// belongs to pier, and a push to it by anyone else counts for nothing —
// pier puts its own commit back. Approvals count only on a head that
// holds exactly the run (RunApproval.ContentSHA), never from whoever
// pushed that head (GitHub's "most recent reviewable push" rule), and
// the pull request is merged only when it adds nothing but the run's
// request.
package githubpr

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/approval"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/github"
	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/store"
)

// Client is what the system needs of GitHub.
type Client interface {
	BranchHead(ctx context.Context, owner, repo, branch string) (string, error)
	CreateBranch(ctx context.Context, owner, repo, branch, fromSHA string) error
	DeleteBranch(ctx context.Context, owner, repo, branch string) error
	PutFile(ctx context.Context, owner, repo, branch, path, message string, content []byte) (string, error)
	GetFile(ctx context.Context, owner, repo, ref, path string) ([]byte, error)
	CreatePullRequest(ctx context.Context, owner, repo string, pr github.NewPullRequest) (github.PullRequest, error)
	PullRequest(ctx context.Context, owner, repo string, number int) (github.PullRequest, error)
	OpenPullRequestFrom(ctx context.Context, owner, repo, branch string) (github.PullRequest, error)
	ClosePullRequest(ctx context.Context, owner, repo string, number int) error
	MergePullRequest(ctx context.Context, owner, repo string, number int, sha, commitTitle string) error
	RequestReviewers(ctx context.Context, owner, repo string, number int, users, teams []string) error
	Comment(ctx context.Context, owner, repo string, number int, body string) error
	PullRequestFiles(ctx context.Context, owner, repo string, number int) ([]github.PullRequestFile, error)
	Reviews(ctx context.Context, owner, repo string, number int) ([]github.Review, error)
	SetCommitStatus(ctx context.Context, owner, repo, sha string, s github.Status) error
	Pushers(ctx context.Context, owner, repo, branch, sha string) ([]string, error)
	MoveBranch(ctx context.Context, owner, repo, branch, sha string) error
	Login(ctx context.Context) (string, error)
}

// BranchPrefix starts the branches pier creates for run requests.
const BranchPrefix = "pier/run/"

// RunsDir is the catalog directory of run request files, which the
// loader skips.
const RunsDir = loader.RunsDir

// StatusContext names the commit status pier sets on a decision.
const StatusContext = "pier/approval"

// System asks for approval with pull requests on the catalog repository.
type System struct {
	Client      Client
	Owner, Repo string
	// Base is the catalog's branch; Dir its sub-directory, if any.
	Base, Dir string
	// Teams checks team membership of reviewers.
	Teams  approval.Membership
	RunURL func(id string) string
	Now    func() time.Time
}

// RunFile is a run request as committed under runs/: what pier writes
// for a run it was asked for, and what a person writes to ask by pull
// request (action, entity, properties; the rest is filled in).
type RunFile struct {
	Action      string         `json:"action"`
	Entity      string         `json:"entity,omitempty"`
	Properties  map[string]any `json:"properties,omitempty"`
	Requester   string         `json:"requester,omitempty"`
	Run         string         `json:"run,omitempty"`
	Link        string         `json:"link,omitempty"`
	RequestedAt time.Time      `json:"requestedAt,omitzero"`
}

// ParseRunFile reads a run request file; errors name the file.
func ParseRunFile(name string, b []byte) (RunFile, error) {
	var f RunFile
	if err := catalog.Decode(b, &f); err != nil {
		return RunFile{}, fmt.Errorf("%s: %w (want a JSON object with action, entity and properties)", name, err)
	}
	if f.Action == "" {
		return RunFile{}, fmt.Errorf("%s: action is missing", name)
	}
	return f, nil
}

// IsRunFile reports whether a changed file of a pull request is a run
// request in the catalog at dir.
func IsRunFile(dir, name string) bool {
	rel := name
	if dir != "" && dir != "." {
		var ok bool
		if rel, ok = strings.CutPrefix(name, strings.Trim(dir, "/")+"/"); !ok {
			return false
		}
	}
	return path.Dir(rel) == RunsDir && strings.HasSuffix(rel, ".json")
}

// ErrNoRunRequest is returned by RunRequest for a pull request that
// adds no run request file.
var ErrNoRunRequest = errors.New("the pull request adds no run request")

// RunRequest reads the run request a person's pull request adds: the one
// file added under runs/, as of the pull request's head. The file is
// returned with any error about its content, so that the refusal can
// name it. A pull request adding two run requests is refused: one pull
// request, one run, one approval.
func (s *System) RunRequest(ctx context.Context, number int, head string) (string, RunFile, error) {
	files, err := s.Client.PullRequestFiles(ctx, s.Owner, s.Repo, number)
	if err != nil {
		return "", RunFile{}, err
	}
	var added []string
	for _, f := range files {
		if f.Status == "added" && IsRunFile(s.Dir, f.Filename) {
			added = append(added, f.Filename)
		}
	}
	switch len(added) {
	case 0:
		return "", RunFile{}, ErrNoRunRequest
	case 1:
	default:
		return added[0], RunFile{}, &BadRequest{File: added[0], Message: fmt.Sprintf("the pull request adds %d run requests (%s); ask for one run per pull request", len(added), strings.Join(added, ", "))}
	}
	file := added[0]
	body, err := s.Client.GetFile(ctx, s.Owner, s.Repo, head, file)
	if err != nil {
		return file, RunFile{}, err
	}
	rf, err := ParseRunFile(file, body)
	if err != nil {
		return file, RunFile{}, &BadRequest{File: file, Message: strings.TrimPrefix(err.Error(), file+": ")}
	}
	return file, rf, nil
}

// BadRequest is a run request pier refuses: a file it cannot read, an
// input the action refuses. Field, when set, is the input at fault.
type BadRequest struct {
	File, Field, Message string
}

func (e *BadRequest) Error() string { return e.File + ": " + e.Message }

// Refuse answers a refused run request on its pull request.
func (s *System) Refuse(ctx context.Context, number int, bad *BadRequest) error {
	where := bad.File
	if bad.Field != "" {
		where += " (" + bad.Field + ")"
	}
	return s.Client.Comment(ctx, s.Owner, s.Repo, number, fmt.Sprintf("pier cannot run this request: %s: %s", where, bad.Message))
}

func (s *System) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func number(run store.Run) (int, error) {
	n, err := strconv.Atoi(run.Approval.Ref)
	if err != nil {
		return 0, fmt.Errorf("run %s: approval ref %q is not a pull request number", run.ID, run.Approval.Ref)
	}
	return n, nil
}

// ownFile is where pier commits the request of a run it opens a pull
// request for.
func (s *System) ownFile(run store.Run) string { return path.Join(s.Dir, RunsDir, run.ID+".json") }

// ownContent is the request file pier writes for run.
func (s *System) ownContent(run store.Run) []byte {
	body, _ := json.MarshalIndent(RunFile{
		Action: run.Action, Entity: run.Entity, Properties: run.Inputs, Requester: run.Requester,
		Run: run.ID, Link: s.RunURL(run.ID), RequestedAt: run.CreatedAt,
	}, "", "  ")
	return append(body, '\n')
}

// Open creates the branch, commits the request file and opens the pull
// request, asking the approvers for review. Each step finds its own
// earlier work, so a retry after a failure halfway does not duplicate
// it. The request's commit is returned only when this call made it: a
// branch found from an earlier attempt is checked by Follow, as any
// head is, before an approval on it counts.
func (s *System) Open(ctx context.Context, run store.Run, a *catalog.Action, rule approval.Rule) (approval.Request, error) {
	branch := BranchPrefix + run.ID
	head, err := s.Client.BranchHead(ctx, s.Owner, s.Repo, s.Base)
	if err != nil {
		return approval.Request{}, err
	}
	if err := s.Client.CreateBranch(ctx, s.Owner, s.Repo, branch, head); err != nil && !errors.Is(err, github.ErrExists) {
		return approval.Request{}, err
	}
	file, want := s.ownFile(run), s.ownContent(run)
	var commit string
	if got, err := s.Client.GetFile(ctx, s.Owner, s.Repo, branch, file); errors.Is(err, github.ErrNotFound) || err == nil && !bytes.Equal(got, want) {
		msg := fmt.Sprintf("Request run %s of %s", run.ID, run.Action)
		if commit, err = s.Client.PutFile(ctx, s.Owner, s.Repo, branch, file, msg, want); err != nil {
			return approval.Request{}, err
		}
	} else if err != nil {
		return approval.Request{}, err
	}
	pr, err := s.Client.CreatePullRequest(ctx, s.Owner, s.Repo, github.NewPullRequest{
		Title: title(run, a), Body: s.description(run, a, rule), Head: branch, Base: s.Base,
	})
	if errors.Is(err, github.ErrExists) {
		// An earlier Open created it and did not live to record it.
		pr, err = s.Client.OpenPullRequestFrom(ctx, s.Owner, s.Repo, branch)
	}
	if err != nil {
		return approval.Request{}, err
	}
	users := slices.DeleteFunc(slices.Clone(rule.Users), func(u string) bool { return strings.EqualFold(u, run.Requester) })
	var teams []string
	for _, t := range rule.Teams {
		// GitHub requests review from teams of the repository's
		// organisation only.
		org, slug, ok := strings.Cut(t, "/")
		if !ok {
			slug = t
		} else if !strings.EqualFold(org, s.Owner) {
			continue
		}
		teams = append(teams, slug)
	}
	if len(users)+len(teams) > 0 {
		if err := s.Client.RequestReviewers(ctx, s.Owner, s.Repo, pr.Number, users, teams); err != nil {
			// Not fatal: GitHub refuses reviewers who are not
			// collaborators; the description names the approvers anyway.
			_ = s.Client.Comment(ctx, s.Owner, s.Repo, pr.Number, "pier could not request reviews: "+err.Error())
		}
	}
	return approval.Request{Ref: strconv.Itoa(pr.Number), URL: pr.HTMLURL, File: file, Commit: commit}, nil
}

func title(run store.Run, a *catalog.Action) string {
	t := "Run " + cmp.Or(a.Title, a.Identifier)
	if run.Entity != "" {
		t += " on " + run.Entity
	}
	return t + " (requested by " + run.Requester + ")"
}

// description is the pull request's body: what will run, for whom, and
// what approves it.
func (s *System) description(run store.Run, a *catalog.Action, rule approval.Rule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** asks to run **%s**", run.Requester, cmp.Or(a.Title, a.Identifier))
	if run.Entity != "" {
		fmt.Fprintf(&b, " on `%s/%s`", run.Blueprint, run.Entity)
	}
	fmt.Fprintf(&b, ".\n\n")
	if a.Description != "" {
		fmt.Fprintf(&b, "> %s\n\n", a.Description)
	}
	if len(run.Inputs) > 0 {
		b.WriteString("| input | value |\n|---|---|\n")
		for _, k := range slices.Sorted(maps.Keys(run.Inputs)) {
			v, _ := json.Marshal(run.Inputs[k])
			fmt.Fprintf(&b, "| `%s` | `%s` |\n", k, strings.ReplaceAll(string(v), "|", "\\|"))
		}
		b.WriteString("\n")
	}
	who := "anyone with review rights"
	var names []string
	for _, u := range rule.Users {
		names = append(names, "@"+u)
	}
	for _, t := range rule.Teams {
		if !strings.Contains(t, "/") {
			t = s.Owner + "/" + t
		}
		names = append(names, "@"+t)
	}
	if len(names) > 0 {
		who = strings.Join(names, ", ")
	}
	fmt.Fprintf(&b, "**To approve**, approve this pull request: %d approval(s) from %s", rule.Required, who)
	switch {
	case !rule.AllowRequester && !rule.AllowLastPusher:
		b.WriteString(" (not the requester, nor whoever pushed the latest commit)")
	case !rule.AllowRequester:
		b.WriteString(" (not the requester)")
	case !rule.AllowLastPusher:
		b.WriteString(" (not whoever pushed the latest commit)")
	}
	fmt.Fprintf(&b, ", on the latest commit, by %s. **To decline**, request changes or close it.\n\n",
		run.Approval.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "This branch belongs to pier: a push to it changes nothing that runs, and pier puts its own commit back. ")
	fmt.Fprintf(&b, "Run [`%s`](%s) · pier closes this pull request once the run is dispatched or ends.\n", run.ID, s.RunURL(run.ID))
	return b.String()
}

// own reports whether pr is the pull request pier opened for run.
func own(run store.Run, pr github.PullRequest) bool { return pr.HeadRef == BranchPrefix+run.ID }

// Follow reads the run's pull request at a head the run has not seen:
// who pushed it, and what it holds. On pier's own branch a head that is
// not exactly the run's request is put back to the commit that is; a
// person's head is read as a run request for the engine to validate.
func (s *System) Follow(ctx context.Context, run store.Run) (*approval.Move, error) {
	n, err := number(run)
	if err != nil {
		return nil, err
	}
	pr, err := s.Client.PullRequest(ctx, s.Owner, s.Repo, n)
	if err != nil || pr.State != "open" || pr.HeadSHA == run.Approval.SeenSHA {
		return nil, err
	}
	m := &approval.Move{Commit: pr.HeadSHA}
	if m.By, err = s.pushers(ctx, pr); err != nil {
		return nil, err
	}
	if own(run, pr) {
		m.Own = true
		problem, err := s.holdsOnly(ctx, run, pr)
		if err != nil {
			return nil, err
		}
		m.Intact, m.Problem = problem == "", problem
		if !m.Intact && run.Approval.ContentSHA != "" {
			if err := s.Client.MoveBranch(ctx, s.Owner, s.Repo, pr.HeadRef, run.Approval.ContentSHA); err != nil {
				m.Problem += fmt.Sprintf(" (pier could not put its commit %.7s back: %v)", run.Approval.ContentSHA, err)
			} else {
				m.Restored = true
			}
		}
		return m, nil
	}
	file, rf, err := s.RunRequest(ctx, n, pr.HeadSHA)
	var bad *BadRequest
	switch {
	case errors.Is(err, ErrNoRunRequest):
		m.Withdrawn, m.Problem = true, "the pull request no longer adds a run request under "+path.Join(s.Dir, RunsDir)
	case errors.As(err, &bad):
		m.Problem = bad.Error()
	case err != nil:
		return nil, err
	default:
		m.Asked = &approval.Asked{File: file, Action: rf.Action, Entity: rf.Entity, Inputs: rf.Properties}
	}
	return m, nil
}

// pushers returns who pushed pr's head, leaving pier itself out (it
// never approves, and its token may be a person's).
func (s *System) pushers(ctx context.Context, pr github.PullRequest) ([]string, error) {
	owner, repo := cmp.Or(pr.HeadOwner, s.Owner), cmp.Or(pr.HeadRepo, s.Repo)
	by, err := s.Client.Pushers(ctx, owner, repo, pr.HeadRef, pr.HeadSHA)
	if err != nil {
		return nil, err
	}
	if self, err := s.Client.Login(ctx); err == nil {
		by = slices.DeleteFunc(by, func(u string) bool { return strings.EqualFold(u, self) })
	}
	return by, nil
}

// holdsOnly says what is wrong with pr's head for run, or "" when the
// pull request changes exactly one file, the run's request, and at the
// head it is exactly as pier wrote it.
func (s *System) holdsOnly(ctx context.Context, run store.Run, pr github.PullRequest) (string, error) {
	file := cmp.Or(run.Approval.File, s.ownFile(run))
	if problem, err := s.onlyFile(ctx, pr.Number, file); problem != "" || err != nil {
		return problem, err
	}
	want := s.ownContent(run)
	if sha := run.Approval.ContentSHA; sha != "" {
		b, err := s.Client.GetFile(ctx, s.Owner, s.Repo, sha, file)
		if err != nil {
			return "", err
		}
		want = b
	}
	got, err := s.Client.GetFile(ctx, s.Owner, s.Repo, pr.HeadSHA, file)
	if err != nil {
		return "", err
	}
	if !bytes.Equal(got, want) {
		return fmt.Sprintf("%s at %.7s is not the request pier wrote", file, pr.HeadSHA), nil
	}
	return "", nil
}

// onlyFile says what the pull request changes besides adding file, or ""
// when that is all it does.
func (s *System) onlyFile(ctx context.Context, number int, file string) (string, error) {
	files, err := s.Client.PullRequestFiles(ctx, s.Owner, s.Repo, number)
	if err != nil {
		return "", err
	}
	var others []string
	found := false
	for _, f := range files {
		if f.Filename == file && f.Status == "added" {
			found = true
			continue
		}
		others = append(others, f.Filename+" ("+f.Status+")")
	}
	switch {
	case len(others) > 0:
		return fmt.Sprintf("the pull request changes %s besides adding %s", strings.Join(others, ", "), file), nil
	case !found:
		return "the pull request no longer adds " + file, nil
	}
	return "", nil
}

// Tell comments on the run's pull request.
func (s *System) Tell(ctx context.Context, run store.Run, msg string) error {
	n, err := number(run)
	if err != nil {
		return err
	}
	return s.Client.Comment(ctx, s.Owner, s.Repo, n, msg)
}

// Check takes the decision from the pull request and its reviews.
func (s *System) Check(ctx context.Context, run store.Run, _ *catalog.Action, rule approval.Rule) (approval.Decision, error) {
	n, err := number(run)
	if err != nil {
		return approval.Decision{}, err
	}
	pr, err := s.Client.PullRequest(ctx, s.Owner, s.Repo, n)
	if err != nil {
		return approval.Decision{}, err
	}
	rs, err := s.Client.Reviews(ctx, s.Owner, s.Repo, n)
	if err != nil {
		return approval.Decision{}, err
	}
	reviews := make([]approval.Review, len(rs))
	for i, r := range rs {
		reviews[i] = approval.Review{User: r.User, State: r.State, CommitID: r.CommitID, Body: r.Body, At: r.SubmittedAt}
	}
	ap := approval.Approvers{Rule: rule, Org: s.Owner, Teams: s.Teams, Pushers: run.Approval.Pushers}
	holds := pr.HeadSHA == run.Approval.ContentSHA
	d, err := ap.DecidePullRequest(ctx, approval.PullRequest{Open: pr.State == "open", HeadSHA: pr.HeadSHA, Holds: holds}, run.Requester, reviews, run.Approval.ExpiresAt, s.now())
	if err == nil && d.Outcome == approval.Declined && pr.Merged {
		d.Reason = "the pull request was merged before the run was approved"
	}
	return d, err
}

// Recheck confirms, just before dispatch, that the pull request is
// still open at the commit that was approved.
func (s *System) Recheck(ctx context.Context, run store.Run) error {
	n, err := number(run)
	if err != nil {
		return err
	}
	pr, err := s.Client.PullRequest(ctx, s.Owner, s.Repo, n)
	if err != nil {
		return err
	}
	switch {
	case pr.State != "open":
		return fmt.Errorf("%w: pull request #%d was closed", approval.ErrStale, n)
	case pr.HeadSHA != run.Approval.HeadSHA:
		return fmt.Errorf("%w: pull request #%d moved from %.7s to %.7s", approval.ErrStale, n, run.Approval.HeadSHA, pr.HeadSHA)
	}
	return nil
}

// Decided comments the decision on the pull request and sets the
// pier/approval commit status on the head it was taken on.
func (s *System) Decided(ctx context.Context, run store.Run, a *catalog.Action, d approval.Decision) error {
	n, err := number(run)
	if err != nil {
		return err
	}
	var msg, st string
	switch d.Outcome {
	case approval.Approved:
		msg, st = fmt.Sprintf("✅ Approved by %s. pier is dispatching run [`%s`](%s).", mentions(d.Approvers), run.ID, s.RunURL(run.ID)), github.StateSuccess
	case approval.Declined:
		msg, st = "❌ Declined", github.StateFailure
		if d.DecidedBy != "" {
			msg += " by @" + d.DecidedBy
		}
		if d.Reason != "" {
			msg += ": " + d.Reason
		}
		msg += fmt.Sprintf(". Run [`%s`](%s) will not be dispatched.", run.ID, s.RunURL(run.ID))
	default:
		msg, st = fmt.Sprintf("⌛ Expired: %s. Run [`%s`](%s) will not be dispatched.", d.Reason, run.ID, s.RunURL(run.ID)), github.StateFailure
	}
	errs := []error{s.Client.Comment(ctx, s.Owner, s.Repo, n, msg)}
	if d.HeadSHA != "" {
		errs = append(errs, s.Client.SetCommitStatus(ctx, s.Owner, s.Repo, d.HeadSHA, github.Status{
			State: st, Context: StatusContext, Description: "run " + run.ID + ": " + d.Outcome.String(), TargetURL: s.RunURL(run.ID),
		}))
	}
	return errors.Join(errs...)
}

// Finish tells the outcome on the pull request and closes it, or merges
// it when the action says so and the run was dispatched (recording the
// request in the catalog's history).
func (s *System) Finish(ctx context.Context, run store.Run, a *catalog.Action) error {
	n, err := number(run)
	if err != nil {
		return err
	}
	pr, err := s.Client.PullRequest(ctx, s.Owner, s.Repo, n)
	if err != nil {
		return err
	}
	dispatched := run.Dispatch.Done()
	if pr.State == "open" {
		if dispatched {
			msg := fmt.Sprintf("🚀 Run [`%s`](%s) was dispatched", run.ID, s.RunURL(run.ID))
			if run.Link != "" {
				msg += ": " + run.Link
			}
			if err := s.Client.Comment(ctx, s.Owner, s.Repo, n, msg+"."); err != nil {
				return err
			}
		} else if run.Status == store.RunCancelled || run.Status == store.RunFailure {
			msg := fmt.Sprintf("Run [`%s`](%s) is %s.", run.ID, s.RunURL(run.ID), strings.ToLower(run.Status))
			if err := s.Client.Comment(ctx, s.Owner, s.Repo, n, msg); err != nil {
				return err
			}
		}
		merge := dispatched && mergeRequested(a)
		if merge {
			problem, err := s.mergeable(ctx, run, pr)
			if err != nil {
				return err
			}
			if problem != "" {
				merge = false
				msg := fmt.Sprintf("pier did not merge this pull request: %s. Only the run's request, as approved, is merged.", problem)
				if err := s.Client.Comment(ctx, s.Owner, s.Repo, n, msg); err != nil {
					return err
				}
			}
		}
		if merge {
			err = s.Client.MergePullRequest(ctx, s.Owner, s.Repo, n, pr.HeadSHA, title(run, a))
		} else {
			err = s.Client.ClosePullRequest(ctx, s.Owner, s.Repo, n)
		}
		if err != nil {
			return err
		}
	}
	if strings.HasPrefix(pr.HeadRef, BranchPrefix) {
		return s.Client.DeleteBranch(ctx, s.Owner, s.Repo, pr.HeadRef)
	}
	return nil
}

func mergeRequested(a *catalog.Action) bool { return a.Approval != nil && a.Approval.Merge }

// mergeable says why pr must not be merged for run, or "" when it may:
// its head is the commit approved, which holds the run (the request as
// pier wrote it, or the person's request the run's inputs were read
// from), and it adds that request and changes nothing else. What lands
// on the catalog's branch is then exactly what was approved and ran.
func (s *System) mergeable(ctx context.Context, run store.Run, pr github.PullRequest) (string, error) {
	ap := run.Approval
	switch {
	case pr.HeadSHA != ap.HeadSHA:
		return fmt.Sprintf("its head moved from the approved commit %.7s to %.7s", ap.HeadSHA, pr.HeadSHA), nil
	case ap.HeadSHA != ap.ContentSHA:
		return fmt.Sprintf("the approved commit %.7s does not hold the run's request", ap.HeadSHA), nil
	}
	return s.onlyFile(ctx, pr.Number, cmp.Or(ap.File, s.ownFile(run)))
}

func mentions(users []string) string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = "@" + u
	}
	return strings.Join(out, ", ")
}
