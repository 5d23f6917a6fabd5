// Package redact removes secret values from text bound for errors and
// logs: a server may echo a header, a path or an endpoint may hold a
// token, and go-git prints remotes with their user info URL-escaped.
package redact

import (
	"errors"
	"net/url"
	"strings"
)

// Secrets are the values to remove, in the forms they may take in a
// message: as given and URL-escaped.
type Secrets []string

// New returns the redactor of the given secrets. Secrets shorter than
// four bytes are left alone: replacing every "a" would garble messages
// and hide nothing worth hiding.
func New(secrets ...string) Secrets {
	var r Secrets
	for _, s := range secrets {
		r = r.Add(s)
	}
	return r
}

// Add returns r with one more secret.
func (r Secrets) Add(secret string) Secrets {
	if len(secret) < 4 {
		return r
	}
	return append(r, secret, url.PathEscape(secret), url.QueryEscape(secret))
}

// String returns s with every secret replaced by REDACTED.
func (r Secrets) String(s string) string {
	for _, secret := range r {
		s = strings.ReplaceAll(s, secret, "REDACTED")
	}
	return s
}

// Error returns err unchanged when its message holds no secret, and
// otherwise an error with the redacted message. That error answers
// errors.Is for the sentinels underneath but has no Unwrap, so errors.As
// cannot dig out an inner error (a *url.Error, say) whose fields still
// hold the secret.
func (r Secrets) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := r.String(msg); clean != msg {
		return &redacted{msg: clean, err: err}
	}
	return err
}

type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }

func (e *redacted) Is(target error) bool { return errors.Is(e.err, target) }
