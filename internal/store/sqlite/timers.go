package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/store"
)

// FireTimers records the expiries in due that were not recorded before
// and returns them. deliveries, given those, returns the outbound
// deliveries announcing them, which are queued in the same transaction:
// an expiry is announced once, and never recorded without its
// announcement.
func (s *Store) FireTimers(ctx context.Context, due []store.Timer, at time.Time, deliveries func(fired []store.Timer) ([]record.Delivery, error)) ([]store.Timer, error) {
	if len(due) == 0 {
		return nil, nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: fire timers: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO timer_expiries (blueprint, identifier, property, expires_at, fired_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: fire timers: %w", err)
	}
	defer stmt.Close()
	var fired []store.Timer
	for _, t := range due {
		res, err := stmt.ExecContext(ctx, t.Blueprint, t.Identifier, t.Property, t.ExpiresAt, formatTime(at))
		if err != nil {
			return nil, fmt.Errorf("sqlite: fire timer %s/%s.%s: %w", t.Blueprint, t.Identifier, t.Property, err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 1 {
			fired = append(fired, t)
		}
	}
	if len(fired) == 0 {
		return nil, nil
	}
	if deliveries != nil {
		ds, err := deliveries(fired)
		if err != nil {
			return nil, fmt.Errorf("sqlite: fire timers: %w", err)
		}
		if err := enqueue(ctx, tx, ds); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlite: fire timers: %w", err)
	}
	return fired, nil
}
