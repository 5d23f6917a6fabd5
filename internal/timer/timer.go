// Package timer finds timer properties that have expired. A timer is a
// property of format "timer" holding an RFC 3339 time (Port's ephemeral
// environments' TTL); when the time passes, pier announces it once with a
// TIMER_PROPERTY_EXPIRED event. Which expiries were announced is the
// store's to remember, so a restart announces none twice.
package timer

import (
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/reconciler"
)

// Due lists the timers of the snapshot that expired at or before now, in
// a stable order. Values that are not RFC 3339 times are not timers that
// can expire (validation rejects them in git and through the API).
func Due(s *state.Snapshot, now time.Time) []store.Timer {
	var out []store.Timer
	for _, bpID := range slices.Sorted(maps.Keys(s.Blueprints)) {
		var props []string
		for name, p := range s.Blueprints[bpID].Schema.Properties {
			if p.Format == "timer" && p.Type == "string" {
				props = append(props, name)
			}
		}
		if len(props) == 0 {
			continue
		}
		slices.Sort(props)
		for _, id := range s.IDs(bpID) {
			e := s.Entities[bpID][id]
			for _, name := range props {
				v, ok := e.Properties[name].(string)
				if !ok {
					continue
				}
				at, err := time.Parse(time.RFC3339Nano, v)
				if err != nil || at.After(now) {
					continue
				}
				out = append(out, store.Timer{Blueprint: bpID, Identifier: id, Property: name, ExpiresAt: v})
			}
		}
	}
	return out
}

// Events announces fired timers: one TIMER_PROPERTY_EXPIRED event each,
// carrying the entity as it is served.
func Events(s *state.Snapshot, fired []store.Timer, at time.Time) []reconciler.Event {
	out := make([]reconciler.Event, 0, len(fired))
	for _, t := range fired {
		e := reconciler.Event{
			Type: reconciler.TimerPropertyExpired, Blueprint: t.Blueprint, Identifier: t.Identifier,
			Property: t.Property, Revision: s.Revision, At: at.UTC(),
		}
		if ent := s.Entity(t.Blueprint, t.Identifier); ent != nil {
			if b, err := json.Marshal(ent); err == nil {
				e.Before, e.After = b, b
			}
		}
		out = append(out, e)
	}
	return out
}
