package catalog

import (
	"encoding/json"
	"testing"
)

// A scorecard exported from Port names its blueprint as "blueprint".
func TestScorecardExportBlueprint(t *testing.T) {
	tests := []struct{ data, want string }{
		{`{"identifier": "r", "blueprint": "service", "rules": []}`, "service"},
		{`{"identifier": "r", "blueprintIdentifier": "team", "blueprint": "service", "rules": []}`, "team"},
		{`{"identifier": "r", "rules": []}`, ""},
	}
	for _, tt := range tests {
		var sc Scorecard
		if err := json.Unmarshal([]byte(tt.data), &sc); err != nil || sc.BlueprintIdentifier != tt.want || sc.Identifier != "r" {
			t.Errorf("%s: %+v %v, want blueprint %q", tt.data, sc, err, tt.want)
		}
	}
}
