package webhook

import (
	"strings"

	"github.com/google/go-github/v62/github"
)

// PushBranch returns the branch a push event updated. It is not ok for a
// tag push or a branch deletion: neither gives pier a revision to
// reconcile.
func PushBranch(e *github.PushEvent) (branch string, ok bool) {
	if e == nil || e.GetDeleted() || isZeroSHA(e.GetAfter()) {
		return "", false
	}
	branch, ok = strings.CutPrefix(e.GetRef(), "refs/heads/")
	if !ok || branch == "" {
		return "", false
	}
	return branch, true
}

// isZeroSHA reports whether sha is all zeros, which GitHub sends as the
// "after" of a deleted ref.
func isZeroSHA(sha string) bool {
	return sha != "" && strings.Trim(sha, "0") == ""
}
