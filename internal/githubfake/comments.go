package githubfake

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// issueComment is a comment on a pull request's conversation (GitHub
// keeps them as issue comments).
type issueComment struct {
	id        int64
	user      string
	body      string
	createdAt time.Time
	updatedAt time.Time
	edits     int // how many times it was edited (PATCH), for tests
}

// issueCommentJSON is GitHub's issue-comment shape
// (https://docs.github.com/rest/issues/comments).
type issueCommentJSON struct {
	ID                int64     `json:"id"`
	NodeID            string    `json:"node_id"`
	URL               string    `json:"url"`
	HTMLURL           string    `json:"html_url"`
	Body              string    `json:"body"`
	User              User      `json:"user"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
	IssueURL          string    `json:"issue_url"`
	AuthorAssociation string    `json:"author_association"`
}

// createComment implements POST /repos/{owner}/{repo}/issues/{number}/comments
// for pull requests (the fake has no other issues), as the token's user.
func (f *Fake) createComment(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/issues/comments#create-an-issue-comment"
	var in struct {
		Body *string `json:"body"`
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
	if in.Body == nil || *in.Body == "" {
		notSupplied(w, doc, "body")
		return
	}
	f.nextID++
	c := &issueComment{id: f.nextID, user: f.caller(r).Login, body: *in.Body, createdAt: f.stamp()}
	c.updatedAt = c.createdAt
	p.comments = append(p.comments, c)
	out := f.commentJSON(rp, p, c)
	w.Header().Set("Location", out.URL)
	writeJSON(w, http.StatusCreated, out)
}

func (f *Fake) commentJSON(rp *repository, p *pull, c *issueComment) issueCommentJSON {
	return issueCommentJSON{
		ID:                c.id,
		NodeID:            base64.StdEncoding.EncodeToString([]byte("IssueComment" + strconv.FormatInt(c.id, 10))),
		URL:               f.apiURL(rp, "issues/comments/"+strconv.FormatInt(c.id, 10)),
		HTMLURL:           rp.webURL(fmt.Sprintf("pull/%d#issuecomment-%d", p.number, c.id)),
		Body:              c.body,
		User:              f.userJSON(c.user),
		CreatedAt:         c.createdAt,
		UpdatedAt:         c.updatedAt,
		IssueURL:          f.apiURL(rp, "issues/"+strconv.Itoa(p.number)),
		AuthorAssociation: association(rp, c.user),
	}
}

// listComments implements GET /repos/{owner}/{repo}/issues/{number}/comments:
// the conversation's comments, oldest first, paginated.
func (f *Fake) listComments(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/issues/comments#list-issue-comments"
	f.mu.Lock()
	rp, p := f.pullFor(w, r, doc)
	if p == nil {
		f.mu.Unlock()
		return
	}
	all := make([]issueCommentJSON, len(p.comments))
	for i, c := range p.comments {
		all[i] = f.commentJSON(rp, p, c)
	}
	f.mu.Unlock()
	start, end := f.paginate(w, r, len(all))
	writeJSON(w, http.StatusOK, all[start:end])
}

// updateComment implements PATCH /repos/{owner}/{repo}/issues/comments/{id}.
// As on GitHub, only its author may edit a comment here (GitHub also lets
// collaborators with write access, which pier never relies on): anyone
// else gets 403; an unknown comment 404; an empty body 422.
func (f *Fake) updateComment(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/issues/comments#update-an-issue-comment"
	var in struct {
		Body *string `json:"body"`
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
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	for _, p := range rp.pulls {
		for _, c := range p.comments {
			if c.id != id {
				continue
			}
			if c.user != f.caller(r).Login {
				apiError(w, http.StatusForbidden, doc, "Resource not accessible by integration")
				return
			}
			if in.Body == nil || *in.Body == "" {
				notSupplied(w, doc, "body")
				return
			}
			c.body, c.updatedAt = *in.Body, f.stamp()
			c.edits++
			writeJSON(w, http.StatusOK, f.commentJSON(rp, p, c))
			return
		}
	}
	apiError(w, http.StatusNotFound, doc, "Not Found")
}

// CommentEdits returns how many times each comment of pull request
// number was edited, oldest comment first.
func (f *Fake) CommentEdits(owner, repo string, number int) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for _, c := range f.mustPull(owner, repo, number).comments {
		out = append(out, c.edits)
	}
	return out
}
