package automation

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/internal/runs"
	"github.com/pierhq/pier/internal/state"
)

// Scheduler runs the actions that declare a schedule (a cron expression)
// through the run pipeline, approval rules included: a CREATE action
// once per tick, a DAY-2 or DELETE action once per entity of its
// blueprint that meets its condition.
type Scheduler struct {
	Catalog func() *state.Snapshot
	Runs    Runs
	Logger  *slog.Logger
	Now     func() time.Time

	mu   sync.Mutex
	last map[string]time.Time // action -> the last slot fired (or when first seen)
}

// Tick fires every action whose next slot has come. Slots missed while
// pier was down are not made up; a slot is fired once, its time in the
// runs' request key, so a restart within the slot does not repeat it.
func (s *Scheduler) Tick(ctx context.Context) {
	snap := s.Catalog()
	if snap == nil {
		return
	}
	now := s.Now()
	s.mu.Lock()
	if s.last == nil {
		s.last = map[string]time.Time{}
	}
	var due []struct {
		a    *catalog.Action
		slot time.Time
	}
	for _, id := range slices.Sorted(maps.Keys(snap.Actions)) {
		a := snap.Actions[id]
		if a.Schedule == "" {
			continue
		}
		sched, err := cron.ParseStandard(a.Schedule)
		if err != nil {
			continue // the loader reports it
		}
		last, seen := s.last[id]
		if !seen {
			s.last[id] = now
			continue
		}
		slot := sched.Next(last)
		if slot.After(now) {
			continue
		}
		for n := sched.Next(slot); !n.After(now); n = sched.Next(n) {
			slot = n // fire the latest slot only
		}
		s.last[id] = slot
		due = append(due, struct {
			a    *catalog.Action
			slot time.Time
		}{a, slot})
	}
	s.mu.Unlock()
	for _, d := range due {
		s.fire(ctx, snap, d.a, d.slot)
	}
}

func (s *Scheduler) fire(ctx context.Context, snap *state.Snapshot, a *catalog.Action, slot time.Time) {
	key := "schedule:" + a.Identifier + ":" + slot.UTC().Format(time.RFC3339)
	var entities []string
	if op := a.Trigger.Operation; op == "DAY-2" || op == "DELETE" {
		var cond *query.Query
		if len(a.Trigger.Condition) > 0 {
			var q catalog.Query
			err := catalog.Decode(a.Trigger.Condition, &q)
			if err == nil {
				cond, err = query.Compile(q)
			}
			if err != nil {
				// Never widen to every entity: a condition that does not
				// compile selects none (the loader reports it with its
				// position).
				s.Logger.Error("scheduled action", "action", a.Identifier, "err", fmt.Errorf("trigger.condition: %w", err))
				return
			}
		}
		for _, id := range snap.IDs(a.Trigger.BlueprintIdentifier) {
			e := snap.Entity(a.Trigger.BlueprintIdentifier, id)
			if cond == nil || cond.Match(snap.QueryEntity(e), snap.Graph()) {
				entities = append(entities, id)
			}
		}
	} else {
		entities = []string{""}
	}
	for _, ent := range entities {
		k := key
		if ent != "" {
			k += ":" + ent
		}
		run, err := s.Runs.Request(ctx, runs.Request{Action: a.Identifier, Entity: ent, Requester: "schedule", Source: "schedule", RequestKey: k})
		if err != nil {
			s.Logger.Warn("scheduled action", "action", a.Identifier, "entity", ent, "err", err)
			continue
		}
		s.Logger.Info("scheduled action", "action", a.Identifier, "entity", ent, "run", run.ID)
	}
}
