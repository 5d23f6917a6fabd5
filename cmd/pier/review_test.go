package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/githubfake"
	"github.com/pierhq/pier/internal/githubfake/examples"
	"github.com/pierhq/pier/internal/review"
)

// reviewBlueprints is a catalog whose scorecard ranks services by their
// runbook, so that a pull request removing one moves a level.
const reviewBlueprints = `
blueprints: team: {title: "Team", schema: properties: {}}
blueprints: service: {
	title: "Service"
	schema: properties: {
		lifecycle: {type: "string", enum: ["Production", "Staging"]}
		runbook: {type: "string"}
	}
	relations: team: {target: "team", required: true, many: false}
}
scorecards: production_readiness: {
	blueprintIdentifier: "service"
	rules: [{identifier: "has_runbook", level: "Gold", query: {combinator: "and", rules: [{property: "runbook", operator: "isNotEmpty"}]}}]
}
entities: team: payments: {title: "Payments"}
`

func reviewService(id, runbook, team string) string {
	s := fmt.Sprintf("entities: service: %q: {\n\tproperties: lifecycle: \"Production\"\n", id)
	if runbook != "" {
		s += fmt.Sprintf("\tproperties: runbook: %q\n", runbook)
	}
	return s + fmt.Sprintf("\trelations: team: %q\n}\n", team)
}

// reviewEnv is a daemon following a real git repository, with a pull
// request open on the GitHub fake.
type reviewEnv struct {
	t    *testing.T
	repo *gitRepo
	gh   *githubfake.Fake
	td   *testDaemon
	pr   int
}

func newReviewEnv(t *testing.T) *reviewEnv {
	return newReviewEnvWith(t, nil)
}

// newReviewEnvWith starts the daemon with GitHub credentials of auth's
// making (a token when nil).
func newReviewEnvWith(t *testing.T, auth func(gh *githubfake.Fake) []string) *reviewEnv {
	repo := newGitRepo(t)
	first := repo.commit("initial", map[string]string{
		"blueprints.cue":            reviewBlueprints,
		"services/payments-api.cue": reviewService("payments-api", "https://runbooks/payments", "payments"),
		"services/checkout.cue":     reviewService("checkout", "https://runbooks/checkout", "payments"),
	})
	gh := githubfake.New()
	t.Cleanup(gh.Close)
	gh.AddRepo("acme", "catalog")
	gh.Commit("acme", "catalog", "feature", map[string][]byte{"x": []byte("y")})
	pr := gh.OpenPullRequest("acme", "catalog", "dev", "feature", "main", "runbooks", "")
	dataDir := t.TempDir()
	creds := []string{"--github-token", "ghs_test"}
	if auth != nil {
		creds = auth(gh)
	}
	td := startDaemon(t, append([]string{"--repo", "file://" + repo.bare, "--db", filepath.Join(dataDir, "pier.db"), "--cache-dir", filepath.Join(dataDir, "git"),
		"--webhook-secret", "hook-secret", "--anonymous-reads",
		"--github-api-url", gh.URL(), "--github-repo", "acme/catalog"}, creds...)...)
	td.waitFor(t, "the first revision", func(st map[string]any) bool { return st["lastAppliedRevision"] == first })
	repo.git(repo.work, "checkout", "-q", "-b", "feature")
	return &reviewEnv{t: t, repo: repo, gh: gh, td: td, pr: pr}
}

// pushPR commits files on the pull request's branch and pushes it where
// GitHub keeps a pull request's head, refs/pull/N/head.
func (e *reviewEnv) pushPR(files map[string]string) string {
	e.t.Helper()
	g := e.repo
	for name, data := range files {
		writeFile(e.t, filepath.Join(g.work, name), data)
	}
	g.git(g.work, "add", "-A")
	g.git(g.work, "commit", "-qm", "change")
	g.git(g.work, "push", "-q", "-f", "origin", fmt.Sprintf("HEAD:refs/pull/%d/head", e.pr))
	return g.git(g.work, "rev-parse", "HEAD")
}

// deliverPR sends the pull_request webhook GitHub sends for action at
// head; fork makes the head another owner's repository.
func (e *reviewEnv) deliverPR(action, head string, fork bool) {
	e.t.Helper()
	var p map[string]any
	if err := json.Unmarshal(examples.Load("pull_request."+action+".json"), &p); err != nil {
		e.t.Fatal(err)
	}
	repo := p["repository"].(map[string]any)
	repo["name"], repo["full_name"] = "catalog", "acme/catalog"
	repo["owner"].(map[string]any)["login"] = "acme"
	p["number"] = e.pr
	pr := p["pull_request"].(map[string]any)
	pr["number"], pr["state"] = e.pr, "open"
	pr["base"].(map[string]any)["ref"] = "main"
	h := pr["head"].(map[string]any)
	h["ref"], h["sha"] = "feature", head
	if fork {
		hr := h["repo"].(map[string]any)
		hr["full_name"], hr["name"] = "mallory/catalog", "catalog"
		hr["owner"].(map[string]any)["login"] = "mallory"
		hr["fork"] = true
	}
	body, _ := json.Marshal(p)
	code, out := e.td.deliver(e.t, "pull_request", fmt.Sprintf("pr-%d", deliveries.Add(1)), body, "hook-secret")
	if code != 200 && code != 202 {
		e.t.Fatalf("pull_request webhook: %d %v", code, out)
	}
}

// planStatus waits for pier/plan on sha and returns it.
func (e *reviewEnv) planStatus(sha string) githubfake.Status {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range e.gh.Statuses("acme", "catalog", sha) {
			if s.Context == planStatusContext {
				return s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("no pier/plan status on %s: %v", sha, e.gh.Statuses("acme", "catalog", sha))
	return githubfake.Status{}
}

// comment returns the pull request's comments once the plan comment
// mentions want.
func (e *reviewEnv) comment(want string) []string {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		pr, _ := e.gh.PullRequest("acme", "catalog", e.pr)
		got = pr.Comments
		for _, c := range got {
			if strings.HasPrefix(c, review.Marker) && strings.Contains(c, want) {
				return got
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("no plan comment with %q; comments: %q", want, got)
	return nil
}

func TestPullRequestIsPlannedAgainstTheLiveState(t *testing.T) {
	e := newReviewEnv(t)

	// Removing a service's runbook: a valid plan, and the level it moves.
	head := e.pushPR(map[string]string{"services/payments-api.cue": reviewService("payments-api", "", "payments")})
	e.deliverPR("opened", head, false)
	st := e.planStatus(head)
	if st.State != "success" || !strings.Contains(*st.Description, "0 to create, 1 to update, 0 to delete; 1 scorecard levels move") {
		t.Fatalf("status on the first head: %s %q", st.State, *st.Description)
	}
	comments := e.comment("`service/payments-api` production_readiness: Gold → Silver, because rule has_runbook fails")
	if len(comments) != 1 || !strings.Contains(comments[0], "properties.runbook") {
		t.Fatalf("comments: %q", comments)
	}
	// Nothing was applied: main still serves the runbook.
	if _, body := e.td.get(t, "/v1/blueprints/service/entities/payments-api"); body["entity"].(map[string]any)["properties"].(map[string]any)["runbook"] != "https://runbooks/payments" {
		t.Fatalf("the plan changed the served state: %v", body)
	}

	// The same head again (a redelivery, a reopen): planned once.
	e.deliverPR("reopened", head, false)
	time.Sleep(300 * time.Millisecond)
	if n := len(e.gh.Statuses("acme", "catalog", head)); n != 1 {
		t.Fatalf("%d statuses on a head planned twice", n)
	}

	// A push that breaks a relation: a failing status naming the line,
	// and the same comment edited, not a second one.
	broken := e.pushPR(map[string]string{"services/checkout.cue": reviewService("checkout", "https://runbooks/checkout", "paymnets")})
	e.deliverPR("synchronize", broken, false)
	st = e.planStatus(broken)
	if st.State != "failure" || !strings.Contains(*st.Description, "services/checkout.cue:4:") {
		t.Fatalf("status on the broken head: %s %q", st.State, *st.Description)
	}
	comments = e.comment("services/checkout.cue:4:")
	if len(comments) != 1 || !strings.Contains(comments[0], "This revision is invalid") || !strings.Contains(comments[0], "paymnets") {
		t.Fatalf("comments after the second push: %q", comments)
	}
	if edits := e.gh.CommentEdits("acme", "catalog", e.pr); fmt.Sprint(edits) != "[1]" {
		t.Fatalf("comment edits %v, want the one comment edited once", edits)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A revision planned outside GitHub, through the API and pier diff
// --server, gets the pull requests' plan: here the deletion guard's
// refusal of a branch that deletes most of the catalog.
func TestPlanOverTheAPIAndTheCLI(t *testing.T) {
	e := newReviewEnv(t)
	g := e.repo
	g.git(g.work, "rm", "-q", "services/payments-api.cue", "services/checkout.cue")
	g.git(g.work, "commit", "-qm", "drop the services")
	g.git(g.work, "push", "-q", "origin", "feature")
	sha := g.git(g.work, "rev-parse", "HEAD")

	code, body := e.td.post(t, "/v1/plans", "", `{"revision": "feature"}`)
	plan, _ := body["plan"].(map[string]any)
	if code != 200 || plan["valid"] != false || plan["deletionGuard"] != true || plan["revision"] != sha {
		t.Fatalf("POST /v1/plans: %d %v", code, body)
	}
	if !strings.Contains(body["text"].(string), "deletes 2 of 3 entities") {
		t.Fatalf("plan text: %q", body["text"])
	}

	for _, c := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"unknown branch", `{"revision": "no-such-branch"}`, 404, "revision not found"},
		{"unknown commit", `{"revision": "` + strings.Repeat("ab", 20) + `"}`, 404, "fetched commits only"},
		{"no revision", `{}`, 400, `"revision" is required`},
		{"misspelt field", `{"revison": "feature"}`, 422, `did you mean "revision"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := e.td.post(t, "/v1/plans", "", c.body)
			if code != c.code || !strings.Contains(fmt.Sprint(body["message"]), c.want) {
				t.Fatalf("%d %v, want %d with %q", code, body, c.code, c.want)
			}
		})
	}

	// pier diff --server, on the branch and on this checkout's HEAD: the
	// same plan, exit 1 for a revision the server would refuse.
	for _, head := range []string{"feature", "HEAD"} {
		code, out, errOut := runCLI(t, "diff", "--server="+e.td.url, "--head", head, "--repo", g.work)
		if code != 1 || !strings.Contains(out, "deletes 2 of 3 entities") || !strings.Contains(out, "- entity service/checkout") {
			t.Fatalf("pier diff --server --head %s: exit %d\n%s\n%s", head, code, out, errOut)
		}
	}
	code, out, errOut := runCLI(t, "diff", "--server="+e.td.url, "--head", "main", "--format", "json")
	if code != 0 || !strings.Contains(out, `"valid":true`) {
		t.Fatalf("pier diff --server --head main: exit %d\n%s\n%s", code, out, errOut)
	}
}

// A fork's pull request is planned from refs/pull/N/head like any other;
// planning loads and scores the catalog, and sends nothing: the
// outbound webhook the change would notify on merge hears nothing.
func TestForkPullRequestIsPlannedWithoutRunningAnything(t *testing.T) {
	e := newReviewEnv(t)
	r := newReceiver(t)
	head := e.pushPR(map[string]string{
		"services/payments-api.cue": reviewService("payments-api", "https://runbooks/payments-v2", "payments"),
		"hooks.cue":                 fmt.Sprintf("webhooks: spy: {url: %q, events: [\"ENTITY_UPDATED\"]}\n", r.srv.URL+"/spy"),
	})
	e.deliverPR("opened", head, true)
	if st := e.planStatus(head); st.State != "success" {
		t.Fatalf("fork's status: %s %q", st.State, *st.Description)
	}
	e.comment("Merging emits 0 ENTITY_CREATED, 1 ENTITY_UPDATED and 0 ENTITY_DELETED events")
	time.Sleep(300 * time.Millisecond)
	if got := r.got("/spy"); len(got) != 0 {
		t.Fatalf("planning delivered %v", got)
	}
	// Merged, the same change is announced: the receiver was listening.
	e.repo.git(e.repo.work, "push", "-q", "origin", "HEAD:main")
	if code := e.td.push(t, head, "hook-secret"); code != 202 && code != 200 {
		t.Fatalf("push webhook: %d", code)
	}
	r.wait(t, "/spy", 1)
	// Main moved: the open pull request is planned again against what
	// is served now, in the same comment.
	comments := e.comment("(revision `" + head[:12] + "`)")
	if len(comments) != 1 || !strings.Contains(comments[0], "No changes.") {
		t.Fatalf("comments after main moved: %q", comments)
	}
}

// checkRun waits for pier's check run on sha.
func (e *reviewEnv) checkRun(sha string) githubfake.CheckRun {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, c := range e.gh.CheckRuns("acme", "catalog", sha) {
			if c.Name == "pier" && c.Status == "completed" {
				return c
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("no completed pier check run on %s: %+v", sha, e.gh.CheckRuns("acme", "catalog", sha))
	return githubfake.CheckRun{}
}

// As a GitHub App, pier reports a check run named pier: a broken
// relation fails it with the annotation on the line, a fix passes the
// next head's, with the level move in the summary; no comment is added.
func TestPullRequestCheckRunAsGitHubApp(t *testing.T) {
	e := newReviewEnvWith(t, func(gh *githubfake.Fake) []string {
		keyFile, key := appKeyFile(t)
		gh.AddApp(4242, "pier-acme", &key.PublicKey)
		gh.AddInstallation(4242, 77, "acme")
		return []string{"--github-app-id", testAppID, "--github-app-key", keyFile, "--github-app-installation-id", testInstallation}
	})
	broken := e.pushPR(map[string]string{"services/checkout.cue": reviewService("checkout", "https://runbooks/checkout", "paymnets")})
	e.deliverPR("opened", broken, false)
	c := e.checkRun(broken)
	if c.Conclusion != "failure" || c.App != "pier-acme" || len(c.Annotations) != 1 {
		t.Fatalf("check run on the broken head: %+v", c)
	}
	a := c.Annotations[0]
	if a.Path != "services/checkout.cue" || a.StartLine != 4 || a.AnnotationLevel != "failure" || !strings.Contains(a.Message, `no team entity "paymnets"`) {
		t.Fatalf("annotation %+v", a)
	}

	fixed := e.pushPR(map[string]string{
		"services/checkout.cue":     reviewService("checkout", "https://runbooks/checkout", "payments"),
		"services/payments-api.cue": reviewService("payments-api", "", "payments"),
	})
	e.deliverPR("synchronize", fixed, false)
	c = e.checkRun(fixed)
	if c.Conclusion != "success" || len(c.Annotations) != 0 || !strings.Contains(c.Summary, "production_readiness: Gold → Silver, because rule has_runbook fails") {
		t.Fatalf("check run on the fixed head: %+v", c)
	}
	// A head planned again (main moved, a redelivery) updates its check
	// run rather than adding one.
	e.repo.git(e.repo.work, "push", "-q", "origin", "HEAD:main")
	e.td.push(t, fixed, "hook-secret")
	e.td.waitFor(t, "the merged head", func(st map[string]any) bool { return st["lastAppliedRevision"] == fixed })
	e.deliverPR("synchronize", fixed, false)
	deadline := time.Now().Add(20 * time.Second)
	for {
		runs := e.gh.CheckRuns("acme", "catalog", fixed)
		if len(runs) != 1 {
			t.Fatalf("%d check runs on one head", len(runs))
		}
		if runs[0].Updates == 1 && strings.Contains(runs[0].Summary, "No changes.") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the check run was not updated: %+v", runs[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if pr, _ := e.gh.PullRequest("acme", "catalog", e.pr); len(pr.Comments) != 0 {
		t.Fatalf("comments as an App: %q", pr.Comments)
	}
}
