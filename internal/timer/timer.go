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
	"sync"
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

// Answered remembers which due timers the store has already answered
// for (fired now or before), so that a check sends the store only the
// timers that became due since: without it every check offered every
// timer that ever expired, and the store dropped them one by one. The
// store stays the authority: a process that starts (or a replica that
// starts leading) remembers nothing and offers each due timer once.
type Answered struct {
	mu   sync.Mutex
	done map[store.Timer]struct{}
}

// New returns the timers of due the store has not answered for, and
// forgets those no longer due (a changed value, a deleted entity), so
// that what is remembered is bounded by what is due.
func (a *Answered) New(due []store.Timer) []store.Timer {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []store.Timer
	kept := make(map[store.Timer]struct{}, len(a.done))
	for _, t := range due {
		if _, ok := a.done[t]; ok {
			kept[t] = struct{}{}
		} else {
			out = append(out, t)
		}
	}
	a.done = kept
	return out
}

// Record says the store answered for ts: each fired, or had fired.
func (a *Answered) Record(ts []store.Timer) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done == nil {
		a.done = make(map[store.Timer]struct{}, len(ts))
	}
	for _, t := range ts {
		a.done[t] = struct{}{}
	}
}
