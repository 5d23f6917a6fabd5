package githubfake

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// installationBearer returns an installation token of App 42 on acme, as
// an Authorization header.
func installationBearer(t *testing.T, f *Fake, now time.Time, key *rsa.PrivateKey, app, inst string) string {
	t.Helper()
	jwt := "Bearer " + signJWT(t, key, rs256, jwtClaims(now.Unix()-60, now.Unix()+540, app))
	code, body := send(t, f, "POST", "/app/installations/"+inst+"/access_tokens", jwt)
	if code != 201 {
		t.Fatalf("installation token: %d %v", code, body)
	}
	return "Bearer " + body["token"].(string)
}

func TestCheckRuns(t *testing.T) {
	f, now := newAppFake(t)
	key, other := testKeys(t)
	f.AddApp(43, "other-app", &other.PublicKey)
	f.AddInstallation(43, 8, "acme")
	bearer := installationBearer(t, f, *now, key, "42", "7")
	f.RequireToken("ghp_user")

	ann := func(n int) string {
		var as []string
		for i := range n {
			as = append(as, fmt.Sprintf(`{"path":"a.cue","start_line":%d,"end_line":%d,"annotation_level":"failure","message":"bad"}`, i+1, i+1))
		}
		return "[" + strings.Join(as, ",") + "]"
	}
	code, _, body := do(t, f, "POST", "/repos/acme/catalog/check-runs", bearer,
		`{"name":"pier","head_sha":"`+sha+`","status":"completed","conclusion":"failure","output":{"title":"1 error","summary":"s","annotations":`+ann(2)+`}}`)
	if code != 201 || body["status"] != "completed" || body["conclusion"] != "failure" || body["output"].(map[string]any)["annotations_count"] != float64(2) {
		t.Fatalf("create: %d %v", code, body)
	}
	id := fmt.Sprint(int64(body["id"].(float64)))

	for _, tc := range []struct {
		name, method, path, auth, body string
		code                           int
		msg                            string
	}{
		{"a user's token", "POST", "/repos/acme/catalog/check-runs", "Bearer ghp_user", `{"name":"pier","head_sha":"` + sha + `"}`, 403, "You must authenticate via a GitHub App."},
		{"no name", "POST", "/repos/acme/catalog/check-runs", bearer, `{"head_sha":"` + sha + `"}`, 422, `"name" wasn't supplied`},
		{"not a commit", "POST", "/repos/acme/catalog/check-runs", bearer, `{"name":"pier","head_sha":"main"}`, 422, "No commit found for SHA"},
		{"completed without conclusion", "POST", "/repos/acme/catalog/check-runs", bearer, `{"name":"pier","head_sha":"` + sha + `","status":"completed"}`, 422, "Validation Failed"},
		{"51 annotations", "PATCH", "/repos/acme/catalog/check-runs/" + id, bearer, `{"output":{"title":"t","summary":"s","annotations":` + ann(51) + `}}`, 422, "Validation Failed"},
		{"another App's run", "PATCH", "/repos/acme/catalog/check-runs/" + id, installationBearer(t, f, *now, other, "43", "8"), `{"conclusion":"success"}`, 403, "can only be modified by the GitHub App that created it"},
		{"no such run", "PATCH", "/repos/acme/catalog/check-runs/999999", bearer, `{"conclusion":"success"}`, 404, "Not Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := do(t, f, tc.method, tc.path, tc.auth, tc.body)
			if code != tc.code || !strings.Contains(fmt.Sprint(body["message"]), tc.msg) {
				t.Fatalf("%d %v, want %d %q", code, body, tc.code, tc.msg)
			}
		})
	}

	// An update adds annotations and replaces the output's text.
	code, _, body = do(t, f, "PATCH", "/repos/acme/catalog/check-runs/"+id, bearer, `{"conclusion":"success","output":{"title":"ok","summary":"fine","annotations":`+ann(1)+`}}`)
	if code != 200 || body["conclusion"] != "success" {
		t.Fatalf("update: %d %v", code, body)
	}
	code, _, body = do(t, f, "GET", "/repos/acme/catalog/commits/"+sha+"/check-runs?check_name=pier", bearer, "")
	if code != 200 || body["total_count"] != float64(1) {
		t.Fatalf("list: %d %v", code, body)
	}
	runs := f.CheckRuns("acme", "catalog", sha)
	if len(runs) != 1 || len(runs[0].Annotations) != 3 || runs[0].Summary != "fine" || runs[0].Updates != 1 || runs[0].App != "pier-acme" {
		t.Fatalf("CheckRuns: %+v", runs)
	}
}

func TestEditComment(t *testing.T) {
	f := New()
	t.Cleanup(f.Close)
	f.AddRepo("acme", "catalog")
	f.Commit("acme", "catalog", "feature", map[string][]byte{"x": []byte("y")})
	n := f.OpenPullRequest("acme", "catalog", "dev", "feature", "main", "t", "")
	code, _, body := do(t, f, "POST", fmt.Sprintf("/repos/acme/catalog/issues/%d/comments", n), "", `{"body":"first"}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	id := fmt.Sprint(int64(body["id"].(float64)))
	for _, tc := range []struct {
		name, path, body string
		code             int
	}{
		{"edit", "/repos/acme/catalog/issues/comments/" + id, `{"body":"second"}`, 200},
		{"empty body", "/repos/acme/catalog/issues/comments/" + id, `{"body":""}`, 422},
		{"no such comment", "/repos/acme/catalog/issues/comments/12345", `{"body":"x"}`, 404},
		{"no such repository", "/repos/acme/nope/issues/comments/" + id, `{"body":"x"}`, 404},
	} {
		if code, _, body := do(t, f, "PATCH", tc.path, "", tc.body); code != tc.code {
			t.Errorf("%s: %d %v, want %d", tc.name, code, body, tc.code)
		}
	}
	resp, err := http.Get(f.URL() + fmt.Sprintf("/repos/acme/catalog/issues/%d/comments", n))
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list) != 1 || list[0]["body"] != "second" {
		t.Fatalf("list: %d %v", resp.StatusCode, list)
	}
	pr, _ := f.PullRequest("acme", "catalog", n)
	if resp.StatusCode != 200 || fmt.Sprint(pr.Comments) != "[second]" || fmt.Sprint(f.CommentEdits("acme", "catalog", n)) != "[1]" {
		t.Fatalf("list %d; comments %q, edits %v", code, pr.Comments, f.CommentEdits("acme", "catalog", n))
	}
}
