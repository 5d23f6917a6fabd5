package githubfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
)

const sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e"

// client returns a go-github client for f: the fake is checked against
// the library pier uses, as GitHub would be.
func client(t *testing.T, f *Fake, token string) *github.Client {
	t.Helper()
	base, err := url.Parse(f.URL() + "/") // go-github needs the trailing slash
	if err != nil {
		t.Fatal(err)
	}
	c := github.NewClient(nil)
	c.BaseURL = base
	if token != "" {
		c = c.WithAuthToken(token)
	}
	return c
}

// post sends a raw POST to the fake and decodes the JSON answer.
func post(t *testing.T, f *Fake, path, body string) (int, http.Header, map[string]any) {
	t.Helper()
	return call(t, f, http.MethodPost, path, body)
}

// call sends a raw request to the fake and decodes the JSON answer (nil
// for an empty one).
func call(t *testing.T, f *Fake, method, path, body string) (int, http.Header, map[string]any) {
	t.Helper()
	return do(t, f, method, path, "Bearer t", body)
}

// do sends a raw request with an Authorization header ("" for none) and
// decodes the JSON answer.
func do(t *testing.T, f *Fake, method, path, auth, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, f.URL()+path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := f.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("answer is not a JSON object: %v: %s", err, b)
		}
	}
	return resp.StatusCode, resp.Header, out
}

func TestCreateStatusShape(t *testing.T) {
	f := New()
	defer f.Close()
	f.AddRepo("octocat", "Hello-World")
	at := time.Date(2012, 7, 20, 1, 19, 13, 500, time.UTC)
	f.SetNow(func() time.Time { return at })

	code, h, got := post(t, f, "/repos/octocat/Hello-World/statuses/"+sha,
		`{"state":"success","target_url":"https://ci.example.com/1000/output","description":"Build has completed successfully","context":"continuous-integration/jenkins"}`)
	if code != http.StatusCreated {
		t.Fatalf("status %d: %v", code, got)
	}
	// Every field of GitHub's documented example, and no other.
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if want := "avatar_url context created_at creator description id node_id state target_url updated_at url"; strings.Join(keys, " ") != want {
		t.Errorf("fields %v, want %s", keys, want)
	}
	for k, want := range map[string]any{
		"url":         f.URL() + "/repos/octocat/Hello-World/statuses/" + sha,
		"id":          1.0,
		"state":       "success",
		"description": "Build has completed successfully",
		"target_url":  "https://ci.example.com/1000/output",
		"context":     "continuous-integration/jenkins",
		"created_at":  "2012-07-20T01:19:13Z",
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if creator, _ := got["creator"].(map[string]any); creator["login"] != "octocat" || creator["type"] != "User" {
		t.Errorf("creator %v", got["creator"])
	}
	if h.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", h.Get("Content-Type"))
	}

	// Optional fields left out come back null, and the context defaults
	// to "default".
	_, _, got = post(t, f, "/repos/octocat/hello-world/statuses/"+sha, `{"state":"pending"}`)
	if got["description"] != nil || got["target_url"] != nil || got["context"] != "default" || got["id"] != 2.0 {
		t.Errorf("minimal status %v", got)
	}

	// Read back, oldest first, whatever the case of the names.
	st := f.Statuses("OctoCat", "hello-world", strings.ToUpper(sha))
	if len(st) != 2 || st[0].State != "success" || st[1].State != "pending" {
		t.Errorf("Statuses = %+v", st)
	}
}

func TestCreateStatusErrors(t *testing.T) {
	f := New()
	defer f.Close()
	f.AddRepo("o", "r")
	for _, tc := range []struct {
		name, path, body string
		code             int
		message          string
	}{
		{"bad state", "/repos/o/r/statuses/" + sha, `{"state":"green"}`, 422, "Validation Failed"},
		{"upper-case state", "/repos/o/r/statuses/" + sha, `{"state":"SUCCESS"}`, 422, "Validation Failed"},
		{"no state", "/repos/o/r/statuses/" + sha, `{"description":"x"}`, 422, "Invalid request.\n\n\"state\" wasn't supplied."},
		{"long description", "/repos/o/r/statuses/" + sha, `{"state":"success","description":"` + strings.Repeat("x", 141) + `"}`, 422, "Validation Failed"},
		{"not a sha", "/repos/o/r/statuses/main", `{"state":"success"}`, 422, "No commit found for SHA: main"},
		{"bad JSON", "/repos/o/r/statuses/" + sha, `{"state":`, 400, "Problems parsing JSON"},
		{"unknown repo", "/repos/o/nope/statuses/" + sha, `{"state":"success"}`, 404, "Not Found"},
		{"unknown route", "/repos/o/r/nothing", `{}`, 404, "Not Found"},
	} {
		code, _, got := post(t, f, tc.path, tc.body)
		if code != tc.code || got["message"] != tc.message {
			t.Errorf("%s: %d %q, want %d %q", tc.name, code, got["message"], tc.code, tc.message)
		}
		if got["documentation_url"] == nil {
			t.Errorf("%s: no documentation_url", tc.name)
		}
	}
	// 140 characters, multi-byte, is fine.
	if code, _, got := post(t, f, "/repos/o/r/statuses/"+sha, `{"state":"success","description":"`+strings.Repeat("é", 140)+`"}`); code != 201 {
		t.Errorf("140 characters: %d %v", code, got)
	}
	if n := len(f.Statuses("o", "r", sha)); n != 1 {
		t.Errorf("%d statuses recorded, want only the valid one", n)
	}
}

func TestValidationErrorThroughGoGitHub(t *testing.T) {
	f := New()
	defer f.Close()
	f.AddRepo("o", "r")
	_, _, err := client(t, f, "").Repositories.CreateStatus(context.Background(), "o", "r", sha, &github.RepoStatus{State: github.String("green")})
	var e *github.ErrorResponse
	if !errors.As(err, &e) || e.Response.StatusCode != 422 || len(e.Errors) != 1 || e.Errors[0].Field != "state" {
		t.Errorf("err %v", err)
	}
}

func TestAuth(t *testing.T) {
	f := New()
	defer f.Close()
	f.AddRepo("o", "r")
	f.RequireToken("s3cr3t")
	ctx := context.Background()
	st := &github.RepoStatus{State: github.String("success")}
	for _, tc := range []struct {
		token   string
		code    int
		message string
	}{
		{"", 401, "Requires authentication"},
		{"wrong", 401, "Bad credentials"},
		{"s3cr3t", 201, ""},
	} {
		_, resp, err := client(t, f, tc.token).Repositories.CreateStatus(ctx, "o", "r", sha, st)
		if resp == nil || resp.StatusCode != tc.code {
			t.Errorf("token %q: %v, want %d", tc.token, err, tc.code)
			continue
		}
		var e *github.ErrorResponse
		if tc.message != "" && (!errors.As(err, &e) || e.Message != tc.message) {
			t.Errorf("token %q: err %v, want %q", tc.token, err, tc.message)
		}
	}
	// The older "token" scheme works too.
	req, _ := http.NewRequest(http.MethodPost, f.URL()+"/repos/o/r/statuses/"+sha, strings.NewReader(`{"state":"success"}`))
	req.Header.Set("Authorization", "token s3cr3t")
	resp, err := f.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Errorf("token scheme: %d", resp.StatusCode)
	}
}

func TestRateLimit(t *testing.T) {
	f := New()
	defer f.Close()
	f.AddRepo("o", "r")
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	f.SetNow(func() time.Time { return now })
	f.SetRateLimit(3, 2)
	c := client(t, f, "")
	ctx := context.Background()

	_, resp, err := c.Repositories.ListStatuses(ctx, "o", "r", sha, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Rate.Limit != 3 || resp.Rate.Remaining != 1 || !resp.Rate.Reset.Time.Equal(now.Add(time.Hour)) {
		t.Errorf("rate %+v", resp.Rate)
	}
	if resp.Header.Get("X-RateLimit-Used") != "2" || resp.Header.Get("X-RateLimit-Resource") != "core" {
		t.Errorf("headers %v", resp.Header)
	}
	// Headers come on errors too.
	_, resp, _ = c.Repositories.ListStatuses(ctx, "o", "missing", sha, nil)
	if resp.StatusCode != 404 || resp.Rate.Remaining != 0 {
		t.Errorf("404: status %d, rate %+v", resp.StatusCode, resp.Rate)
	}
	// Exhausted: 403, which go-github reports as a rate-limit error. A
	// fresh go-github client, since go-github refuses on its own once it
	// has seen remaining 0.
	_, _, err = client(t, f, "").Repositories.ListStatuses(ctx, "o", "r", sha, nil)
	var rle *github.RateLimitError
	if !errors.As(err, &rle) {
		t.Errorf("exhausted: err %v (%T), want *github.RateLimitError", err, err)
	}
	// The window resets after an hour.
	now = now.Add(time.Hour)
	_, resp, err = client(t, f, "").Repositories.ListStatuses(ctx, "o", "r", sha, nil)
	if err != nil || resp.Rate.Remaining != 2 {
		t.Errorf("after reset: err %v, rate %+v", err, resp.Rate)
	}
}

func TestDefaultRateLimitDecrements(t *testing.T) {
	f := New()
	defer f.Close()
	var last int
	for i := range 3 {
		resp, err := f.Client().Get(f.URL() + "/nothing")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		last, _ = strconv.Atoi(resp.Header.Get("X-RateLimit-Remaining"))
		if want := DefaultRateLimit - 1 - i; last != want {
			t.Errorf("request %d: remaining %d, want %d", i, last, want)
		}
		if resp.Header.Get("X-RateLimit-Limit") != "5000" || resp.Header.Get("X-RateLimit-Reset") == "" {
			t.Errorf("headers %v", resp.Header)
		}
	}
}

func TestListStatusesPagination(t *testing.T) {
	f := New()
	defer f.Close()
	f.AddRepo("o", "r")
	c := client(t, f, "")
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		st := &github.RepoStatus{State: github.String("pending"), Description: github.String(fmt.Sprint("status ", i))}
		if _, _, err := c.Repositories.CreateStatus(ctx, "o", "r", sha, st); err != nil {
			t.Fatal(err)
		}
	}

	type page struct {
		ids                         []int64
		next, prev, first, lastPage int
	}
	get := func(n int) page {
		t.Helper()
		sts, resp, err := c.Repositories.ListStatuses(ctx, "o", "r", sha, &github.ListOptions{Page: n, PerPage: 2})
		if err != nil {
			t.Fatal(err)
		}
		p := page{next: resp.NextPage, prev: resp.PrevPage, first: resp.FirstPage, lastPage: resp.LastPage}
		for _, s := range sts {
			p.ids = append(p.ids, s.GetID())
		}
		return p
	}
	for n, want := range map[int]page{
		1: {ids: []int64{5, 4}, next: 2, lastPage: 3},
		2: {ids: []int64{3, 2}, next: 3, prev: 1, first: 1, lastPage: 3},
		3: {ids: []int64{1}, prev: 2, first: 1},
		4: {prev: 3, first: 1},
	} {
		if got := get(n); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("page %d: %+v, want %+v", n, got, want)
		}
	}

	// Defaults: 30 a page, newest first, no Link header for one page.
	sts, resp, err := c.Repositories.ListStatuses(ctx, "o", "r", sha, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 5 || sts[0].GetDescription() != "status 5" || resp.Header.Get("Link") != "" {
		t.Errorf("default page: %d statuses, first %q, Link %q", len(sts), sts[0].GetDescription(), resp.Header.Get("Link"))
	}
	// A ref with nothing on it lists empty; a branch name with a slash
	// routes.
	sts, _, err = c.Repositories.ListStatuses(ctx, "o", "r", "feature/x", nil)
	if err != nil || len(sts) != 0 {
		t.Errorf("feature/x: %v, %v", sts, err)
	}
}

func TestRequests(t *testing.T) {
	f := New()
	defer f.Close()
	f.AddRepo("o", "r")
	c := client(t, f, "tok")
	if _, _, err := c.Repositories.CreateStatus(context.Background(), "o", "r", sha, &github.RepoStatus{State: github.String("success")}); err != nil {
		t.Fatal(err)
	}
	reqs := f.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/repos/o/r/statuses/"+sha || r.Header.Get("Authorization") != "Bearer tok" || string(r.Body) != `{"state":"success"}`+"\n" {
		t.Errorf("request %+v body %q", r, r.Body)
	}
}

func TestConcurrent(t *testing.T) {
	f := New()
	defer f.Close()
	f.AddRepo("o", "r")
	c := client(t, f, "")
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, _, err := c.Repositories.CreateStatus(context.Background(), "o", "r", sha, &github.RepoStatus{State: github.String("success")}); err != nil {
				t.Error(err)
			}
			f.Statuses("o", "r", sha)
		})
	}
	wg.Wait()
	st := f.Statuses("o", "r", sha)
	seen := map[int64]bool{}
	for _, s := range st {
		seen[s.ID] = true
	}
	if len(st) != 20 || len(seen) != 20 {
		t.Errorf("%d statuses, %d distinct ids; want 20", len(st), len(seen))
	}
}

func TestFailNext(t *testing.T) {
	f := New()
	defer f.Close()
	f.AddRepo("o", "r")
	f.FailNext("POST", "/repos/o/r/statuses/", http.StatusBadGateway)
	c := client(t, f, "")
	ctx := context.Background()
	st := &github.RepoStatus{State: github.String("success")}

	// Other requests are not affected.
	if _, _, err := c.Repositories.ListStatuses(ctx, "o", "r", sha, nil); err != nil {
		t.Fatal(err)
	}
	_, resp, err := c.Repositories.CreateStatus(ctx, "o", "r", sha, st)
	var e *github.ErrorResponse
	if !errors.As(err, &e) || resp.StatusCode != 502 || e.Message != "Bad Gateway" || resp.Header.Get("X-RateLimit-Remaining") == "" {
		t.Errorf("first: %v", err)
	}
	if _, _, err := c.Repositories.CreateStatus(ctx, "o", "r", sha, st); err != nil {
		t.Errorf("second: %v", err)
	}
	if n := len(f.Statuses("o", "r", sha)); n != 1 {
		t.Errorf("%d statuses, want the second only", n)
	}
	if n := len(f.Requests()); n != 3 {
		t.Errorf("%d requests recorded, want 3", n)
	}
}
