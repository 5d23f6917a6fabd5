package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/store"
)

// The methods in this file implement outbox.Store.

// Enqueue stores deliveries as pending, in one transaction. A delivery
// whose id is already stored is skipped, so enqueueing the same events
// twice sends them once.
func (s *Store) Enqueue(ctx context.Context, ds []record.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: enqueue deliveries: %w", err)
	}
	defer tx.Rollback()
	if err := enqueue(ctx, tx, ds); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: enqueue deliveries: %w", err)
	}
	return nil
}

// enqueue inserts deliveries in tx; an id already queued is left alone,
// so enqueueing the same events twice queues them once.
func enqueue(ctx context.Context, tx *sql.Tx, ds []record.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO outbox
		(id, subscription, url, event, body, state, attempts, next_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)
		ON CONFLICT (id) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("sqlite: enqueue deliveries: %w", err)
	}
	defer stmt.Close()
	for _, d := range ds {
		if d.ID == "" {
			return fmt.Errorf("sqlite: enqueue delivery to %s: empty id", d.Subscription)
		}
		if _, err := stmt.ExecContext(ctx, d.ID, d.Subscription, d.URL, d.Event, string(d.Body),
			record.Pending, formatTime(d.NextAt), formatTime(d.CreatedAt)); err != nil {
			return fmt.Errorf("sqlite: enqueue delivery %s: %w", d.ID, err)
		}
	}
	return nil
}

const outboxColumns = `id, subscription, url, event, body, state, attempts, next_at, created_at, delivered_at, last_status, last_error`

// Due returns up to limit pending deliveries whose next attempt is at or
// before now, earliest first.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]record.Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	// Times are fixed-width UTC text, so comparing the text compares times.
	return s.queryOutbox(ctx, "read due deliveries",
		`SELECT `+outboxColumns+` FROM outbox WHERE state = ? AND next_at <= ? ORDER BY next_at, seq LIMIT ?`,
		record.Pending, formatTime(now), limit)
}

// Deliveries returns deliveries newest first, at most limit, enqueued
// before the delivery with id before ("": from the newest). A before that
// is no delivery's id is store.ErrNotFound: it has no place to page from.
func (s *Store) Deliveries(ctx context.Context, limit int, before string) ([]record.Delivery, error) {
	limit = pageLimit(limit)
	if before == "" {
		return s.queryOutbox(ctx, "list deliveries",
			`SELECT `+outboxColumns+` FROM outbox ORDER BY seq DESC LIMIT ?`, limit)
	}
	ds, err := s.queryOutbox(ctx, "list deliveries",
		`SELECT `+outboxColumns+` FROM outbox WHERE seq < (SELECT seq FROM outbox WHERE id = ?) ORDER BY seq DESC LIMIT ?`,
		before, limit)
	if err == nil && len(ds) == 0 { // the oldest page, or no such delivery?
		var one int
		if err = s.r.QueryRowContext(ctx, `SELECT 1 FROM outbox WHERE id = ?`, before).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			err = fmt.Errorf("sqlite: list deliveries before %q: %w", before, store.ErrNotFound)
		}
	}
	return ds, err
}

func (s *Store) queryOutbox(ctx context.Context, what, q string, args ...any) ([]record.Delivery, error) {
	out, err := queryAll(ctx, s.r, q, args, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return out, nil
}

// scanDelivery reads a row of outboxColumns.
func scanDelivery(sc scanner) (record.Delivery, error) {
	var (
		d                          record.Delivery
		body, next, created, deliv string
	)
	if err := sc.Scan(&d.ID, &d.Subscription, &d.URL, &d.Event, &body, &d.State, &d.Attempts,
		&next, &created, &deliv, &d.LastStatus, &d.LastError); err != nil {
		return d, err
	}
	d.Body = json.RawMessage(body)
	var err error
	if d.NextAt, err = parseTime(next); err != nil {
		return d, fmt.Errorf("delivery %s: %w", d.ID, err)
	}
	if d.CreatedAt, err = parseTime(created); err != nil {
		return d, fmt.Errorf("delivery %s: %w", d.ID, err)
	}
	if d.DeliveredAt, err = parseOptionalTime(deliv); err != nil {
		return d, fmt.Errorf("delivery %s: %w", d.ID, err)
	}
	return d, nil
}

// MarkDelivered records a successful attempt.
func (s *Store) MarkDelivered(ctx context.Context, id string, at time.Time, status int) error {
	return s.markOutbox(ctx, "mark delivered", id,
		`UPDATE outbox SET state = ?, attempts = attempts + 1, delivered_at = ?, last_status = ?, last_error = ''
		WHERE id = ? AND state = ?`,
		record.Delivered, formatTime(at), status, id, record.Pending)
}

// MarkFailed records a failed attempt and when to try again. at is when
// the attempt was made; status is 0 when no response came.
func (s *Store) MarkFailed(ctx context.Context, id string, at time.Time, status int, errMsg string, next time.Time) error {
	return s.markOutbox(ctx, "mark failed", id,
		`UPDATE outbox SET attempts = attempts + 1, next_at = ?, last_status = ?, last_error = ?
		WHERE id = ? AND state = ?`,
		formatTime(next), status, store.Text(errMsg), id, record.Pending)
}

// MarkDead records a last failed attempt: the delivery will not be tried
// again.
func (s *Store) MarkDead(ctx context.Context, id string, at time.Time, status int, errMsg string) error {
	return s.markOutbox(ctx, "mark dead", id,
		`UPDATE outbox SET state = ?, attempts = attempts + 1, next_at = ?, last_status = ?, last_error = ?
		WHERE id = ? AND state = ?`,
		record.Dead, formatTime(at), status, store.Text(errMsg), id, record.Pending)
}

func (s *Store) markOutbox(ctx context.Context, what, id, q string, args ...any) error {
	res, err := s.w.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("sqlite: %s %s: %w", what, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: %s %s: %w", what, id, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: %s %s: %w", what, id, record.ErrNotPending)
	}
	return nil
}

// PruneOutbox deletes delivered and dead deliveries enqueued before
// cutoff, and reports how many it deleted; pending ones are kept.
func (s *Store) PruneOutbox(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM outbox WHERE state != ? AND created_at < ?`, record.Pending, formatTime(cutoff))
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune outbox: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune outbox: %w", err)
	}
	return n, nil
}
