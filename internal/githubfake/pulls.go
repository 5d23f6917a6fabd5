package githubfake

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pull is a pull request as the fake keeps it.
type pull struct {
	id                   int64
	number               int
	state                string // open or closed
	merged               bool
	title, body          string
	author               string
	head, base           string // branch names
	headSHA              string
	baseSHA              string // the base branch's head, frozen once merged
	mergeSHA, mergedBy   string
	createdAt, updatedAt time.Time
	closedAt, mergedAt   time.Time
	reviewers, teams     []string // requested, not yet reviewed
	reviews              []*review
	comments             []*issueComment
}

// PullRequest is a snapshot of a pull request, for tests to assert on.
type PullRequest struct {
	Number             int
	State              string // open or closed
	Merged             bool
	Head, HeadSHA      string // the head branch and its commit
	Base               string
	Title, Body        string
	Author             string   // the login of who opened it
	RequestedReviewers []string // logins asked for a review who have not given one
	RequestedTeams     []string // team slugs
	Comments           []string // the bodies of its comments, oldest first
}

// OpenPullRequest opens a pull request from head into base of owner/repo
// as the person author would, and returns its number. Both branches must
// exist.
func (f *Fake) OpenPullRequest(owner, repo, author, head, base, title, body string) (number int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rp := f.mustRepo(owner, repo)
	for _, b := range []string{head, base} {
		if _, ok := rp.branches[b]; !ok {
			panic(fmt.Sprintf("githubfake: no branch %q in %s", b, rp.fullName()))
		}
	}
	return f.openPull(rp, author, head, base, title, body).number
}

// PullRequest returns pull request number of owner/repo.
func (f *Fake) PullRequest(owner, repo string, number int) (PullRequest, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.mustRepo(owner, repo).pulls[number]
	if p == nil {
		return PullRequest{}, false
	}
	s := PullRequest{
		Number: p.number, State: p.state, Merged: p.merged,
		Head: p.head, HeadSHA: p.headSHA, Base: p.base,
		Title: p.title, Body: p.body, Author: p.author,
		RequestedReviewers: slices.Clone(p.reviewers),
		RequestedTeams:     slices.Clone(p.teams),
	}
	for _, c := range p.comments {
		s.Comments = append(s.Comments, c.body)
	}
	return s, true
}

// ClosePR closes pull request number of owner/repo without merging it,
// as a person would in GitHub's UI.
func (f *Fake) ClosePR(owner, repo string, number int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closePull(f.mustPull(owner, repo, number))
}

// mustPull is the pull request a helper names. f.mu must be held.
func (f *Fake) mustPull(owner, repo string, number int) *pull {
	p := f.mustRepo(owner, repo).pulls[number]
	if p == nil {
		panic(fmt.Sprintf("githubfake: no pull request %s/%s#%d", owner, repo, number))
	}
	return p
}

func (f *Fake) openPull(rp *repository, author, head, base, title, body string) *pull {
	f.nextID++
	rp.lastNumber++
	now := f.stamp()
	p := &pull{
		id: f.nextID, number: rp.lastNumber, state: "open",
		title: title, body: body, author: author,
		head: head, base: base, headSHA: rp.branches[head], baseSHA: rp.branches[base],
		createdAt: now, updatedAt: now,
	}
	rp.pulls[p.number] = p
	return p
}

func (f *Fake) closePull(p *pull) {
	if p.state == "closed" {
		return
	}
	p.state = "closed"
	p.closedAt = f.stamp()
	p.updatedAt = p.closedAt
}

// baseSHA returns the commit p's base is at: the base branch's head while
// it exists and p is not merged, the one p merged into once merged.
func (rp *repository) baseSHA(p *pull) string {
	if sha, ok := rp.branches[p.base]; ok && !p.merged {
		p.baseSHA = sha
	}
	return p.baseSHA
}

// changes returns what p changes: its head against the merge base.
func (rp *repository) changes(p *pull) []fileChange {
	mb := rp.mergeBase(rp.baseSHA(p), p.headSHA)
	return diff(rp.commits[mb], rp.commits[p.headSHA])
}

// mergedTree returns the tree of the base branch with p's changes, and
// false when the base changed a file p changes too (a conflict).
func (rp *repository) mergedTree(p *pull) (map[string][]byte, bool) {
	base := rp.commits[rp.baseSHA(p)]
	mb := rp.commits[rp.mergeBase(base.sha, p.headSHA)]
	files := maps.Clone(base.files)
	for _, ch := range diff(mb, rp.commits[p.headSHA]) {
		if cur := base.files[ch.path]; !bytes.Equal(cur, mb.files[ch.path]) && !bytes.Equal(cur, ch.new) {
			return nil, false
		}
		if ch.status == "removed" {
			delete(files, ch.path)
		} else {
			files[ch.path] = ch.new
		}
	}
	return files, true
}

// pullRequestJSON is GitHub's pull-request shape
// (https://docs.github.com/rest/pulls/pulls#get-a-pull-request), with
// the fields clients read.
type pullRequestJSON struct {
	URL                 string     `json:"url"`
	ID                  int64      `json:"id"`
	NodeID              string     `json:"node_id"`
	HTMLURL             string     `json:"html_url"`
	DiffURL             string     `json:"diff_url"`
	PatchURL            string     `json:"patch_url"`
	IssueURL            string     `json:"issue_url"`
	CommitsURL          string     `json:"commits_url"`
	CommentsURL         string     `json:"comments_url"`
	StatusesURL         string     `json:"statuses_url"`
	Number              int        `json:"number"`
	State               string     `json:"state"`
	Locked              bool       `json:"locked"`
	Title               string     `json:"title"`
	User                User       `json:"user"`
	Body                *string    `json:"body"`
	Labels              []any      `json:"labels"`
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
	ClosedAt            *time.Time `json:"closed_at"`
	MergedAt            *time.Time `json:"merged_at"`
	MergeCommitSHA      *string    `json:"merge_commit_sha"`
	Assignees           []User     `json:"assignees"`
	RequestedReviewers  []User     `json:"requested_reviewers"`
	RequestedTeams      []teamJSON `json:"requested_teams"`
	Head                pullBranch `json:"head"`
	Base                pullBranch `json:"base"`
	AuthorAssociation   string     `json:"author_association"`
	Draft               bool       `json:"draft"`
	Merged              bool       `json:"merged"`
	Mergeable           *bool      `json:"mergeable"`
	MergeableState      string     `json:"mergeable_state"`
	MergedBy            *User      `json:"merged_by"`
	Comments            int        `json:"comments"`
	ReviewComments      int        `json:"review_comments"`
	Commits             int        `json:"commits"`
	Additions           int        `json:"additions"`
	Deletions           int        `json:"deletions"`
	ChangedFiles        int        `json:"changed_files"`
	MaintainerCanModify bool       `json:"maintainer_can_modify"`
}

type pullBranch struct {
	Label string   `json:"label"`
	Ref   string   `json:"ref"`
	SHA   string   `json:"sha"`
	User  User     `json:"user"`
	Repo  repoJSON `json:"repo"`
}

// repoJSON is GitHub's repository shape, cut to what identifies it.
type repoJSON struct {
	ID            int64  `json:"id"`
	NodeID        string `json:"node_id"`
	Name          string `json:"name"`
	FullName      string `json:"full_name"`
	Owner         User   `json:"owner"`
	Private       bool   `json:"private"`
	HTMLURL       string `json:"html_url"`
	URL           string `json:"url"`
	DefaultBranch string `json:"default_branch"`
}

func (f *Fake) repoJSON(rp *repository) repoJSON {
	return repoJSON{
		ID:            rp.id,
		NodeID:        base64.StdEncoding.EncodeToString([]byte("Repository" + strconv.FormatInt(rp.id, 10))),
		Name:          rp.name,
		FullName:      rp.fullName(),
		Owner:         f.userJSON(rp.owner),
		HTMLURL:       "https://github.com/" + rp.fullName(),
		URL:           f.srv.URL + "/repos/" + rp.fullName(),
		DefaultBranch: defaultBranch,
	}
}

// association is GitHub's author_association of login in rp, as far as
// the fake knows people.
func association(rp *repository, login string) string {
	if strings.EqualFold(login, rp.owner) {
		return "OWNER"
	}
	return "COLLABORATOR"
}

func (f *Fake) pullJSON(rp *repository, p *pull) pullRequestJSON {
	base := "pulls/" + strconv.Itoa(p.number)
	branch := func(name, sha string) pullBranch {
		return pullBranch{Label: rp.owner + ":" + name, Ref: name, SHA: sha, User: f.userJSON(rp.owner), Repo: f.repoJSON(rp)}
	}
	users, teams := f.requestedJSON(rp, p)
	out := pullRequestJSON{
		URL:                f.apiURL(rp, base),
		ID:                 p.id,
		NodeID:             base64.StdEncoding.EncodeToString([]byte("PullRequest" + strconv.FormatInt(p.id, 10))),
		HTMLURL:            rp.webURL("pull/" + strconv.Itoa(p.number)),
		DiffURL:            rp.webURL("pull/" + strconv.Itoa(p.number) + ".diff"),
		PatchURL:           rp.webURL("pull/" + strconv.Itoa(p.number) + ".patch"),
		IssueURL:           f.apiURL(rp, "issues/"+strconv.Itoa(p.number)),
		CommitsURL:         f.apiURL(rp, base+"/commits"),
		CommentsURL:        f.apiURL(rp, "issues/"+strconv.Itoa(p.number)+"/comments"),
		StatusesURL:        f.apiURL(rp, "statuses/"+p.headSHA),
		Number:             p.number,
		State:              p.state,
		Title:              p.title,
		User:               f.userJSON(p.author),
		Body:               emptyNil(&p.body),
		Labels:             []any{},
		CreatedAt:          p.createdAt,
		UpdatedAt:          p.updatedAt,
		Assignees:          []User{},
		RequestedReviewers: users,
		RequestedTeams:     teams,
		Head:               branch(p.head, p.headSHA),
		Base:               branch(p.base, rp.baseSHA(p)),
		AuthorAssociation:  association(rp, p.author),
		Merged:             p.merged,
		MergeableState:     "unknown",
		Comments:           len(p.comments),
	}
	if p.state == "closed" {
		out.ClosedAt = &p.closedAt
	}
	if p.merged {
		out.MergedAt = &p.mergedAt
		out.MergeCommitSHA = &p.mergeSHA
		by := f.userJSON(p.mergedBy)
		out.MergedBy = &by
	}
	if p.state == "open" {
		_, clean := rp.mergedTree(p)
		out.Mergeable = &clean
		out.MergeableState = "clean"
		if !clean {
			out.MergeableState = "dirty"
		}
	}
	inBase := rp.ancestors(rp.baseSHA(p))
	for sha := range rp.ancestors(p.headSHA) {
		if !inBase[sha] {
			out.Commits++
		}
	}
	for _, ch := range rp.changes(p) {
		add, del := lineChanges(ch.old, ch.new)
		out.Additions += add
		out.Deletions += del
		out.ChangedFiles++
	}
	return out
}

// repoFor returns the repository named by r's path, or answers 404 and
// returns nil, as GitHub does for a repository the token may not see.
// f.mu must be held.
func (f *Fake) repoFor(w http.ResponseWriter, r *http.Request, doc string) *repository {
	rp := f.repo(r.PathValue("owner"), r.PathValue("repo"))
	if rp != nil {
		if in := installationOf(r); in != nil && !in.holds(rp) {
			rp = nil // an installation sees only its repositories
		}
	}
	if rp == nil {
		apiError(w, http.StatusNotFound, doc, "Not Found")
	}
	return rp
}

// pullFor returns the repository and pull request named by r's path, or
// answers 404 and returns nil. f.mu must be held.
func (f *Fake) pullFor(w http.ResponseWriter, r *http.Request, doc string) (*repository, *pull) {
	rp := f.repoFor(w, r, doc)
	if rp == nil {
		return nil, nil
	}
	n, err := strconv.Atoi(r.PathValue("number"))
	if err != nil || rp.pulls[n] == nil {
		apiError(w, http.StatusNotFound, doc, "Not Found")
		return nil, nil
	}
	return rp, rp.pulls[n]
}

// invalidPull is GitHub's 422 Validation Failed about a pull request.
func invalidPull(w http.ResponseWriter, doc string, e fieldError) {
	e.Resource = "PullRequest"
	apiError(w, http.StatusUnprocessableEntity, doc, "Validation Failed", e)
}

// createPull implements POST /repos/{owner}/{repo}/pulls, as the token's
// user.
func (f *Fake) createPull(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"
	var in struct {
		Title *string `json:"title"`
		Head  *string `json:"head"`
		Base  *string `json:"base"`
		Body  *string `json:"body"`
	}
	if !decode(w, r, doc, &in) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rp := f.repoFor(w, r, doc)
	if rp == nil {
		return
	}
	var missing []fieldError
	for _, v := range []struct {
		field string
		value *string
	}{{"head", in.Head}, {"base", in.Base}, {"title", in.Title}} {
		if v.value == nil || *v.value == "" {
			missing = append(missing, fieldError{Resource: "PullRequest", Code: "missing_field", Field: v.field})
		}
	}
	if len(missing) > 0 {
		apiError(w, http.StatusUnprocessableEntity, doc, "Validation Failed", missing...)
		return
	}
	head := *in.Head
	if owner, branch, ok := strings.Cut(head, ":"); ok {
		head = branch
		if !strings.EqualFold(owner, rp.owner) {
			head = "" // forks are not modelled
		}
	}
	headSHA, ok := rp.branches[head]
	if !ok {
		invalidPull(w, doc, fieldError{Code: "invalid", Field: "head"})
		return
	}
	baseSHA, ok := rp.branches[*in.Base]
	if !ok {
		invalidPull(w, doc, fieldError{Code: "invalid", Field: "base"})
		return
	}
	for _, p := range rp.pulls {
		if p.state == "open" && p.head == head && p.base == *in.Base {
			invalidPull(w, doc, fieldError{Code: "custom", Message: "A pull request already exists for " + rp.owner + ":" + head + "."})
			return
		}
	}
	if rp.ancestors(baseSHA)[headSHA] {
		invalidPull(w, doc, fieldError{Code: "custom", Message: "No commits between " + *in.Base + " and " + head})
		return
	}
	body := ""
	if in.Body != nil {
		body = *in.Body
	}
	p := f.openPull(rp, f.caller(r).Login, head, *in.Base, *in.Title, body)
	out := f.pullJSON(rp, p)
	w.Header().Set("Location", out.URL)
	writeJSON(w, http.StatusCreated, out)
}

// getPull implements GET /repos/{owner}/{repo}/pulls/{number}.
func (f *Fake) getPull(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/pulls/pulls#get-a-pull-request"
	f.mu.Lock()
	defer f.mu.Unlock()
	if rp, p := f.pullFor(w, r, doc); p != nil {
		writeJSON(w, http.StatusOK, f.pullJSON(rp, p))
	}
}

// listPulls implements GET /repos/{owner}/{repo}/pulls: newest first,
// paginated, filtered by state (open by default; closed; all) and by
// head ("user:ref-name", as GitHub spells it).
func (f *Fake) listPulls(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/pulls/pulls#list-pull-requests"
	f.mu.Lock()
	defer f.mu.Unlock()
	rp := f.repoFor(w, r, doc)
	if rp == nil {
		return
	}
	q := r.URL.Query()
	state := cmp.Or(q.Get("state"), "open")
	var list []*pull
	for _, p := range rp.pulls {
		if state != "all" && p.state != state {
			continue
		}
		if h := q.Get("head"); h != "" {
			user, branch, _ := strings.Cut(h, ":")
			if !strings.EqualFold(user, rp.owner) || branch != p.head {
				continue
			}
		}
		list = append(list, p)
	}
	slices.SortFunc(list, func(a, b *pull) int { return b.number - a.number })
	start, end := f.paginate(w, r, len(list))
	out := make([]any, 0, end-start)
	for _, p := range list[start:end] {
		out = append(out, f.pullJSON(rp, p))
	}
	writeJSON(w, http.StatusOK, out)
}

// updatePull implements PATCH /repos/{owner}/{repo}/pulls/{number}: the
// title, the body, and the state (closing, or reopening one that was not
// merged).
func (f *Fake) updatePull(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/pulls/pulls#update-a-pull-request"
	var in struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		State *string `json:"state"`
	}
	if !decode(w, r, doc, &in) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rp, p := f.pullFor(w, r, doc)
	if p == nil {
		return
	}
	if in.State != nil {
		switch _, headExists := rp.branches[p.head]; {
		case *in.State != "open" && *in.State != "closed":
			invalidPull(w, doc, fieldError{Code: "invalid", Field: "state"})
			return
		case *in.State == "open" && p.state == "closed" && (p.merged || !headExists):
			invalidPull(w, doc, fieldError{Code: "custom", Field: "state", Message: "state cannot be changed. The pull request cannot be reopened."})
			return
		case *in.State == "closed":
			f.closePull(p)
		case p.state == "closed":
			p.state = "open"
			p.closedAt = time.Time{}
			p.headSHA = rp.branches[p.head]
		}
	}
	if in.Title != nil {
		p.title = *in.Title
	}
	if in.Body != nil {
		p.body = *in.Body
	}
	p.updatedAt = f.stamp()
	writeJSON(w, http.StatusOK, f.pullJSON(rp, p))
}

// mergePull implements PUT /repos/{owner}/{repo}/pulls/{number}/merge:
// a merge commit (or, for squash and rebase, a single commit) on the base
// branch with the pull request's changes.
func (f *Fake) mergePull(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"
	var in struct {
		CommitTitle   string `json:"commit_title"`
		CommitMessage string `json:"commit_message"`
		SHA           string `json:"sha"`
		MergeMethod   string `json:"merge_method"`
	}
	if !decode(w, r, doc, &in) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rp, p := f.pullFor(w, r, doc)
	if p == nil {
		return
	}
	if p.state != "open" {
		apiError(w, http.StatusMethodNotAllowed, doc, "Pull Request is not mergeable")
		return
	}
	switch in.MergeMethod {
	case "":
		in.MergeMethod = "merge"
	case "merge", "squash", "rebase":
	default:
		invalidPull(w, doc, fieldError{Code: "invalid", Field: "merge_method"})
		return
	}
	if in.SHA != "" && !strings.EqualFold(in.SHA, p.headSHA) {
		apiError(w, http.StatusConflict, doc, "Head branch was modified. Review and try the merge again.")
		return
	}
	files, ok := rp.mergedTree(p)
	if !ok {
		apiError(w, http.StatusMethodNotAllowed, doc, "Pull Request is not mergeable")
		return
	}

	message := in.CommitTitle
	parents := []string{rp.baseSHA(p)}
	if in.MergeMethod == "merge" {
		parents = append(parents, p.headSHA)
		if message == "" {
			message = fmt.Sprintf("Merge pull request #%d from %s/%s", p.number, rp.owner, p.head)
		}
	} else if message == "" {
		message = fmt.Sprintf("%s (#%d)", p.title, p.number)
	}
	if in.CommitMessage != "" {
		message += "\n\n" + in.CommitMessage
	}
	c := rp.newCommit(f.now(), message, files, parents)
	by := f.caller(r).Login
	c.author = by
	p.merged, p.mergeSHA, p.mergedBy, p.mergedAt = true, c.sha, by, f.stamp()
	f.closePull(p)
	f.moveBranch(rp, p.base, c.sha, "pr_merge", by)
	writeJSON(w, http.StatusOK, map[string]any{"sha": c.sha, "merged": true, "message": "Pull Request successfully merged"})
}

// pullFile is GitHub's diff-entry shape.
type pullFile struct {
	SHA         string `json:"sha"`
	Filename    string `json:"filename"`
	Status      string `json:"status"`
	Additions   int    `json:"additions"`
	Deletions   int    `json:"deletions"`
	Changes     int    `json:"changes"`
	BlobURL     string `json:"blob_url"`
	RawURL      string `json:"raw_url"`
	ContentsURL string `json:"contents_url"`
}

// listPullFiles implements GET /repos/{owner}/{repo}/pulls/{number}/files,
// in path order, paginated.
func (f *Fake) listPullFiles(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/pulls/pulls#list-pull-requests-files"
	f.mu.Lock()
	defer f.mu.Unlock()
	rp, p := f.pullFor(w, r, doc)
	if p == nil {
		return
	}
	changes := rp.changes(p)
	start, end := f.paginate(w, r, len(changes))
	out := []pullFile{}
	for _, ch := range changes[start:end] {
		content := ch.new
		if ch.status == "removed" {
			content = ch.old
		}
		add, del := lineChanges(ch.old, ch.new)
		out = append(out, pullFile{
			SHA: blobSHA(content), Filename: ch.path, Status: ch.status,
			Additions: add, Deletions: del, Changes: add + del,
			BlobURL:     rp.webURL("blob/" + p.headSHA + "/" + ch.path),
			RawURL:      rp.webURL("raw/" + p.headSHA + "/" + ch.path),
			ContentsURL: f.apiURL(rp, "contents/"+ch.path+"?ref="+p.headSHA),
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// lineChanges counts the lines added and deleted from old to new, for one
// changed stretch (the common first and last lines set aside): exact for
// the small edits of tests.
func lineChanges(old, new []byte) (add, del int) {
	a, b := lines(old), lines(new)
	for len(a) > 0 && len(b) > 0 && a[0] == b[0] {
		a, b = a[1:], b[1:]
	}
	for len(a) > 0 && len(b) > 0 && a[len(a)-1] == b[len(b)-1] {
		a, b = a[:len(a)-1], b[:len(b)-1]
	}
	return len(b), len(a)
}

func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// requestReviewers implements POST
// /repos/{owner}/{repo}/pulls/{number}/requested_reviewers.
func (f *Fake) requestReviewers(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/pulls/review-requests#request-reviewers-for-a-pull-request"
	var in struct {
		Reviewers     []string `json:"reviewers"`
		TeamReviewers []string `json:"team_reviewers"`
	}
	if !decode(w, r, doc, &in) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rp, p := f.pullFor(w, r, doc)
	if p == nil {
		return
	}
	for _, login := range in.Reviewers {
		if strings.EqualFold(login, p.author) {
			apiError(w, http.StatusUnprocessableEntity, doc, "Review cannot be requested from pull request author.")
			return
		}
	}
	p.reviewers = addFold(p.reviewers, in.Reviewers...)
	p.teams = addFold(p.teams, in.TeamReviewers...)
	p.updatedAt = f.stamp()
	writeJSON(w, http.StatusCreated, f.pullJSON(rp, p))
}

// listRequestedReviewers implements GET
// /repos/{owner}/{repo}/pulls/{number}/requested_reviewers.
func (f *Fake) listRequestedReviewers(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/pulls/review-requests#get-all-requested-reviewers-for-a-pull-request"
	f.mu.Lock()
	defer f.mu.Unlock()
	rp, p := f.pullFor(w, r, doc)
	if p == nil {
		return
	}
	users, teams := f.requestedJSON(rp, p)
	writeJSON(w, http.StatusOK, map[string]any{"users": users, "teams": teams})
}

// requestedJSON is p's requested reviewers: the users and the teams, as
// GitHub gives them (empty lists, never null).
func (f *Fake) requestedJSON(rp *repository, p *pull) ([]User, []teamJSON) {
	users, teams := []User{}, []teamJSON{}
	for _, login := range p.reviewers {
		users = append(users, f.userJSON(login))
	}
	for _, slug := range p.teams {
		teams = append(teams, f.teamJSON(rp.owner, slug))
	}
	return users, teams
}

// addFold adds the names not already in list, comparing them as GitHub
// does, without case.
func addFold(list []string, names ...string) []string {
	for _, n := range names {
		if !slices.ContainsFunc(list, func(s string) bool { return strings.EqualFold(s, n) }) {
			list = append(list, n)
		}
	}
	return list
}
