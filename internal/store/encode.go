package store

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/pierhq/pier/internal/catalog"
)

// EncodeRun returns r as a store keeps it, JSON, and r as it reads
// back: times in UTC, numbers in Inputs as json.Number. Every time.Time
// in a Run must be listed here (the contract suite's RunTimesUTC
// checks). The caller's approval is not changed.
func EncodeRun(r Run) ([]byte, Run, error) {
	r.CreatedAt, r.UpdatedAt, r.EndedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC(), r.EndedAt.UTC()
	r.Dispatch.StartedAt, r.Dispatch.At = r.Dispatch.StartedAt.UTC(), r.Dispatch.At.UTC()
	if r.Approval != nil {
		a := *r.Approval
		a.ExpiresAt, a.DecidedAt, a.FinishedAt, a.OpeningAt = a.ExpiresAt.UTC(), a.DecidedAt.UTC(), a.FinishedAt.UTC(), a.OpeningAt.UTC()
		a.Retry.NextAt, a.CloseRetry.NextAt = a.Retry.NextAt.UTC(), a.CloseRetry.NextAt.UTC()
		a.Votes = slices.Clone(a.Votes)
		for i := range a.Votes {
			a.Votes[i].At = a.Votes[i].At.UTC()
		}
		r.Approval = &a
	}
	js, err := json.Marshal(r)
	if err != nil {
		return nil, Run{}, err
	}
	stored, err := DecodeRun(js)
	return js, stored, err
}

// DecodeRun reads a run EncodeRun wrote.
func DecodeRun(js []byte) (Run, error) {
	var r Run
	err := catalog.Decode(js, &r)
	return r, err
}

// PageLimit is the size of a page of a listing: limit, 100 when it is
// not positive, at most 1000.
func PageLimit(limit int) int {
	if limit <= 0 {
		return 100
	}
	return min(limit, 1000)
}

// Text is what a store keeps of free text (log lines, notes, error
// messages, names, delivery ids): valid UTF-8 without NUL, the only text
// PostgreSQL can hold. Each invalid byte sequence and each NUL reads back
// as U+FFFD. Both stores keep the same, so that they answer alike, and a
// receiver's answer cut mid-character in an outbox error cannot make a
// write fail.
func Text(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
