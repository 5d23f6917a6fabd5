package githubfake

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"
)

// contentFile is GitHub's content-file shape
// (https://docs.github.com/rest/repos/contents). Encoding and Content are
// left out where GitHub leaves them out: in the answer to a PUT.
type contentFile struct {
	Type        string       `json:"type"`
	Encoding    string       `json:"encoding,omitempty"`
	Size        int          `json:"size"`
	Name        string       `json:"name"`
	Path        string       `json:"path"`
	Content     *string      `json:"content,omitempty"`
	SHA         string       `json:"sha"`
	URL         string       `json:"url"`
	GitURL      string       `json:"git_url"`
	HTMLURL     string       `json:"html_url"`
	DownloadURL string       `json:"download_url"`
	Links       contentLinks `json:"_links"`
}

type contentLinks struct {
	Self string `json:"self"`
	Git  string `json:"git"`
	HTML string `json:"html"`
}

// fileCommit is the commit in the answer to a PUT of a file.
type fileCommit struct {
	SHA          string       `json:"sha"`
	NodeID       string       `json:"node_id"`
	URL          string       `json:"url"`
	HTMLURL      string       `json:"html_url"`
	Author       gitActor     `json:"author"`
	Committer    gitActor     `json:"committer"`
	Message      string       `json:"message"`
	Tree         gitObjectRef `json:"tree"`
	Parents      []parentRef  `json:"parents"`
	Verification verification `json:"verification"`
}

type gitActor struct {
	Date  time.Time `json:"date"`
	Name  string    `json:"name"`
	Email string    `json:"email"`
}

type gitObjectRef struct {
	URL string `json:"url"`
	SHA string `json:"sha"`
}

type parentRef struct {
	URL     string `json:"url"`
	HTMLURL string `json:"html_url"`
	SHA     string `json:"sha"`
}

type verification struct {
	Verified  bool    `json:"verified"`
	Reason    string  `json:"reason"`
	Signature *string `json:"signature"`
	Payload   *string `json:"payload"`
}

// blobSHA is git's object name for content, as GitHub reports a file's sha.
func blobSHA(content []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

func (f *Fake) fileJSON(rp *repository, ref, p string, content []byte, withContent bool) contentFile {
	sha := blobSHA(content)
	self := f.apiURL(rp, "contents/"+p+"?ref="+ref)
	html := rp.webURL("blob/" + ref + "/" + p)
	git := f.apiURL(rp, "git/blobs/"+sha)
	c := contentFile{
		Type:        "file",
		Size:        len(content),
		Name:        path.Base(p),
		Path:        p,
		SHA:         sha,
		URL:         self,
		GitURL:      git,
		HTMLURL:     html,
		DownloadURL: "https://raw.githubusercontent.com/" + rp.fullName() + "/" + ref + "/" + p,
		Links:       contentLinks{Self: self, Git: git, HTML: html},
	}
	if withContent {
		c.Encoding = "base64"
		s := wrap60(base64.StdEncoding.EncodeToString(content))
		c.Content = &s
	}
	return c
}

// wrap60 breaks base64 text into lines of 60 characters, as GitHub does:
// a client must decode it with the newlines.
func wrap60(s string) string {
	var b strings.Builder
	for len(s) > 60 {
		b.WriteString(s[:60] + "\n")
		s = s[60:]
	}
	b.WriteString(s + "\n")
	return b.String()
}

// getContents implements GET /repos/{owner}/{repo}/contents/{path} for
// files (?ref= a branch or a commit; the default branch if absent).
// Directories are not listed: the fake answers 404 for them.
func (f *Fake) getContents(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/repos/contents#get-repository-content"
	f.mu.Lock()
	defer f.mu.Unlock()
	rp := f.repoFor(w, r, doc)
	if rp == nil {
		return
	}
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		ref = defaultBranch
	}
	c, ok := rp.resolve(ref)
	if !ok {
		apiError(w, http.StatusNotFound, doc, "No commit found for the ref "+ref)
		return
	}
	p := r.PathValue("path")
	content, ok := c.files[p]
	if !ok {
		apiError(w, http.StatusNotFound, doc, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, f.fileJSON(rp, ref, p, content, true))
}

// putContents implements PUT /repos/{owner}/{repo}/contents/{path}: a
// commit on the branch (the default one if absent) that creates the file
// (201) or, given the sha of the file it replaces, updates it (200).
func (f *Fake) putContents(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/repos/contents#create-or-update-file-contents"
	var in struct {
		Message *string `json:"message"`
		Content *string `json:"content"`
		SHA     *string `json:"sha"`
		Branch  *string `json:"branch"`
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
	case in.Message == nil:
		notSupplied(w, doc, "message")
		return
	case in.Content == nil:
		notSupplied(w, doc, "content")
		return
	}
	content, err := base64.StdEncoding.DecodeString(*in.Content)
	if err != nil {
		apiError(w, http.StatusUnprocessableEntity, doc, "content is not valid Base64")
		return
	}
	branch := defaultBranch
	if in.Branch != nil && *in.Branch != "" {
		branch = strings.TrimPrefix(*in.Branch, "refs/heads/")
	}
	if _, ok := rp.branches[branch]; !ok {
		apiError(w, http.StatusNotFound, doc, "Branch "+branch+" not found")
		return
	}
	p := r.PathValue("path")
	old, exists := rp.commits[rp.branches[branch]].files[p]
	switch {
	case exists && in.SHA == nil:
		notSupplied(w, doc, "sha")
		return
	case exists && !strings.EqualFold(*in.SHA, blobSHA(old)):
		apiError(w, http.StatusConflict, doc, p+" does not match "+*in.SHA)
		return
	}

	by := f.caller(r).Login
	c := f.commitOn(rp, branch, by, *in.Message, map[string][]byte{p: content})
	parent := rp.commits[c.parents[0]]
	treeSHA := blobSHA([]byte("tree " + c.sha)) // made up: trees are not modelled
	author := gitActor{Date: c.date, Name: by, Email: by + "@users.noreply.github.com"}
	out := struct {
		Content contentFile `json:"content"`
		Commit  fileCommit  `json:"commit"`
	}{
		Content: f.fileJSON(rp, branch, p, content, false),
		Commit: fileCommit{
			SHA:       c.sha,
			NodeID:    base64.StdEncoding.EncodeToString([]byte("Commit" + c.sha)),
			URL:       f.apiURL(rp, "git/commits/"+c.sha),
			HTMLURL:   rp.webURL("commit/" + c.sha),
			Author:    author,
			Committer: author,
			Message:   c.message,
			Tree:      gitObjectRef{URL: f.apiURL(rp, "git/trees/"+treeSHA), SHA: treeSHA},
			Parents: []parentRef{{
				URL: f.apiURL(rp, "git/commits/"+parent.sha), HTMLURL: rp.webURL("commit/" + parent.sha), SHA: parent.sha,
			}},
			Verification: verification{Reason: "unsigned"},
		},
	}
	code := http.StatusCreated
	if exists {
		code = http.StatusOK
	}
	writeJSON(w, code, out)
}
