package github

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestReviews(t *testing.T) {
	c, f := newFake(t)
	ctx := context.Background()
	first := f.Commit("octo-org", "catalog", "b", map[string][]byte{"x": []byte("1")})
	n := f.OpenPullRequest("octo-org", "catalog", "alice", "b", "main", "t", "")

	// More than a page of 100: every page is read, in order.
	var want []string
	for i := range 104 {
		user := fmt.Sprintf("user%d", i)
		f.Review("octo-org", "catalog", n, user, "COMMENTED")
		want = append(want, user+" COMMENTED "+first)
	}
	dismissed := f.Review("octo-org", "catalog", n, "bob", "APPROVED")
	f.DismissReview("octo-org", "catalog", n, dismissed)
	second := f.Commit("octo-org", "catalog", "b", map[string][]byte{"x": []byte("2")})
	f.Review("octo-org", "catalog", n, "carol", "CHANGES_REQUESTED")
	f.ReviewOn("octo-org", "catalog", n, "dave", "APPROVED", first)
	want = append(want, "bob DISMISSED "+first, "carol CHANGES_REQUESTED "+second, "dave APPROVED "+first)

	before := len(f.Requests())
	reviews, err := c.Reviews(ctx, "octo-org", "catalog", n)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range reviews {
		got = append(got, r.User+" "+r.State+" "+r.CommitID)
		if r.ID == 0 || r.SubmittedAt.IsZero() {
			t.Errorf("review %+v", r)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("reviews\n got %v\nwant %v", got, want)
	}
	if pages := len(f.Requests()) - before; pages != 2 {
		t.Errorf("%d requests, want 2 pages", pages)
	}
	if reviews[104].ID != dismissed {
		t.Errorf("dismissed review id %d, want %d", reviews[104].ID, dismissed)
	}
	if _, err := c.Reviews(ctx, "octo-org", "catalog", 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing pull request: %v", err)
	}
}
