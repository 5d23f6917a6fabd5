package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

// Runtimes returns every entity's runtime-owned values, for the daemon to
// overlay on the applied state at start.
func (s *Store) Runtimes(ctx context.Context) ([]store.Runtime, error) {
	out, err := queryAll(ctx, s.r, `SELECT `+runtimeColumns+` FROM runtime_properties`, nil, scanRuntime)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read runtime properties: %w", err)
	}
	return out, nil
}

const runtimeColumns = `blueprint, identifier, json, updated_at, updated_by`

func scanRuntime(sc scanner) (store.Runtime, error) {
	var (
		rt     store.Runtime
		js, at string
	)
	if err := sc.Scan(&rt.Blueprint, &rt.Identifier, &js, &at, &rt.UpdatedBy); err != nil {
		return rt, err
	}
	if err := catalog.Decode([]byte(js), &rt.Properties); err != nil {
		return rt, fmt.Errorf("runtime properties of %s/%s: %w", rt.Blueprint, rt.Identifier, err)
	}
	var err error
	rt.UpdatedAt, err = parseTime(at)
	return rt, err
}

// SetRuntime stores an entity's runtime-owned values, replacing what was
// stored (callers merge). It fails with store.ErrNotFound when the entity
// is not in the applied state, checked in the same transaction so that a
// concurrent reconcile deleting it cannot leave an orphan.
func (s *Store) SetRuntime(ctx context.Context, rt store.Runtime) error {
	js, err := json.Marshal(rt.Properties)
	if err != nil {
		return fmt.Errorf("sqlite: encode runtime properties: %w", err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: set runtime properties: %w", err)
	}
	defer tx.Rollback()
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM objects WHERE kind = 'entity' AND blueprint = ? AND identifier = ?`,
		rt.Blueprint, rt.Identifier).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: entity %s/%s: %w", rt.Blueprint, rt.Identifier, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: set runtime properties: %w", err)
	}
	if len(rt.Properties) == 0 {
		_, err = tx.ExecContext(ctx, `DELETE FROM runtime_properties WHERE blueprint = ? AND identifier = ?`, rt.Blueprint, rt.Identifier)
	} else {
		_, err = tx.ExecContext(ctx, `INSERT INTO runtime_properties (blueprint, identifier, json, updated_at, updated_by)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (blueprint, identifier) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			rt.Blueprint, rt.Identifier, string(js), formatTime(rt.UpdatedAt), rt.UpdatedBy)
	}
	if err != nil {
		return fmt.Errorf("sqlite: set runtime properties of %s/%s: %w", rt.Blueprint, rt.Identifier, err)
	}
	return tx.Commit()
}

// Audit appends one entry to the audit log.
func (s *Store) Audit(ctx context.Context, e store.AuditEntry) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, resource, status, details) VALUES (?, ?, ?, ?, ?, ?)`,
		formatTime(e.At), store.Text(e.Actor), store.Text(e.Action), store.Text(e.Resource), e.Status, nullJSON(e.Details))
	if err != nil {
		return fmt.Errorf("sqlite: audit %s: %w", e.Action, err)
	}
	return nil
}

// PruneAudit deletes the audit entries older than before and returns how
// many it deleted. Entries are appended as they happen, so the old ones
// are those below the first id at or after before: the delete reads
// about as many rows as it removes, without an index on the time.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM audit_log WHERE id < coalesce(
		(SELECT id FROM audit_log WHERE at >= ? ORDER BY id LIMIT 1),
		(SELECT max(id) + 1 FROM audit_log))`, formatTime(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune the audit log: %w", err)
	}
	return res.RowsAffected()
}

// AuditLog returns entries newest first, at most limit, older than the
// entry with id before (0: from the newest).
func (s *Store) AuditLog(ctx context.Context, limit int, before int64) ([]store.AuditEntry, error) {
	limit = pageLimit(limit)
	q := `SELECT ` + auditColumns + ` FROM audit_log`
	args := []any{}
	if before > 0 {
		q += ` WHERE id < ?`
		args = append(args, before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	out, err := queryAll(ctx, s.r, q, append(args, limit), scanAudit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read audit log: %w", err)
	}
	return out, nil
}

const auditColumns = `id, at, actor, action, resource, status, details`

func scanAudit(sc scanner) (store.AuditEntry, error) {
	var (
		e       store.AuditEntry
		at      string
		details sql.NullString
	)
	if err := sc.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Resource, &e.Status, &details); err != nil {
		return e, err
	}
	if details.Valid {
		e.Details = json.RawMessage(details.String)
	}
	var err error
	e.At, err = parseTime(at)
	return e, err
}

// Seen records a webhook delivery id and reports whether it had been
// recorded before; GitHub keeps the id when a delivery is redelivered.
// Ids older than a week are forgotten, since GitHub only redelivers
// recent deliveries.
func (s *Store) Seen(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := s.w.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, at) VALUES (?, ?) ON CONFLICT DO NOTHING`, store.Text(id), formatTime(at))
	if err != nil {
		return false, fmt.Errorf("sqlite: record delivery %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite: record delivery %s: %w", id, err)
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE at < ?`, formatTime(at.Add(-7*24*time.Hour))); err != nil {
		return false, fmt.Errorf("sqlite: prune deliveries: %w", err)
	}
	return n == 0, nil
}

// Forget drops a recorded delivery id, so that a delivery whose handling
// failed is handled again when GitHub redelivers it.
func (s *Store) Forget(ctx context.Context, id string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE id = ?`, store.Text(id)); err != nil {
		return fmt.Errorf("sqlite: forget delivery %s: %w", id, err)
	}
	return nil
}
