package compiled

import (
	"errors"
	"testing"
)

func TestCache(t *testing.T) {
	calls := 0
	c := New(2, func(s *string) (int, error) {
		calls++
		if *s == "bad" {
			return 0, errors.New("bad")
		}
		return len(*s), nil
	})
	a, b, bad := "a", "bb", "bad"
	for range 3 {
		if v, err := c.Get(&a); v != 1 || err != nil {
			t.Fatal(v, err)
		}
	}
	if calls != 1 {
		t.Fatalf("compiled %d times", calls)
	}
	same := "a" // equal content, another object: compiled again
	c.Get(&same)
	if calls != 2 {
		t.Fatalf("compiled %d times", calls)
	}
	if _, err := c.Get(&bad); err == nil {
		t.Fatal("no error")
	}
	c.Get(&bad)
	if calls != 4 {
		t.Fatalf("errors are kept: %d compiles", calls)
	}
	c.Get(&b) // third entry: the cache was full and starts over
	if len(c.m) != 1 {
		t.Fatalf("%d entries after outgrowing the bound", len(c.m))
	}
}
