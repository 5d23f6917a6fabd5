package approval

import (
	"testing"

	"github.com/pierhq/pier/internal/catalog"
)

func mustAction(t *testing.T, s string) *catalog.Action {
	t.Helper()
	a := &catalog.Action{}
	if err := catalog.Decode([]byte(s), a); err != nil {
		t.Fatal(err)
	}
	return a
}
