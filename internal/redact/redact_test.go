package redact

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"testing"
)

func TestRedact(t *testing.T) {
	r := New("s3cr3t/+x", "abc") // "abc" is too short to redact
	for _, tc := range []struct{ in, want string }{
		{"token s3cr3t/+x in a header", "token REDACTED in a header"},
		{"https://u:" + url.PathEscape("s3cr3t/+x") + "@h/p", "https://u:REDACTED@h/p"},
		{"?t=" + url.QueryEscape("s3cr3t/+x"), "?t=REDACTED"},
		{"abc stays", "abc stays"},
	} {
		if got := r.String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	inner := &url.Error{Op: "Get", URL: "https://h/?t=s3cr3t/+x", Err: fs.ErrNotExist}
	err := r.Error(fmt.Errorf("fetch: %w", inner))
	var ue *url.Error
	if err.Error() != `fetch: Get "https://h/?t=REDACTED": file does not exist` || !errors.Is(err, fs.ErrNotExist) || errors.As(err, &ue) {
		t.Errorf("Error: %q (Is %v, As %v)", err, errors.Is(err, fs.ErrNotExist), errors.As(err, &ue))
	}
	if plain := errors.New("nothing secret"); r.Error(plain) != plain || r.Error(nil) != nil {
		t.Error("an error without secrets must come back as is")
	}
}
