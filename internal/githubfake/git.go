package githubfake

import (
	"bytes"
	"cmp"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// defaultBranch is the default branch of every repository of the fake.
const defaultBranch = "main"

// repository is what the fake keeps of one repository: its git data, and
// the pull requests and workflows that hang off it.
type repository struct {
	owner, name string
	id          int64
	commits     map[string]*commit // by SHA
	branches    map[string]string  // head commit SHA by branch name
	pulls       map[int]*pull      // by number
	lastNumber  int
	workflows   []*workflow
	runs        []*WorkflowRun // oldest first
	dispatches  []Dispatch
	activity    []activity // oldest first
}

// activity is one change to a branch, as GitHub's repository activity
// API lists it: who moved which ref from where to where.
type activity struct {
	id            int64
	before, after string
	ref           string // refs/heads/NAME
	at            time.Time
	typ           string // push, force_push, branch_creation, branch_deletion, pr_merge
	actor         string // a login; "" when no GitHub account did it
}

// commit is a commit with its whole tree: a test repository is small, and
// a full copy per commit keeps diffs and merges simple.
type commit struct {
	sha     string
	parents []string
	message string
	date    time.Time
	files   map[string][]byte // by path
	// author is the login of the GitHub account the commit's author and
	// committer are; "" for a commit no account is linked to.
	author string
}

func newRepository(owner, name string) *repository {
	return &repository{
		owner:    owner,
		name:     name,
		id:       stableID("repo:" + repoKey(owner, name)),
		commits:  map[string]*commit{},
		branches: map[string]string{},
		pulls:    map[int]*pull{},
	}
}

// newCommit records a commit of files on parents. Its SHA is made up but
// unique, and looks like git's.
func (rp *repository) newCommit(now time.Time, message string, files map[string][]byte, parents []string) *commit {
	h := sha1.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s\x00%s", rp.fullName(), len(rp.commits), strings.Join(parents, ","), message)
	c := &commit{
		sha:     hex.EncodeToString(h.Sum(nil)),
		parents: parents,
		message: message,
		date:    now.UTC().Truncate(time.Second),
		files:   files,
	}
	rp.commits[c.sha] = c
	return c
}

// commitOn commits changes (a nil content deletes the path) on top of
// branch, which must exist, as the account author, and pushes it: the
// branch moves, and the push is recorded as author's.
func (f *Fake) commitOn(rp *repository, branch, author, message string, changes map[string][]byte) *commit {
	parent := rp.commits[rp.branches[branch]]
	files := maps.Clone(parent.files)
	for path, content := range changes {
		if content == nil {
			delete(files, path)
		} else {
			files[path] = bytes.Clone(content)
		}
	}
	c := rp.newCommit(f.now(), message, files, []string{parent.sha})
	c.author = author
	f.moveBranch(rp, branch, c.sha, "push", author)
	return c
}

// moveBranch points branch at sha, and with it the head of every open
// pull request from that branch, as a push does on GitHub, and records
// the change as actor's activity of kind typ.
func (f *Fake) moveBranch(rp *repository, branch, sha, typ, actor string) {
	f.nextID++
	rp.activity = append(rp.activity, activity{
		id: f.nextID, before: cmp.Or(rp.branches[branch], zeroSHA), after: sha,
		ref: "refs/heads/" + branch, at: f.stamp(), typ: typ, actor: actor,
	})
	rp.branches[branch] = sha
	for _, p := range rp.pulls {
		if p.state == "open" && p.head == branch && p.headSHA != sha {
			p.headSHA = sha
			p.updatedAt = f.stamp()
		}
	}
}

// resolve returns the commit that ref names: a branch (with or without
// refs/heads/) or a full commit SHA.
func (rp *repository) resolve(ref string) (*commit, bool) {
	if sha, ok := rp.branches[strings.TrimPrefix(ref, "refs/heads/")]; ok {
		return rp.commits[sha], true
	}
	c, ok := rp.commits[strings.ToLower(ref)]
	return c, ok
}

// ancestors returns sha and every commit it descends from.
func (rp *repository) ancestors(sha string) map[string]bool {
	seen := map[string]bool{}
	for queue := []string{sha}; len(queue) > 0; queue = queue[1:] {
		if s := queue[0]; !seen[s] {
			seen[s] = true
			queue = append(queue, rp.commits[s].parents...)
		}
	}
	return seen
}

// mergeBase returns the nearest common ancestor of a and b, the commit a
// pull request's changes are counted from.
func (rp *repository) mergeBase(a, b string) string {
	inA := rp.ancestors(a)
	seen := map[string]bool{}
	for queue := []string{b}; len(queue) > 0; queue = queue[1:] {
		s := queue[0]
		if inA[s] {
			return s
		}
		if !seen[s] {
			seen[s] = true
			queue = append(queue, rp.commits[s].parents...)
		}
	}
	return "" // unrelated histories: not in this fake, where all start at main
}

// fileChange is one path that differs between two trees.
type fileChange struct {
	path     string
	status   string // added, modified or removed
	old, new []byte
}

// diff returns the paths that differ between the trees of from and to, in
// path order.
func diff(from, to *commit) []fileChange {
	var out []fileChange
	for path, n := range to.files {
		o, ok := from.files[path]
		switch {
		case !ok:
			out = append(out, fileChange{path: path, status: "added", new: n})
		case !bytes.Equal(o, n):
			out = append(out, fileChange{path: path, status: "modified", old: o, new: n})
		}
	}
	for path, o := range from.files {
		if _, ok := to.files[path]; !ok {
			out = append(out, fileChange{path: path, status: "removed", old: o})
		}
	}
	slices.SortFunc(out, func(a, b fileChange) int { return strings.Compare(a.path, b.path) })
	return out
}

// Commit makes a commit on branch of owner/repo that sets files (a nil
// content deletes the path), as a push would, and returns its SHA. A
// missing branch is created from main first. The head of an open pull
// request from branch moves with it, so reviews given before are on an
// older commit. No GitHub account is linked to the commit or the push;
// Push makes one by a person.
func (f *Fake) Commit(owner, repo, branch string, files map[string][]byte) (sha string) {
	return f.Push(owner, repo, branch, "", files)
}

// Push is Commit by the person login: the commit's author and committer
// are their account, and the repository's activity lists the push as
// theirs.
func (f *Fake) Push(owner, repo, branch, login string, files map[string][]byte) (sha string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rp := f.mustRepo(owner, repo)
	if _, ok := rp.branches[branch]; !ok {
		f.moveBranch(rp, branch, rp.branches[defaultBranch], "branch_creation", login)
	}
	paths := slices.Sorted(maps.Keys(files))
	return f.commitOn(rp, branch, login, "Update "+strings.Join(paths, ", "), files).sha
}

// zeroSHA is what GitHub gives as the "before" of a branch's creation.
const zeroSHA = "0000000000000000000000000000000000000000"

// Branch returns the head commit of branch of owner/repo.
func (f *Fake) Branch(owner, repo, branch string) (sha string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sha, ok = f.mustRepo(owner, repo).branches[branch]
	return sha, ok
}

// File returns the content of path at ref (a branch or a commit SHA) of
// owner/repo.
func (f *Fake) File(owner, repo, ref, path string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.mustRepo(owner, repo).resolve(ref)
	if !ok {
		return nil, false
	}
	content, ok := c.files[path]
	return bytes.Clone(content), ok
}

// gitRef is GitHub's reference shape
// (https://docs.github.com/rest/git/refs).
type gitRef struct {
	Ref    string    `json:"ref"`
	NodeID string    `json:"node_id"`
	URL    string    `json:"url"`
	Object gitObject `json:"object"`
}

type gitObject struct {
	Type string `json:"type"`
	SHA  string `json:"sha"`
	URL  string `json:"url"`
}

func (f *Fake) refJSON(rp *repository, branch string) gitRef {
	ref := "refs/heads/" + branch
	sha := rp.branches[branch]
	return gitRef{
		Ref:    ref,
		NodeID: base64.StdEncoding.EncodeToString([]byte("Ref" + ref)),
		URL:    f.apiURL(rp, "git/"+ref),
		Object: gitObject{Type: "commit", SHA: sha, URL: f.apiURL(rp, "git/commits/"+sha)},
	}
}

// getRef implements GET /repos/{owner}/{repo}/git/ref/{ref}. Only
// branches (heads/...) exist in the fake.
func (f *Fake) getRef(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/git/refs#get-a-reference"
	f.mu.Lock()
	defer f.mu.Unlock()
	rp := f.repoFor(w, r, doc)
	if rp == nil {
		return
	}
	branch, ok := strings.CutPrefix(r.PathValue("ref"), "heads/")
	if _, exists := rp.branches[branch]; !ok || !exists {
		apiError(w, http.StatusNotFound, doc, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, f.refJSON(rp, branch))
}

// createRef implements POST /repos/{owner}/{repo}/git/refs for branches.
func (f *Fake) createRef(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/git/refs#create-a-reference"
	var in struct {
		Ref *string `json:"ref"`
		SHA *string `json:"sha"`
	}
	if !decode(w, r, doc, &in) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rp := f.repoFor(w, r, doc)
	switch {
	case rp == nil:
		return
	case in.Ref == nil:
		notSupplied(w, doc, "ref")
		return
	case in.SHA == nil:
		notSupplied(w, doc, "sha")
		return
	}
	branch, ok := strings.CutPrefix(*in.Ref, "refs/heads/")
	if !ok || branch == "" {
		apiError(w, http.StatusUnprocessableEntity, doc, "Reference name must start with 'refs/' and have at least two slashes.")
		return
	}
	if _, exists := rp.branches[branch]; exists {
		apiError(w, http.StatusUnprocessableEntity, doc, "Reference already exists")
		return
	}
	if rp.commits[strings.ToLower(*in.SHA)] == nil {
		apiError(w, http.StatusUnprocessableEntity, doc, "Object does not exist")
		return
	}
	f.moveBranch(rp, branch, strings.ToLower(*in.SHA), "branch_creation", f.caller(r).Login)
	ref := f.refJSON(rp, branch)
	w.Header().Set("Location", ref.URL)
	writeJSON(w, http.StatusCreated, ref)
}

// deleteRef implements DELETE /repos/{owner}/{repo}/git/refs/{ref}. As on
// GitHub, deleting a branch closes the open pull requests from or into it.
func (f *Fake) deleteRef(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/git/refs#delete-a-reference"
	f.mu.Lock()
	defer f.mu.Unlock()
	rp := f.repoFor(w, r, doc)
	if rp == nil {
		return
	}
	branch, ok := strings.CutPrefix(r.PathValue("ref"), "heads/")
	if _, exists := rp.branches[branch]; !ok || !exists {
		apiError(w, http.StatusUnprocessableEntity, doc, "Reference does not exist")
		return
	}
	f.nextID++
	rp.activity = append(rp.activity, activity{
		id: f.nextID, before: rp.branches[branch], after: zeroSHA,
		ref: "refs/heads/" + branch, at: f.stamp(), typ: "branch_deletion", actor: f.caller(r).Login,
	})
	delete(rp.branches, branch)
	for _, p := range rp.pulls {
		if p.state == "open" && (p.head == branch || p.base == branch) {
			f.closePull(p)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// updateRef implements PATCH /repos/{owner}/{repo}/git/refs/{ref} for
// branches: a push of a commit the repository has, refused (422) unless
// it descends from the branch's head or force is set.
func (f *Fake) updateRef(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/git/refs#update-a-reference"
	var in struct {
		SHA   *string `json:"sha"`
		Force bool    `json:"force"`
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
	branch, ok := strings.CutPrefix(r.PathValue("ref"), "heads/")
	head, exists := rp.branches[branch]
	switch {
	case !ok || !exists:
		apiError(w, http.StatusUnprocessableEntity, doc, "Reference does not exist")
		return
	case in.SHA == nil:
		notSupplied(w, doc, "sha")
		return
	case rp.commits[strings.ToLower(*in.SHA)] == nil:
		apiError(w, http.StatusUnprocessableEntity, doc, "Object does not exist")
		return
	}
	sha := strings.ToLower(*in.SHA)
	typ := "push"
	if !rp.ancestors(sha)[head] {
		if !in.Force {
			apiError(w, http.StatusUnprocessableEntity, doc, "Update is not a fast forward")
			return
		}
		typ = "force_push"
	}
	f.moveBranch(rp, branch, sha, typ, f.caller(r).Login)
	writeJSON(w, http.StatusOK, f.refJSON(rp, branch))
}

// activityJSON is GitHub's repository activity shape
// (https://docs.github.com/rest/repos/repos#list-repository-activities).
type activityJSON struct {
	ID           int64     `json:"id"`
	NodeID       string    `json:"node_id"`
	Before       string    `json:"before"`
	After        string    `json:"after"`
	Ref          string    `json:"ref"`
	Timestamp    time.Time `json:"timestamp"`
	ActivityType string    `json:"activity_type"`
	Actor        *User     `json:"actor"`
}

// listActivity implements GET /repos/{owner}/{repo}/activity: newest
// first (direction=asc for oldest first), filtered by ref (a branch name
// or refs/heads/NAME), actor and activity_type, paginated with per_page.
func (f *Fake) listActivity(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/repos/repos#list-repository-activities"
	q := r.URL.Query()
	f.mu.Lock()
	rp := f.repoFor(w, r, doc)
	if rp == nil {
		f.mu.Unlock()
		return
	}
	ref := q.Get("ref")
	if ref != "" && !strings.HasPrefix(ref, "refs/") {
		ref = "refs/heads/" + ref
	}
	var out []activityJSON
	for _, a := range rp.activity {
		if ref != "" && a.ref != ref || q.Get("activity_type") != "" && a.typ != q.Get("activity_type") ||
			q.Get("actor") != "" && !strings.EqualFold(a.actor, q.Get("actor")) {
			continue
		}
		js := activityJSON{
			ID: a.id, NodeID: base64.StdEncoding.EncodeToString([]byte("Activity" + strconv.FormatInt(a.id, 10))),
			Before: a.before, After: a.after, Ref: a.ref, Timestamp: a.at, ActivityType: a.typ,
		}
		if a.actor != "" {
			u := f.userJSON(a.actor)
			js.Actor = &u
		}
		out = append(out, js)
	}
	f.mu.Unlock()
	if q.Get("direction") != "asc" {
		slices.Reverse(out)
	}
	start, end := f.paginate(w, r, len(out))
	writeJSON(w, http.StatusOK, append([]activityJSON{}, out[start:end]...))
}

// commitJSON is GitHub's commit shape
// (https://docs.github.com/rest/commits/commits#get-a-commit), with the
// fields clients read: the accounts of its author and committer, null
// when no account is linked to their email.
type commitJSON struct {
	SHA     string `json:"sha"`
	NodeID  string `json:"node_id"`
	URL     string `json:"url"`
	HTMLURL string `json:"html_url"`
	Commit  struct {
		Author    gitActor `json:"author"`
		Committer gitActor `json:"committer"`
		Message   string   `json:"message"`
	} `json:"commit"`
	Author    *User       `json:"author"`
	Committer *User       `json:"committer"`
	Parents   []parentRef `json:"parents"`
}

// getCommit answers GET /repos/{owner}/{repo}/commits/{ref}.
func (f *Fake) getCommit(w http.ResponseWriter, r *http.Request, ref string) {
	const doc = "https://docs.github.com/rest/commits/commits#get-a-commit"
	f.mu.Lock()
	defer f.mu.Unlock()
	rp := f.repoFor(w, r, doc)
	if rp == nil {
		return
	}
	c, ok := rp.resolve(ref)
	if !ok {
		apiError(w, http.StatusUnprocessableEntity, doc, "No commit found for SHA: "+ref)
		return
	}
	out := commitJSON{
		SHA: c.sha, NodeID: base64.StdEncoding.EncodeToString([]byte("Commit" + c.sha)),
		URL: f.apiURL(rp, "commits/"+c.sha), HTMLURL: rp.webURL("commit/" + c.sha),
	}
	name := cmp.Or(c.author, "someone")
	out.Commit.Author = gitActor{Date: c.date, Name: name, Email: name + "@example.com"}
	out.Commit.Committer, out.Commit.Message = out.Commit.Author, c.message
	if c.author != "" {
		u := f.userJSON(c.author)
		out.Author, out.Committer = &u, &u
	}
	for _, p := range c.parents {
		out.Parents = append(out.Parents, parentRef{URL: f.apiURL(rp, "commits/"+p), HTMLURL: rp.webURL("commit/" + p), SHA: p})
	}
	writeJSON(w, http.StatusOK, out)
}

// apiURL is the API URL of path under rp.
func (f *Fake) apiURL(rp *repository, path string) string {
	return f.srv.URL + "/repos/" + rp.fullName() + "/" + path
}

// webURL is the github.com URL of path under rp.
func (rp *repository) webURL(path string) string {
	return "https://github.com/" + rp.fullName() + "/" + path
}

func (rp *repository) fullName() string { return rp.owner + "/" + rp.name }

// stamp is the fake's time now, as GitHub gives it: UTC, to the second.
// f.mu must be held.
func (f *Fake) stamp() time.Time { return f.now().UTC().Truncate(time.Second) }
