package github

import (
	"errors"
	"net/http"
	"strings"

	gogithub "github.com/google/go-github/v62/github"
)

// Errors that callers act on, matchable with errors.Is. The error a call
// returns still wraps GitHub's answer (a *github.ErrorResponse), for
// errors.As and for the log.
var (
	// ErrNotFound is GitHub answering 404: the object does not exist,
	// or the token cannot see it (GitHub does not say which).
	ErrNotFound = errors.New("not found")
	// ErrExists is GitHub refusing to create what already exists.
	ErrExists = errors.New("already exists")
)

// kindError is GitHub's answer err, which also matches kind.
type kindError struct {
	kind, err error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// notFound makes a 404 match ErrNotFound.
func notFound(err error) error {
	if statusCode(err) == http.StatusNotFound {
		return &kindError{kind: ErrNotFound, err: err}
	}
	return err
}

// statusCode returns the status of GitHub's answer in err, or 0 when no
// answer came back (a network error, a timeout) or err is not GitHub's.
// go-github's rate-limit errors carry a status too, even the ones it
// returns without sending the request.
func statusCode(err error) int {
	var resp *http.Response
	var (
		e   *gogithub.ErrorResponse
		rl  *gogithub.RateLimitError
		abr *gogithub.AbuseRateLimitError
	)
	switch {
	case errors.As(err, &e):
		resp = e.Response
	case errors.As(err, &rl):
		resp = rl.Response
	case errors.As(err, &abr):
		resp = abr.Response
	}
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// answered reports whether err is GitHub answering code with a message,
// or an entry of its errors, that mentions text (in any case). GitHub's
// status codes are too coarse for some decisions: a 422 says "Reference
// already exists" as well as "Object does not exist".
func answered(err error, code int, text string) bool {
	var e *gogithub.ErrorResponse
	if !errors.As(err, &e) || e.Response == nil || e.Response.StatusCode != code {
		return false
	}
	text = strings.ToLower(text)
	mentions := func(s string) bool { return strings.Contains(strings.ToLower(s), text) }
	if mentions(e.Message) {
		return true
	}
	for _, fe := range e.Errors {
		if mentions(fe.Message) || mentions(fe.Field) {
			return true
		}
	}
	return false
}
