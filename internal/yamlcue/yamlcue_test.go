package yamlcue

import (
	"strings"
	"testing"
)

// TestLoneCR checks files with lone carriage returns, on which CUE's
// decoder panicked ("\r\r0") or placed values past the end of a line
// ("\r 0" at 1:5 of a 3-byte line).
func TestLoneCR(t *testing.T) {
	for _, tt := range []struct{ src, pos string }{
		{"\r\r0", "f.yaml:3:1"},
		{"\r 0", "f.yaml:2:2"},
		{"a: 1\r\rb: 2\r\n", "f.yaml:1:1"},
	} {
		f, err := Extract("f.yaml", []byte(tt.src))
		if err != nil {
			t.Fatalf("%q: %v", tt.src, err)
		}
		if got := f.Decls[0].Pos().String(); got != tt.pos {
			t.Errorf("%q: first declaration at %s, want %s", tt.src, got, tt.pos)
		}
	}
	if got := string(NormalizeCR([]byte("a\rb\r\nc\r"))); got != "a\nb\r\nc\n" {
		t.Errorf("NormalizeCR = %q", got)
	}
	if _, err := Extract("f.yaml", []byte("a: [")); err == nil || !strings.Contains(err.Error(), "f.yaml") {
		t.Errorf("a syntax error: %v", err)
	}
}
