package githubfake

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// review is a submitted pull request review.
type review struct {
	id          int64
	user        string
	state       string // APPROVED, CHANGES_REQUESTED, COMMENTED or DISMISSED
	body        string
	commitID    string
	submittedAt time.Time
}

// Review submits a review by user on pull request number of owner/repo,
// given on its current head commit, and returns the review's id. state
// is APPROVED, CHANGES_REQUESTED or COMMENTED. As on GitHub, the author
// can only comment on their own pull request, and a review answers a
// request for one.
func (f *Fake) Review(owner, repo string, number int, user, state string) (id int64) {
	return f.ReviewOn(owner, repo, number, user, state, "")
}

// ReviewOn is Review given on commitID rather than the current head (a
// review left before a push); an empty commitID is the current head.
func (f *Fake) ReviewOn(owner, repo string, number int, user, state, commitID string) (id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.mustPull(owner, repo, number)
	switch state {
	case "COMMENTED":
	case "APPROVED", "CHANGES_REQUESTED":
		if strings.EqualFold(user, p.author) {
			panic(fmt.Sprintf("githubfake: %s cannot give a %s review on their own pull request", user, state))
		}
	default:
		panic("githubfake: review state " + state + " (want APPROVED, CHANGES_REQUESTED or COMMENTED)")
	}
	if commitID == "" {
		commitID = p.headSHA
	}
	f.nextID++
	p.reviews = append(p.reviews, &review{
		id: f.nextID, user: user, state: state, commitID: commitID, submittedAt: f.stamp(),
	})
	p.reviewers = slices.DeleteFunc(p.reviewers, func(s string) bool { return strings.EqualFold(s, user) })
	return f.nextID
}

// DismissReview dismisses review id of pull request number, as a
// maintainer would: it stays in the list with the state DISMISSED.
func (f *Fake) DismissReview(owner, repo string, number int, id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, rv := range f.mustPull(owner, repo, number).reviews {
		if rv.id == id {
			rv.state = "DISMISSED"
			return
		}
	}
	panic(fmt.Sprintf("githubfake: no review %d on %s/%s#%d", id, owner, repo, number))
}

// reviewJSON is GitHub's pull-request-review shape
// (https://docs.github.com/rest/pulls/reviews).
type reviewJSON struct {
	ID                int64       `json:"id"`
	NodeID            string      `json:"node_id"`
	User              User        `json:"user"`
	Body              string      `json:"body"`
	State             string      `json:"state"`
	HTMLURL           string      `json:"html_url"`
	PullRequestURL    string      `json:"pull_request_url"`
	AuthorAssociation string      `json:"author_association"`
	Links             reviewLinks `json:"_links"`
	SubmittedAt       time.Time   `json:"submitted_at"`
	CommitID          string      `json:"commit_id"`
}

type reviewLinks struct {
	HTML        href `json:"html"`
	PullRequest href `json:"pull_request"`
}

type href struct {
	Href string `json:"href"`
}

// listReviews implements GET /repos/{owner}/{repo}/pulls/{number}/reviews:
// chronological, paginated.
func (f *Fake) listReviews(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/pulls/reviews#list-reviews-for-a-pull-request"
	f.mu.Lock()
	defer f.mu.Unlock()
	rp, p := f.pullFor(w, r, doc)
	if p == nil {
		return
	}
	start, end := f.paginate(w, r, len(p.reviews))
	prURL := f.apiURL(rp, "pulls/"+strconv.Itoa(p.number))
	out := []reviewJSON{}
	for _, rv := range p.reviews[start:end] {
		html := rp.webURL(fmt.Sprintf("pull/%d#pullrequestreview-%d", p.number, rv.id))
		out = append(out, reviewJSON{
			ID:                rv.id,
			NodeID:            base64.StdEncoding.EncodeToString([]byte("PullRequestReview" + strconv.FormatInt(rv.id, 10))),
			User:              f.userJSON(rv.user),
			Body:              rv.body,
			State:             rv.state,
			HTMLURL:           html,
			PullRequestURL:    prURL,
			AuthorAssociation: association(rp, rv.user),
			Links:             reviewLinks{HTML: href{html}, PullRequest: href{prURL}},
			SubmittedAt:       rv.submittedAt,
			CommitID:          rv.commitID,
		})
	}
	writeJSON(w, http.StatusOK, out)
}
