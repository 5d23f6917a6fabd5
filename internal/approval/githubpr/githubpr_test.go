package githubpr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/approval"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/github"
	"github.com/pierhq/pier/internal/githubfake"
	"github.com/pierhq/pier/internal/store"
)

type fixture struct {
	fake *githubfake.Fake
	sys  *System
	run  store.Run
	a    *catalog.Action
	rule approval.Rule
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := githubfake.New()
	t.Cleanup(f.Close)
	f.AddRepo("acme", "catalog")
	f.AddTeamMember("acme", "platform", "pat", "active")
	f.AddTeamMember("acme", "platform", "alice", "active")
	c, err := github.New(github.Options{BaseURL: f.URL(), HTTPClient: f.Client()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	return &fixture{
		fake: f,
		sys: &System{Client: c, Owner: "acme", Repo: "catalog", Base: "main", Teams: c,
			RunURL: func(id string) string { return "http://pier/v1/actions/runs/" + id }},
		run: store.Run{
			ID: "r_abcdefghijklmnop", Action: "extend_ttl", Blueprint: "environment", Entity: "preview-42",
			Inputs: map[string]any{"days": json.Number("10"), "reason": "demo | week"}, Requester: "alice",
			Status: store.RunWaitingForApproval, CreatedAt: now,
			Approval: &store.RunApproval{System: approval.GitHub, Required: 1, ExpiresAt: now.Add(time.Hour)},
		},
		a:    &catalog.Action{Identifier: "extend_ttl", Title: "Extend TTL", Approval: &catalog.Approval{Merge: false}},
		rule: approval.Rule{Required: 1, Teams: []string{"platform"}, Users: []string{"alice", "kim"}, Expiry: time.Hour, System: approval.GitHub},
	}
}

func (fx *fixture) open(t *testing.T) int {
	t.Helper()
	req, err := fx.sys.Open(context.Background(), fx.run, fx.a, fx.rule)
	if err != nil {
		t.Fatal(err)
	}
	ap := fx.run.Approval
	ap.Ref, ap.URL, ap.File, ap.ContentSHA, ap.SeenSHA = req.Ref, req.URL, req.File, req.Commit, req.Commit
	n, _ := strconv.Atoi(req.Ref)
	return n
}

func TestOpen(t *testing.T) {
	fx := newFixture(t)
	n := fx.open(t)
	pr, ok := fx.fake.PullRequest("acme", "catalog", n)
	if !ok || pr.State != "open" || pr.Head != "pier/run/r_abcdefghijklmnop" || pr.Base != "main" {
		t.Fatalf("pull request %+v", pr)
	}
	for _, want := range []string{"**alice** asks to run **Extend TTL** on `environment/preview-42`", "| `days` | `10` |", `demo \| week`, "@acme/platform", "(not the requester, nor whoever pushed the latest commit)", "http://pier/v1/actions/runs/r_abcdefghijklmnop"} {
		if !strings.Contains(pr.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, pr.Body)
		}
	}
	if !slices.Equal(pr.RequestedTeams, []string{"platform"}) || !slices.Equal(pr.RequestedReviewers, []string{"kim"}) {
		t.Errorf("review requested from %v and teams %v; want kim (not the requester) and platform", pr.RequestedReviewers, pr.RequestedTeams)
	}
	b, ok := fx.fake.File("acme", "catalog", pr.Head, "runs/r_abcdefghijklmnop.json")
	if !ok {
		t.Fatal("no run request file on the branch")
	}
	rf, err := ParseRunFile("runs/r_abcdefghijklmnop.json", b)
	if err != nil || rf.Action != "extend_ttl" || rf.Entity != "preview-42" || rf.Requester != "alice" || rf.Run != fx.run.ID {
		t.Fatalf("run file %+v %v", rf, err)
	}
	// Open again as after a crash before the request was recorded (the
	// branch, file and pull request exist): no second commit, and the
	// same pull request.
	head, _ := fx.fake.Branch("acme", "catalog", pr.Head)
	again, err := fx.sys.Open(context.Background(), fx.run, fx.a, fx.rule)
	if err != nil || again.Ref != strconv.Itoa(n) || again.URL != fx.run.Approval.URL {
		t.Fatalf("second open: %+v %v, want #%d at %s", again, err, n, fx.run.Approval.URL)
	}
	if again, _ := fx.fake.Branch("acme", "catalog", pr.Head); again != head {
		t.Fatal("the retry committed the request again")
	}
	if fx.run.Approval.ContentSHA != head || fx.run.Approval.File != "runs/r_abcdefghijklmnop.json" || again.Commit != "" {
		t.Errorf("the first open's commit is %q (head %s), the retry's %q: a retry cannot vouch for a head it did not write", fx.run.Approval.ContentSHA, head, again.Commit)
	}
}

func TestCheckRecheckDecidedFinish(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	n := fx.open(t)
	check := func() approval.Decision {
		t.Helper()
		d, err := fx.sys.Check(ctx, fx.run, fx.a, fx.rule)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := check(); d.Outcome != approval.Pending {
		t.Fatalf("no reviews: %v", d.Outcome)
	}
	fx.fake.Review("acme", "catalog", n, "alice", "APPROVED")   // the requester
	fx.fake.Review("acme", "catalog", n, "mallory", "APPROVED") // not in the team
	if d := check(); d.Outcome != approval.Pending {
		t.Fatalf("requester and non-member approvals counted: %+v", d)
	}
	fx.fake.Review("acme", "catalog", n, "pat", "APPROVED")
	d := check()
	if d.Outcome != approval.Approved || !slices.Equal(d.Approvers, []string{"pat"}) {
		t.Fatalf("team member approved: %+v", d)
	}
	fx.run.Approval.HeadSHA = d.HeadSHA
	if err := fx.sys.Recheck(ctx, fx.run); err != nil {
		t.Fatalf("recheck at the approved head: %v", err)
	}
	if err := fx.sys.Decided(ctx, fx.run, fx.a, d); err != nil {
		t.Fatal(err)
	}
	pr, _ := fx.fake.PullRequest("acme", "catalog", n)
	if len(pr.Comments) == 0 || !strings.Contains(pr.Comments[len(pr.Comments)-1], "Approved by @pat") {
		t.Fatalf("comments %q", pr.Comments)
	}
	sts := fx.fake.Statuses("acme", "catalog", d.HeadSHA)
	if len(sts) != 1 || sts[0].Context != StatusContext || sts[0].State != "success" {
		t.Fatalf("statuses %+v", sts)
	}

	// A new commit after the decision makes it stale.
	fx.fake.Commit("acme", "catalog", pr.Head, map[string][]byte{"runs/note.txt": []byte("x")})
	if err := fx.sys.Recheck(ctx, fx.run); !errors.Is(err, approval.ErrStale) {
		t.Fatalf("recheck after a push: %v", err)
	}
	if d := check(); d.Outcome != approval.Pending {
		t.Fatalf("approval on the old head still counts: %+v", d)
	}

	fx.run.Status, fx.run.Dispatch = store.RunDispatched, store.RunDispatch{At: time.Now(), StartedAt: time.Now()}
	if err := fx.sys.Finish(ctx, fx.run, fx.a); err != nil {
		t.Fatal(err)
	}
	pr, _ = fx.fake.PullRequest("acme", "catalog", n)
	if pr.State != "closed" || pr.Merged {
		t.Fatalf("after finish: %+v", pr)
	}
	if _, ok := fx.fake.Branch("acme", "catalog", pr.Head); ok {
		t.Fatal("pier's branch was not deleted")
	}
}

func TestClosedAndMerged(t *testing.T) {
	ctx := context.Background()
	t.Run("closing declines", func(t *testing.T) {
		fx := newFixture(t)
		n := fx.open(t)
		fx.fake.Review("acme", "catalog", n, "pat", "APPROVED")
		fx.fake.ClosePR("acme", "catalog", n)
		d, err := fx.sys.Check(ctx, fx.run, fx.a, fx.rule)
		if err != nil || d.Outcome != approval.Declined || d.Reason != "the pull request was closed" {
			t.Fatalf("%+v %v", d, err)
		}
	})
	t.Run("merge when the action says so", func(t *testing.T) {
		fx := newFixture(t)
		fx.a.Approval.Merge = true
		n := fx.open(t)
		fx.fake.Review("acme", "catalog", n, "pat", "APPROVED")
		d, _ := fx.sys.Check(ctx, fx.run, fx.a, fx.rule)
		fx.run.Approval.HeadSHA = d.HeadSHA
		fx.run.Status, fx.run.Dispatch = store.RunDispatched, store.RunDispatch{At: time.Now(), StartedAt: time.Now()}
		if err := fx.sys.Finish(ctx, fx.run, fx.a); err != nil {
			t.Fatal(err)
		}
		pr, _ := fx.fake.PullRequest("acme", "catalog", n)
		if !pr.Merged {
			t.Fatalf("not merged: %+v", pr)
		}
		if _, ok := fx.fake.File("acme", "catalog", "main", "runs/r_abcdefghijklmnop.json"); !ok {
			t.Fatal("the request is not in the catalog's history")
		}
	})
}

func TestIsRunFile(t *testing.T) {
	for _, tt := range []struct {
		dir, name string
		want      bool
	}{
		{"", "runs/r.json", true},
		{"", "runs/sub/r.json", false},
		{"", "entities/runs/r.json", false},
		{"", "runs/r.yaml", false},
		{"catalog", "catalog/runs/r.json", true},
		{"catalog/", "runs/r.json", false},
	} {
		if got := IsRunFile(tt.dir, tt.name); got != tt.want {
			t.Errorf("IsRunFile(%q, %q) = %v", tt.dir, tt.name, got)
		}
	}
}

// A push by anyone else to pier's branch counts for nothing: pier puts
// its commit back, and says who pushed.
func TestFollowOwnBranch(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	n := fx.open(t)
	pr, _ := fx.fake.PullRequest("acme", "catalog", n)
	pier := fx.run.Approval.ContentSHA
	if m, err := fx.sys.Follow(ctx, fx.run); m != nil || err != nil {
		t.Fatalf("the head pier wrote: %+v, %v", m, err)
	}

	edited := []byte(`{"action": "extend_ttl", "entity": "preview-42", "properties": {"days": 30}}`)
	bob := fx.fake.Push("acme", "catalog", pr.Head, "bob", map[string][]byte{"runs/r_abcdefghijklmnop.json": edited, "notes/bob.txt": []byte("hi")})
	m, err := fx.sys.Follow(ctx, fx.run)
	if err != nil || m == nil || m.Commit != bob || !m.Own || m.Intact || !m.Restored || !slices.Equal(m.By, []string{"bob"}) ||
		!strings.Contains(m.Problem, "notes/bob.txt (added)") {
		t.Fatalf("a foreign push: %+v, %v", m, err)
	}
	if head, _ := fx.fake.Branch("acme", "catalog", pr.Head); head != pier {
		t.Fatalf("the branch is at %s, not back at pier's %s", head, pier)
	}
	fx.run.Approval.SeenSHA = m.Commit
	// Back at pier's commit: it holds the run, pushed again by pier only.
	m, err = fx.sys.Follow(ctx, fx.run)
	if err != nil || m == nil || m.Commit != pier || !m.Intact || len(m.By) != 0 {
		t.Fatalf("after the restore: %+v, %v", m, err)
	}
	fx.run.Approval.SeenSHA = m.Commit

	// Content the same, pushed by bob: intact, and bob pushed it.
	fx.fake.Push("acme", "catalog", pr.Head, "bob", map[string][]byte{"tmp.txt": []byte("x")})
	same := fx.fake.Push("acme", "catalog", pr.Head, "bob", map[string][]byte{"tmp.txt": nil})
	m, err = fx.sys.Follow(ctx, fx.run)
	if err != nil || m == nil || m.Commit != same || !m.Intact || m.Restored || !slices.Equal(m.By, []string{"bob"}) {
		t.Fatalf("an intact head by bob: %+v, %v", m, err)
	}
}

// A person's pull request is read again at each new head.
func TestFollowPersonsRequest(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	head := fx.fake.Push("acme", "catalog", "ask", "kim", map[string][]byte{"runs/ask.json": []byte(`{"action": "extend_ttl", "entity": "preview-42", "properties": {"days": 12}}`)})
	n := fx.fake.OpenPullRequest("acme", "catalog", "kim", "ask", "main", "Run request", "")
	fx.run.Requester, fx.run.Source = "kim", "pull_request"
	fx.run.Approval.Ref, fx.run.Approval.File, fx.run.Approval.ContentSHA = strconv.Itoa(n), "runs/ask.json", head

	m, err := fx.sys.Follow(ctx, fx.run) // never seen: read
	if err != nil || m == nil || m.Own || m.Asked == nil || m.Asked.Action != "extend_ttl" || fmt.Sprint(m.Asked.Inputs) != "map[days:12]" || !slices.Equal(m.By, []string{"kim"}) {
		t.Fatalf("first read: %+v, %v", m, err)
	}
	for _, tc := range []struct {
		name, by string
		files    map[string][]byte
		check    func(m *approval.Move) bool
	}{
		{"edited", "sam", map[string][]byte{"runs/ask.json": []byte(`{"action": "extend_ttl", "entity": "preview-42", "properties": {"days": 20}}`)},
			func(m *approval.Move) bool {
				return m.Asked != nil && fmt.Sprint(m.Asked.Inputs) == "map[days:20]" && slices.Equal(m.By, []string{"sam"})
			}},
		{"garbled", "kim", map[string][]byte{"runs/ask.json": []byte(`{"action": `)},
			func(m *approval.Move) bool {
				return m.Asked == nil && !m.Withdrawn && strings.Contains(m.Problem, "runs/ask.json: unexpected EOF")
			}},
		{"two requests", "kim", map[string][]byte{"runs/ask.json": []byte(`{"action": "extend_ttl"}`), "runs/more.json": []byte(`{"action": "extend_ttl"}`)},
			func(m *approval.Move) bool {
				return m.Asked == nil && strings.Contains(m.Problem, "adds 2 run requests")
			}},
		{"withdrawn", "kim", map[string][]byte{"runs/ask.json": nil, "runs/more.json": nil},
			func(m *approval.Move) bool { return m.Withdrawn }},
	} {
		fx.run.Approval.SeenSHA = m.Commit
		sha := fx.fake.Push("acme", "catalog", "ask", tc.by, tc.files)
		m, err = fx.sys.Follow(ctx, fx.run)
		if err != nil || m == nil || m.Commit != sha || !tc.check(m) {
			t.Errorf("%s: %+v, %v", tc.name, m, err)
		}
		if m == nil {
			m = &approval.Move{Commit: sha}
		}
	}
}

// Only the run's request, as approved, is ever merged.
func TestMergeOnlyTheRun(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	fx.a.Approval.Merge = true
	n := fx.open(t)
	pr, _ := fx.fake.PullRequest("acme", "catalog", n)
	// The branch gains a file pier did not write; the approval is (wrongly)
	// recorded on that head, as if the engine had missed it.
	head := fx.fake.Push("acme", "catalog", pr.Head, "bob", map[string][]byte{"notes/bob.txt": []byte("hi")})
	fx.run.Approval.HeadSHA, fx.run.Approval.ContentSHA = head, head
	fx.run.Status, fx.run.Dispatch = store.RunDispatched, store.RunDispatch{At: time.Now(), StartedAt: time.Now()}
	if err := fx.sys.Finish(ctx, fx.run, fx.a); err != nil {
		t.Fatal(err)
	}
	pr, _ = fx.fake.PullRequest("acme", "catalog", n)
	if pr.Merged || pr.State != "closed" || !strings.Contains(strings.Join(pr.Comments, "\n"), "pier did not merge this pull request: the pull request changes notes/bob.txt (added) besides adding runs/r_abcdefghijklmnop.json") {
		t.Fatalf("merged or not said: %+v", pr)
	}
	if _, ok := fx.fake.File("acme", "catalog", "main", "notes/bob.txt"); ok {
		t.Fatal("main has bob's file")
	}
}
