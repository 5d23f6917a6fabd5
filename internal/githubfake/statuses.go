package githubfake

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Status is a commit status in GitHub's shape
// (https://docs.github.com/rest/commits/statuses).
type Status struct {
	URL         string    `json:"url"`
	AvatarURL   *string   `json:"avatar_url"`
	ID          int64     `json:"id"`
	NodeID      string    `json:"node_id"`
	State       string    `json:"state"`
	Description *string   `json:"description"`
	TargetURL   *string   `json:"target_url"`
	Context     string    `json:"context"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Creator     User      `json:"creator"`
}

// maxStatusDescription is GitHub's limit on a status description, in
// characters.
const maxStatusDescription = 140

// Statuses returns the statuses created on owner/repo at sha, oldest
// first (GitHub's list is newest first).
func (f *Fake) Statuses(owner, repo, sha string) []Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Status(nil), f.statuses[statusKey(owner, repo, sha)]...)
}

func statusKey(owner, repo, sha string) string {
	return repoKey(owner, repo) + "@" + strings.ToLower(sha)
}

// createStatus implements POST /repos/{owner}/{repo}/statuses/{sha}.
func (f *Fake) createStatus(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/commits/statuses#create-a-commit-status"
	sha := r.PathValue("sha")
	var in struct {
		State       *string `json:"state"`
		TargetURL   *string `json:"target_url"`
		Description *string `json:"description"`
		Context     *string `json:"context"`
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
	case in.State == nil:
		notSupplied(w, doc, "state")
		return
	case !isSHA(sha):
		apiError(w, http.StatusUnprocessableEntity, doc, "No commit found for SHA: "+sha)
		return
	}
	var invalid []fieldError
	switch *in.State {
	case "error", "failure", "pending", "success":
	default:
		invalid = append(invalid, fieldError{Resource: "Status", Code: "custom", Field: "state",
			Message: "state is not included in the list"})
	}
	if in.Description != nil && utf8.RuneCountInString(*in.Description) > maxStatusDescription {
		invalid = append(invalid, fieldError{Resource: "Status", Code: "custom", Field: "description",
			Message: fmt.Sprintf("description is too long (maximum is %d characters)", maxStatusDescription)})
	}
	if len(invalid) > 0 {
		apiError(w, http.StatusUnprocessableEntity, doc, "Validation Failed", invalid...)
		return
	}

	f.nextID++
	now := f.stamp()
	by := f.caller(r)
	avatar := by.AvatarURL
	s := Status{
		URL:         f.apiURL(rp, "statuses/"+sha),
		AvatarURL:   &avatar,
		ID:          f.nextID,
		NodeID:      base64.StdEncoding.EncodeToString([]byte("StatusContext" + strconv.FormatInt(f.nextID, 10))),
		State:       *in.State,
		Description: emptyNil(in.Description),
		TargetURL:   emptyNil(in.TargetURL),
		Context:     "default",
		CreatedAt:   now,
		UpdatedAt:   now,
		Creator:     by,
	}
	if in.Context != nil && *in.Context != "" {
		s.Context = *in.Context
	}
	key := statusKey(rp.owner, rp.name, sha)
	f.statuses[key] = append(f.statuses[key], s)
	w.Header().Set("Location", s.URL)
	writeJSON(w, http.StatusCreated, s)
}

// listStatuses implements GET /repos/{owner}/{repo}/commits/{ref}/statuses:
// newest first, paginated with per_page (default 30, at most 100) and
// page, with GitHub's Link header.
func (f *Fake) listStatuses(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/commits/statuses#list-commit-statuses-for-a-reference"
	if ref, ok := strings.CutSuffix(r.PathValue("rest"), "/check-runs"); ok && ref != "" {
		f.listCheckRunsForRef(w, r, ref) // the same route: GET .../commits/{ref}/check-runs
		return
	}
	ref, ok := strings.CutSuffix(r.PathValue("rest"), "/statuses")
	if !ok && !strings.Contains(r.PathValue("rest"), "/") {
		f.getCommit(w, r, r.PathValue("rest")) // the same route: GET .../commits/{ref}
		return
	}
	if !ok || ref == "" {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	f.mu.Lock()
	rp := f.repoFor(w, r, doc)
	if rp == nil {
		f.mu.Unlock()
		return
	}
	all := f.statuses[statusKey(rp.owner, rp.name, ref)]
	newest := make([]Status, len(all))
	for i, s := range all {
		newest[len(all)-1-i] = s
	}
	f.mu.Unlock()

	start, end := f.paginate(w, r, len(newest))
	writeJSON(w, http.StatusOK, newest[start:end])
}

// paginate applies GitHub's pagination to a list of n items — per_page
// (default 30, at most 100) and page — sets the Link header, and returns
// the bounds of the page asked for (empty past the end).
func (f *Fake) paginate(w http.ResponseWriter, r *http.Request, n int) (start, end int) {
	perPage := min(queryInt(r, "per_page", 30), 100)
	page := queryInt(r, "page", 1)
	last := max(1, (n+perPage-1)/perPage)
	start = min((page-1)*perPage, n)
	end = min(start+perPage, n)
	if link := linkHeader(f.srv.URL+r.URL.EscapedPath(), r.URL.Query(), page, perPage, last); link != "" {
		w.Header().Set("Link", link)
	}
	return start, end
}

// linkHeader builds GitHub's pagination Link header: prev and first after
// the first page, next and last before the last one. The links keep the
// request's other parameters (filters), as GitHub's do.
func linkHeader(base string, query url.Values, page, perPage, last int) string {
	link := func(p int, rel string) string {
		q := url.Values{}
		maps.Copy(q, query)
		q.Set("per_page", strconv.Itoa(perPage))
		q.Set("page", strconv.Itoa(p))
		return fmt.Sprintf("<%s?%s>; rel=%q", base, q.Encode(), rel)
	}
	var parts []string
	if page > 1 {
		parts = append(parts, link(min(page-1, last), "prev"))
	}
	if page < last {
		parts = append(parts, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		parts = append(parts, link(1, "first"))
	}
	return strings.Join(parts, ", ")
}

// queryInt returns a positive integer query parameter, or def when it is
// absent or not a positive integer (GitHub ignores such values too).
func queryInt(r *http.Request, name string, def int) int {
	n, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil || n < 1 {
		return def
	}
	return n
}

// isSHA reports whether s is a full commit hash (SHA-1 or SHA-256).
func isSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// emptyNil turns an absent or empty string into JSON null, as GitHub
// returns unset optional fields.
func emptyNil(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	v := *s
	return &v
}
