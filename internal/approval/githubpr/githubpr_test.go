package githubpr

import (
	"context"
	"encoding/json"
	"errors"
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
	fx.run.Approval.Ref, fx.run.Approval.URL = req.Ref, req.URL
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
	for _, want := range []string{"**alice** asks to run **Extend TTL** on `environment/preview-42`", "| `days` | `10` |", `demo \| week`, "@acme/platform", "(not the requester)", "http://pier/v1/actions/runs/r_abcdefghijklmnop"} {
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
