package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// integrityCatalog adds to the runs catalog the actions of the approval
// integrity cases: appr_one needs one approval from the platform team;
// appr_merge also merges its pull request once dispatched, recording the
// request in the catalog's history.
const integrityCatalog = runsCatalog + `
actions: appr_one: {
	trigger: {
		type: "self-service", operation: "CREATE", blueprintIdentifier: "environment"
		userInputs: {properties: note: {type: "string", maxLength: 20}, required: ["note"]}
	}
	approval: {approvals: 1, approvers: teams: ["platform"]}
	invocationMethod: {type: "GITHUB", org: "acme", repo: "workflows", workflow: "extend.yml", workflowInputs: {pier_run_id: "{{ .run.id }}", note: "{{ .inputs.note }}"}}
}
actions: appr_merge: {
	trigger: {
		type: "self-service", operation: "CREATE", blueprintIdentifier: "environment"
		userInputs: {properties: note: {type: "string"}, required: ["note"]}
	}
	approval: {approvals: 1, approvers: teams: ["platform"], merge: true}
	invocationMethod: {type: "GITHUB", org: "acme", repo: "workflows", workflow: "extend.yml", workflowInputs: {pier_run_id: "{{ .run.id }}", note: "{{ .inputs.note }}"}}
}
`

// pushToPullRequest is login pushing files to the branch of pull request
// n, and GitHub's synchronize webhook for it.
func (e *runsEnv) pushToPullRequest(n int, login string, files map[string]string) string {
	e.t.Helper()
	pr, _ := e.fake.PullRequest("acme", "catalog", n)
	content := map[string][]byte{}
	for k, v := range files {
		if v == "" {
			content[k] = nil
		} else {
			content[k] = []byte(v)
		}
	}
	sha := e.fake.Push("acme", "catalog", pr.Head, login, content)
	e.deliverHook("pull_request", e.example("pull_request.synchronize.json", func(p map[string]any) {
		p["number"] = n
		body := p["pull_request"].(map[string]any)
		body["number"], body["state"] = n, "open"
		body["head"].(map[string]any)["ref"], body["head"].(map[string]any)["sha"] = pr.Head, sha
		body["base"].(map[string]any)["ref"] = "main"
		p["sender"].(map[string]any)["login"] = login
	}))
	return sha
}

// runOf waits for the run the pull request n became.
func (e *runsEnv) runOf(n int) string {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, out := e.call("GET", "/v1/actions/runs?action=appr_one", "", nil)
		for _, r := range out["runs"].([]any) {
			run := r.(map[string]any)
			if ap, _ := run["approval"].(map[string]any); ap != nil && ap["ref"] == strconv.Itoa(n) {
				return run["id"].(string)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("no run for pull request #%d", n)
	return ""
}

// notes returns the run's event notes, one a line.
func notes(run map[string]any) string {
	var out []string
	for _, ev := range run["events"].([]any) {
		out = append(out, fmt.Sprint(ev.(map[string]any)["note"]))
	}
	return strings.Join(out, "\n")
}

// waitNote waits until one of the run's events says want.
func (e *runsEnv) waitNote(id, want string) map[string]any {
	e.t.Helper()
	return e.waitRun(id, "with an event saying "+want, func(r map[string]any) bool { return strings.Contains(notes(r), want) })
}

// settle gives pier time to act on what it was just told, for checks that
// nothing happens.
func settle() { time.Sleep(300 * time.Millisecond) }

// Reproduction 1: a person's run-request pull request that changes after
// it was opened. What runs is what the approved head asks for, approvals
// of an older head or by whoever pushed the head do not count, and a head
// that does not validate takes no approval.
func TestPersonsRunRequestFollowsItsHead(t *testing.T) {
	e := newRunsEnvWith(t, integrityCatalog)
	n := e.askByPullRequest("ask-two", "runs/req-two.json", `{"action": "appr_one", "properties": {"note": "original"}}`)
	id := e.runOf(n)
	if got := e.run(id)["properties"].(map[string]any)["note"]; got != "original" {
		t.Fatalf("note %v", got)
	}
	first, _ := e.fake.PullRequest("acme", "catalog", n)
	e.waitRun(id, "read at its head", func(r map[string]any) bool { return r["approval"].(map[string]any)["seenSha"] == first.HeadSHA })
	settle() // and checked: pat's approval below comes after

	// pat approves the original; kim then edits the request: the approval
	// was of what no longer runs.
	e.fake.ReviewOn("acme", "catalog", n, "pat", "APPROVED", first.HeadSHA)
	edited := e.pushToPullRequest(n, "kim", map[string]string{"runs/req-two.json": `{"action": "appr_one", "properties": {"note": "edited"}}`})
	run := e.waitNote(id, "the run's inputs changed at "+edited[:7]+" (pushed by kim): note: \"original\" → \"edited\"")
	if run["status"] != "WAITING_FOR_APPROVAL" || run["properties"].(map[string]any)["note"] != "edited" {
		t.Fatalf("after the edit: %s %v", run["status"], run["properties"])
	}
	e.review(n, "pat", "COMMENTED") // a webhook: look again
	settle()
	if len(e.fake.Dispatches("acme", "workflows")) != 0 {
		t.Fatal("dispatched on an approval of the original head")
	}
	pr, _ := e.fake.PullRequest("acme", "catalog", n)
	if !strings.Contains(strings.Join(pr.Comments, "\n"), "pier will run the request as of "+edited[:7]) {
		t.Errorf("the pull request was not told: %q", pr.Comments)
	}

	// sam, an approver, pushes the harmful value and approves his own
	// push: it does not count.
	harmful := e.pushToPullRequest(n, "sam", map[string]string{"runs/req-two.json": `{"action": "appr_one", "properties": {"note": "rm -rf"}}`})
	e.waitNote(id, harmful[:7]+" (pushed by sam): note: \"edited\" → \"rm -rf\"")
	e.review(n, "sam", "APPROVED")
	settle()
	if got := e.run(id)["status"]; got != "WAITING_FOR_APPROVAL" || len(e.fake.Dispatches("acme", "workflows")) != 0 {
		t.Fatalf("the last pusher's own approval counted: %v", got)
	}

	// kim puts a value the action refuses: the run waits; an approval of
	// that head does not count.
	bad := e.pushToPullRequest(n, "kim", map[string]string{"runs/req-two.json": `{"action": "appr_one", "properties": {"note": "far too long for the maximum"}}`})
	e.waitNote(id, "the pull request's head "+bad[:7]+" (pushed by kim) does not validate: runs/req-two.json (note)")
	e.review(n, "pat", "APPROVED")
	settle()
	if got := e.run(id)["status"]; got != "WAITING_FOR_APPROVAL" {
		t.Fatalf("approved on a head that does not validate: %v", got)
	}
	if pr, _ := e.fake.PullRequest("acme", "catalog", n); !strings.Contains(strings.Join(pr.Comments, "\n"), "pier cannot run the request at "+bad[:7]) {
		t.Errorf("the refusal was not said: %q", pr.Comments)
	}

	// The harmless value, pushed by kim and approved by pat: what runs is
	// exactly what pat approved.
	harmless := e.pushToPullRequest(n, "kim", map[string]string{"runs/req-two.json": `{"action": "appr_one", "properties": {"note": "harmless"}}`})
	e.waitNote(id, harmless[:7]+" (pushed by kim): note: \"rm -rf\" → \"harmless\"")
	e.review(n, "pat", "APPROVED")
	run = e.waitStatus(id, "DISPATCHED")
	ds := e.fake.Dispatches("acme", "workflows")
	if len(ds) != 1 || ds[0].Inputs["note"] != "harmless" || ds[0].Inputs["pier_run_id"] != id {
		t.Fatalf("dispatches %+v", ds)
	}
	if ap := run["approval"].(map[string]any); ap["headSha"] != harmless || fmt.Sprint(ap["approvedBy"]) != "[pat]" {
		t.Fatalf("approval %v", ap)
	}

	// Asking for another action is another request: declined.
	m := e.askByPullRequest("ask-three", "runs/req-three.json", `{"action": "appr_one", "properties": {"note": "one"}}`)
	other := e.runOf(m)
	e.pushToPullRequest(m, "kim", map[string]string{"runs/req-three.json": `{"action": "extend_ttl", "entity": "preview-42", "properties": {"days": 9}}`})
	run = e.waitStatus(other, "DECLINED")
	if !strings.Contains(notes(run), "asks for another run (action extend_ttl on preview-42)") {
		t.Fatalf("declined for %s", notes(run))
	}
	if len(e.fake.Dispatches("acme", "workflows")) != 1 {
		t.Fatal("the declined run was dispatched")
	}
}

// Reproduction 2: a merging action's pull request that an approver pushes
// to. pier's branch belongs to pier: the push is put back, the pusher's
// approval of it counts for nothing, what runs is what was requested, and
// main receives exactly the run's request, nothing nobody independent
// approved.
func TestPushToPiersBranchChangesNothing(t *testing.T) {
	e := newRunsEnvWith(t, integrityCatalog)
	run := e.request("appr_merge", "", map[string]any{"note": "original"})
	id := run["id"].(string)
	n := e.pullRequest(id)
	pr, _ := e.fake.PullRequest("acme", "catalog", n)
	file := "runs/" + id + ".json"
	piers, _ := e.fake.File("acme", "catalog", pr.Head, file)

	edited := strings.Replace(string(piers), `"original"`, `"edited"`, 1)
	bob := e.pushToPullRequest(n, "sam", map[string]string{file: edited, "notes/bob.txt": "approved by me"})
	e.fake.ReviewOn("acme", "catalog", n, "sam", "APPROVED", bob)
	run = e.waitNote(id, "a push to pier's branch, "+bob[:7]+" (pushed by sam), changed it")
	if !strings.Contains(notes(run), "pier put its commit "+pr.HeadSHA[:7]+" back") {
		t.Fatalf("not restored: %s", notes(run))
	}
	if head, _ := e.fake.Branch("acme", "catalog", pr.Head); head != pr.HeadSHA {
		t.Fatalf("the branch is at %s, not pier's %s", head, pr.HeadSHA)
	}
	e.review(n, "sam", "COMMENTED")
	settle()
	if got := e.run(id)["status"]; got != "WAITING_FOR_APPROVAL" || len(e.fake.Dispatches("acme", "workflows")) != 0 {
		t.Fatalf("an approval of a foreign push counted: %v", got)
	}
	if pr, _ := e.fake.PullRequest("acme", "catalog", n); !strings.Contains(strings.Join(pr.Comments, "\n"), "This branch belongs to pier") {
		t.Errorf("the pull request was not told: %q", pr.Comments)
	}

	// pat approves the request as pier wrote it.
	e.review(n, "pat", "APPROVED")
	e.waitStatus(id, "DISPATCHED")
	e.waitRun(id, "with its pull request closed", func(r map[string]any) bool { return r["approval"].(map[string]any)["finishedAt"] != nil })
	ds := e.fake.Dispatches("acme", "workflows")
	if len(ds) != 1 || ds[0].Inputs["note"] != "original" {
		t.Fatalf("dispatches %+v", ds)
	}
	if pr, _ = e.fake.PullRequest("acme", "catalog", n); !pr.Merged {
		t.Fatalf("not merged: %+v", pr)
	}
	if _, ok := e.fake.File("acme", "catalog", "main", "notes/bob.txt"); ok {
		t.Fatal("main holds a file nobody independent approved")
	}
	onMain, _ := e.fake.File("acme", "catalog", "main", file)
	var rf struct {
		Action     string         `json:"action"`
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(onMain, &rf); err != nil || string(onMain) != string(piers) || rf.Properties["note"] != "original" {
		t.Fatalf("main's record of the run: %s (%v)", onMain, err)
	}
}

// A pull request whose branch pier cannot put back (the push stays) is
// never merged: only exactly the run's request lands.
func TestMergeRefusedWhenThePullRequestHoldsMore(t *testing.T) {
	e := newRunsEnvWith(t, integrityCatalog)
	id := e.request("appr_merge", "", map[string]any{"note": "original"})["id"].(string)
	n := e.pullRequest(id)
	pr, _ := e.fake.PullRequest("acme", "catalog", n)
	e.fake.FailNext("PATCH", "/repos/acme/catalog/git/refs/", 422) // branch protection, say
	extra := e.pushToPullRequest(n, "kim", map[string]string{"notes/kim.txt": "sneaked in"})
	run := e.waitNote(id, "pier could not put its commit "+pr.HeadSHA[:7]+" back")
	e.review(n, "pat", "APPROVED") // of kim's head: does not hold only the run
	settle()
	if got := e.run(id)["status"]; got != "WAITING_FOR_APPROVAL" {
		t.Fatalf("approved on %s: %v (%s)", extra[:7], got, notes(run))
	}
	// kim takes the file out again: the head holds exactly the run, and
	// kim, who pushed it, is not the approver.
	back := e.pushToPullRequest(n, "kim", map[string]string{"notes/kim.txt": ""})
	e.waitNote(id, "the pull request's head "+back[:7]+" (pushed by kim) holds exactly the run's request")
	e.review(n, "kim", "APPROVED") // not an approver anyway; and the pusher
	e.review(n, "pat", "APPROVED")
	e.waitStatus(id, "DISPATCHED")
	e.waitRun(id, "with its pull request closed", func(r map[string]any) bool { return r["approval"].(map[string]any)["finishedAt"] != nil })
	if pr, _ = e.fake.PullRequest("acme", "catalog", n); !pr.Merged {
		t.Fatalf("a pull request holding exactly the run was not merged: %+v", pr)
	}
	if _, ok := e.fake.File("acme", "catalog", "main", "notes/kim.txt"); ok {
		t.Fatal("main holds kim's file")
	}
}

// Team membership is read at decision time: someone removed from the
// team a moment ago cannot approve.
func TestApprovalAfterRemovalFromTheTeam(t *testing.T) {
	e := newRunsEnvWith(t, integrityCatalog)
	id := e.request("appr_one", "", map[string]any{"note": "x"})["id"].(string)
	n := e.pullRequest(id)
	e.review(n, "pat", "COMMENTED") // pier asks about pat's membership: cached for 60 s before
	settle()
	e.fake.RemoveTeamMember("acme", "platform", "pat")
	e.review(n, "pat", "APPROVED")
	settle()
	if got := e.run(id)["status"]; got != "WAITING_FOR_APPROVAL" {
		t.Fatalf("approved by someone removed from the team: %v", got)
	}
	e.review(n, "sam", "APPROVED")
	e.waitStatus(id, "DISPATCHED")
}
