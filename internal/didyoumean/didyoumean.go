// Package didyoumean finds the known name a misspelt one was probably meant
// to be, for the did-you-mean of error messages: a catalog's unknown
// top-level key, an API request's unknown field.
package didyoumean

import (
	"fmt"
	"strings"
)

// Closest returns the name of known nearest to name (by edit distance,
// ignoring case), or "" when none is near enough to be a likely typo: at
// most half of name's length in edits, and 2 for short names. Ties go to
// the earlier name of known, so a sorted list gives stable answers.
func Closest(name string, known []string) string {
	best, bestD := "", max(3, len(name)/2+1)
	lower := strings.ToLower(name)
	for _, k := range known {
		if d := distance(lower, strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Hint is Closest as the end of a message: ` (did you mean "properties"?)`,
// or "" when nothing is close.
func Hint(name string, known []string) string {
	if best := Closest(name, known); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}
