package catalog

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("ab", 100)
	tests := []struct{ in, want string }{
		{"short", "short"},
		{strings.Repeat("x", 60), strings.Repeat("x", 60)},
		{long, long[:57] + "..."},
		// A cut never splits a rune: é is two bytes, the 57th byte is
		// the middle of one.
		{strings.Repeat("é", 40), strings.Repeat("é", 28) + "..."},
	}
	for _, tt := range tests {
		got := Excerpt(tt.in)
		if got != tt.want || !utf8.ValidString(got) {
			t.Errorf("Excerpt(%.20q...) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExcerptArgs(t *testing.T) {
	long := strings.Repeat("root:x:0:0 ", 100)
	got := fmt.Sprintf("conflicting values %q and %v (%d)", ExcerptArgs([]any{long, long, 42})...)
	want := fmt.Sprintf("conflicting values %q and %s (42)", long[:57]+"...", long[:57]+"...")
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestShorten(t *testing.T) {
	long := strings.Repeat("s", 500)
	tests := []struct{ in, want string }{
		{`blueprint "team" does not exist`, `blueprint "team" does not exist`},
		{`blueprint "` + long + `" does not exist`, `blueprint "` + long[:57] + `..." does not exist`},
		{`relation "a" targets blueprint "` + long + `", which does not exist`, `relation "a" targets blueprint "` + long[:57] + `...", which does not exist`},
		// An escaped quote does not end the string.
		{`got "` + long + `\" still inside ` + long + `" after`, `got "` + long[:57] + `..." after`},
		// An unbalanced quote is left alone; the length cap still holds.
		{`got "` + strings.Repeat("u", 2000), `got "` + strings.Repeat("u", maxMessage-8) + "..."},
	}
	for _, tt := range tests {
		ds := Diagnostics{{Message: tt.in}}
		ds.Shorten()
		if ds[0].Message != tt.want {
			t.Errorf("Shorten(%.40q...)\n got  %q\n want %q", tt.in, ds[0].Message, tt.want)
		}
	}
}
