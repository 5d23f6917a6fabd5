package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/store"
)

// FireTimers records the expiries in due that were not recorded before
// and returns them, with the deliveries announcing them queued in the
// same transaction. Of two concurrent calls, the insert of an expiry by
// the second waits for the first to commit and then does nothing: each
// expiry is announced once.
func (s *Store) FireTimers(ctx context.Context, due []store.Timer, at time.Time, deliveries func(fired []store.Timer) ([]record.Delivery, error)) ([]store.Timer, error) {
	if len(due) == 0 {
		return nil, nil
	}
	var fired []store.Timer
	err := s.leaderTx(ctx, func(tx pgx.Tx) error {
		for _, t := range due {
			tag, err := tx.Exec(ctx, `INSERT INTO timer_expiries (blueprint, identifier, property, expires_at, fired_at)
				VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, t.Blueprint, t.Identifier, t.Property, t.ExpiresAt, at)
			if err != nil {
				return fmt.Errorf("fire timer %s/%s.%s: %w", t.Blueprint, t.Identifier, t.Property, err)
			}
			if tag.RowsAffected() == 1 {
				fired = append(fired, t)
			}
		}
		if len(fired) == 0 || deliveries == nil {
			return nil
		}
		ds, err := deliveries(fired)
		if err != nil {
			return err
		}
		return enqueue(ctx, tx, ds)
	})
	if err != nil {
		return nil, s.fail("fire timers", err)
	}
	return fired, nil
}
