package timer

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/reconciler"
)

func TestDueAndEvents(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	c := catalog.New()
	c.Blueprints["environment"] = &catalog.Blueprint{Identifier: "environment", Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
		"ttl":     {Type: "string", Format: "timer"},
		"created": {Type: "string", Format: "date-time"},
	}}}
	env := func(id string, ttl any) *catalog.Entity {
		return &catalog.Entity{Blueprint: "environment", Identifier: id, Properties: map[string]any{"ttl": ttl, "created": "2020-01-01T00:00:00Z"}}
	}
	c.Entities["environment"] = map[string]*catalog.Entity{
		"expired":   env("expired", "2026-11-22T11:59:59Z"),
		"exactly":   env("exactly", "2026-11-22T12:00:00Z"),
		"future":    env("future", "2026-11-22T12:00:01Z"),
		"malformed": env("malformed", "tomorrow"),
		"unset":     env("unset", nil),
	}
	h := state.NewHolder()
	h.Publish(state.Applied{Revision: "r1", At: now, Catalog: c})
	due := Due(h.Load(), now)
	if len(due) != 2 || due[0].Identifier != "exactly" || due[1].Identifier != "expired" || due[0].Property != "ttl" {
		t.Fatalf("due: %+v", due)
	}
	events := Events(h.Load(), due, now)
	if len(events) != 2 || events[0].Type != reconciler.TimerPropertyExpired || events[0].Property != "ttl" || events[0].Revision != "r1" {
		t.Fatalf("events: %+v", events)
	}
	var e map[string]any
	if err := json.Unmarshal(events[1].After, &e); err != nil || e["identifier"] != "expired" {
		t.Fatalf("event entity: %s %v", events[1].After, err)
	}
}
