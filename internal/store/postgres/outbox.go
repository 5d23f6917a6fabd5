package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/store"
)

// The methods in this file implement outbox.Store.

// Enqueue stores deliveries as pending, all or none; an id already
// stored is skipped, so enqueueing the same events twice sends them once.
func (s *Store) Enqueue(ctx context.Context, ds []record.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	if err := s.tx(ctx, func(tx pgx.Tx) error { return enqueue(ctx, tx, ds) }); err != nil {
		return s.fail("enqueue deliveries", err)
	}
	return nil
}

// enqueue inserts deliveries in tx, in one batch.
func enqueue(ctx context.Context, tx pgx.Tx, ds []record.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, d := range ds {
		if d.ID == "" {
			return fmt.Errorf("enqueue delivery to %s: empty id", d.Subscription)
		}
		b.Queue(`INSERT INTO outbox (id, subscription, url, event, body, state, attempts, next_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8) ON CONFLICT (id) DO NOTHING`,
			d.ID, d.Subscription, d.URL, d.Event, []byte(d.Body), record.Pending, d.NextAt, d.CreatedAt)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("enqueue deliveries: %w", err)
	}
	return nil
}

const outboxColumns = `id, subscription, url, event, body, state, attempts, next_at, created_at, delivered_at, last_status, last_error`

func scanDelivery(row pgx.Row) (record.Delivery, error) {
	var (
		d    record.Delivery
		body []byte
	)
	err := row.Scan(&d.ID, &d.Subscription, &d.URL, &d.Event, &body, &d.State, &d.Attempts,
		&d.NextAt, &d.CreatedAt, optTime{&d.DeliveredAt}, &d.LastStatus, &d.LastError)
	d.Body = body
	return d, err
}

func (s *Store) queryOutbox(ctx context.Context, what, q string, args ...any) ([]record.Delivery, error) {
	out, err := queryAll(ctx, s.pool, q, args, func(r pgx.Rows) (record.Delivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, s.fail(what, err)
	}
	return out, nil
}

// Due returns up to limit pending deliveries whose next attempt is at or
// before now, earliest first. The state is written out so that the
// partial index outbox_due serves the query.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]record.Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	return s.queryOutbox(ctx, "read due deliveries",
		`SELECT `+outboxColumns+` FROM outbox WHERE state = 'pending' AND next_at <= $1 ORDER BY next_at, seq LIMIT $2`, now, limit)
}

// Deliveries returns deliveries newest first, at most limit, enqueued
// before the delivery with id before ("": from the newest). A before that
// is no delivery's id is store.ErrNotFound: it has no place to page from.
func (s *Store) Deliveries(ctx context.Context, limit int, before string) ([]record.Delivery, error) {
	limit = store.PageLimit(limit)
	if before == "" {
		return s.queryOutbox(ctx, "list deliveries", `SELECT `+outboxColumns+` FROM outbox ORDER BY seq DESC LIMIT $1`, limit)
	}
	ds, err := s.queryOutbox(ctx, "list deliveries",
		`SELECT `+outboxColumns+` FROM outbox WHERE seq < (SELECT seq FROM outbox WHERE id = $1) ORDER BY seq DESC LIMIT $2`,
		before, limit)
	if err == nil && len(ds) == 0 { // the oldest page, or no such delivery?
		var one int
		if err = s.pool.QueryRow(ctx, `SELECT 1 FROM outbox WHERE id = $1`, before).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("postgres: list deliveries before %q: %w", before, store.ErrNotFound)
		} else if err != nil {
			return nil, s.fail("list deliveries", err)
		}
	}
	return ds, err
}

// MarkDelivered records a successful attempt.
func (s *Store) MarkDelivered(ctx context.Context, id string, at time.Time, status int) error {
	return s.markOutbox(ctx, "mark delivered", id,
		`UPDATE outbox SET state = $1, attempts = attempts + 1, delivered_at = $2, last_status = $3, last_error = ''
		WHERE id = $4 AND state = $5`,
		record.Delivered, at, status, id, record.Pending)
}

// MarkFailed records a failed attempt and when to try again.
func (s *Store) MarkFailed(ctx context.Context, id string, at time.Time, status int, errMsg string, next time.Time) error {
	return s.markOutbox(ctx, "mark failed", id,
		`UPDATE outbox SET attempts = attempts + 1, next_at = $1, last_status = $2, last_error = $3
		WHERE id = $4 AND state = $5`,
		next, status, store.Text(errMsg), id, record.Pending)
}

// MarkDead records a last failed attempt.
func (s *Store) MarkDead(ctx context.Context, id string, at time.Time, status int, errMsg string) error {
	return s.markOutbox(ctx, "mark dead", id,
		`UPDATE outbox SET state = $1, attempts = attempts + 1, next_at = $2, last_status = $3, last_error = $4
		WHERE id = $5 AND state = $6`,
		record.Dead, at, status, store.Text(errMsg), id, record.Pending)
}

// markOutbox runs one outbox update, the outbox worker's: a leader's
// write once replicas share the database.
func (s *Store) markOutbox(ctx context.Context, what, id, q string, args ...any) error {
	var n int64
	err := s.leaderTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, q, args...)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return s.fail(fmt.Sprintf("%s %s", what, id), err)
	}
	if n == 0 {
		return fmt.Errorf("postgres: %s %s: %w", what, id, record.ErrNotPending)
	}
	return nil
}

// PruneOutbox deletes delivered and dead deliveries enqueued before
// cutoff, and reports how many; pending ones are kept.
func (s *Store) PruneOutbox(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.leaderTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM outbox WHERE state <> $1 AND created_at < $2`, record.Pending, cutoff)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, s.fail("prune outbox", err)
	}
	return n, nil
}
