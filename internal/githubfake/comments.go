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
	p.comments = append(p.comments, c)
	out := issueCommentJSON{
		ID:                c.id,
		NodeID:            base64.StdEncoding.EncodeToString([]byte("IssueComment" + strconv.FormatInt(c.id, 10))),
		URL:               f.apiURL(rp, "issues/comments/"+strconv.FormatInt(c.id, 10)),
		HTMLURL:           rp.webURL(fmt.Sprintf("pull/%d#issuecomment-%d", p.number, c.id)),
		Body:              c.body,
		User:              f.userJSON(c.user),
		CreatedAt:         c.createdAt,
		UpdatedAt:         c.createdAt,
		IssueURL:          f.apiURL(rp, "issues/"+strconv.Itoa(p.number)),
		AuthorAssociation: association(rp, c.user),
	}
	w.Header().Set("Location", out.URL)
	writeJSON(w, http.StatusCreated, out)
}
