package didyoumean

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"identifier", "properties", "relations", "team", "title"}
	for _, tt := range []struct{ name, want string }{
		{"propertes", "properties"},
		{"Properties", "properties"}, // case is not a typo's distance
		{"relation", "relations"},
		{"tite", "title"},
		{"tam", "team"},
		{"xyz", ""},       // nothing near
		{"lifecycle", ""}, // a real word, not a typo of a field
		{"identifierss", "identifier"},
	} {
		if got := Closest(tt.name, known); got != tt.want {
			t.Errorf("Closest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := Hint("propertes", known); got != ` (did you mean "properties"?)` {
		t.Errorf("Hint: %q", got)
	}
	if got := Hint("xyz", known); got != "" {
		t.Errorf("Hint of nothing near: %q", got)
	}
}
