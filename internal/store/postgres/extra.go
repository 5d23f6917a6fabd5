package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

const runtimeColumns = `blueprint, identifier, json, updated_at, updated_by`

func scanRuntime(row pgx.Row) (store.Runtime, error) { return scanRuntimeOf(row, false) }

// scanRuntimeSeq scans runtimeColumns and seq.
func scanRuntimeSeq(row pgx.Row) (store.Runtime, error) { return scanRuntimeOf(row, true) }

func scanRuntimeOf(row pgx.Row, withSeq bool) (store.Runtime, error) {
	var (
		rt store.Runtime
		js []byte
	)
	dest := []any{&rt.Blueprint, &rt.Identifier, &js, &rt.UpdatedAt, &rt.UpdatedBy}
	if withSeq {
		dest = append(dest, &rt.Seq)
	}
	if err := row.Scan(dest...); err != nil {
		return rt, err
	}
	if err := catalog.Decode(js, &rt.Properties); err != nil {
		return rt, fmt.Errorf("runtime properties of %s/%s: %w", rt.Blueprint, rt.Identifier, err)
	}
	return rt, nil
}

// Runtimes returns every entity's runtime-owned values, for the daemon to
// overlay on the applied state at start.
func (s *Store) Runtimes(ctx context.Context) ([]store.Runtime, error) {
	out, err := queryAll(ctx, s.pool, `SELECT `+runtimeColumns+` FROM runtime_properties`, nil,
		func(r pgx.Rows) (store.Runtime, error) { return scanRuntime(r) })
	if err != nil {
		return nil, s.fail("read runtime properties", err)
	}
	return out, nil
}

// SetRuntime stores an entity's runtime-owned values, replacing what was
// stored (callers merge), or ErrNotFound when the entity is not in the
// applied state. The entity's row is locked FOR SHARE until the write
// commits: a revision deleting the entity waits, then deletes the values
// with it; one that deleted it first leaves nothing to lock.
func (s *Store) SetRuntime(ctx context.Context, rt store.Runtime) error {
	js, err := json.Marshal(rt.Properties)
	if err != nil {
		return fmt.Errorf("postgres: encode runtime properties: %w", err)
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM objects WHERE kind = 'entity' AND blueprint = $1 AND identifier = $2 FOR SHARE`,
			rt.Blueprint, rt.Identifier).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("entity %s/%s: %w", rt.Blueprint, rt.Identifier, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		// Numbered one writer at a time (see RuntimesSince).
		var seq int64
		if err := tx.QueryRow(ctx, `SELECT pg_advisory_xact_lock($1), nextval('runtime_seq')`, runtimeLock).Scan(nil, &seq); err != nil {
			return err
		}
		if len(rt.Properties) == 0 {
			if _, err = tx.Exec(ctx, `DELETE FROM runtime_properties WHERE blueprint = $1 AND identifier = $2`, rt.Blueprint, rt.Identifier); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO runtime_cleared (seq, blueprint, identifier) VALUES ($1, $2, $3)`, seq, rt.Blueprint, rt.Identifier)
		} else {
			_, err = tx.Exec(ctx, `INSERT INTO runtime_properties (`+runtimeColumns+`, seq) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (blueprint, identifier) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at,
					updated_by = excluded.updated_by, seq = excluded.seq`,
				rt.Blueprint, rt.Identifier, js, rt.UpdatedAt, rt.UpdatedBy, seq)
		}
		if err != nil {
			return err
		}
		return s.notifyTx(ctx, tx, store.Notification{Kind: store.NotifyRuntime, Seq: seq, Blueprint: rt.Blueprint, ID: rt.Identifier})
	})
	if err != nil {
		return s.fail(fmt.Sprintf("set runtime properties of %s/%s", rt.Blueprint, rt.Identifier), err)
	}
	return nil
}

const auditColumns = `id, at, actor, action, resource, status, details`

func scanAudit(row pgx.Row) (store.AuditEntry, error) {
	var (
		e       store.AuditEntry
		details []byte
	)
	err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Resource, &e.Status, &details)
	if details != nil {
		e.Details = json.RawMessage(details)
	}
	return e, err
}

// Audit appends one entry to the audit log.
func (s *Store) Audit(ctx context.Context, e store.AuditEntry) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_log (at, actor, action, resource, status, details) VALUES ($1, $2, $3, $4, $5, $6)`,
		e.At, store.Text(e.Actor), store.Text(e.Action), store.Text(e.Resource), e.Status, nullJSON(e.Details))
	if err != nil {
		return s.fail(fmt.Sprintf("audit %s", e.Action), err)
	}
	return nil
}

// PruneAudit deletes the audit entries older than before and returns how
// many. Entries are appended as they happen, so the old ones are those
// below the first id at or after before (see the sqlite store).
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.leaderTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM audit_log WHERE id < coalesce(
			(SELECT id FROM audit_log WHERE at >= $1 ORDER BY id LIMIT 1),
			(SELECT max(id) + 1 FROM audit_log))`, before)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, s.fail("prune the audit log", err)
	}
	return n, nil
}

// AuditLog returns entries newest first, at most limit, older than the
// entry with id before (0: from the newest).
func (s *Store) AuditLog(ctx context.Context, limit int, before int64) ([]store.AuditEntry, error) {
	q, args := `SELECT `+auditColumns+` FROM audit_log ORDER BY id DESC LIMIT $1`, []any{store.PageLimit(limit)}
	if before > 0 {
		q, args = `SELECT `+auditColumns+` FROM audit_log WHERE id < $2 ORDER BY id DESC LIMIT $1`, append(args, before)
	}
	out, err := queryAll(ctx, s.pool, q, args, func(r pgx.Rows) (store.AuditEntry, error) { return scanAudit(r) })
	if err != nil {
		return nil, s.fail("read audit log", err)
	}
	return out, nil
}

// Seen records a webhook delivery id and reports whether it had been
// recorded before; of concurrent calls with one id, the insert of all
// but one finds the others' row. Ids older than a week are forgotten,
// since GitHub only redelivers recent deliveries: in the same statement,
// so that a delivery costs one commit.
func (s *Store) Seen(ctx context.Context, id string, at time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `WITH pruned AS (DELETE FROM webhook_deliveries WHERE at < $3)
		INSERT INTO webhook_deliveries (id, at) VALUES ($1, $2) ON CONFLICT DO NOTHING`, store.Text(id), at, at.Add(-7*24*time.Hour))
	if err != nil {
		return false, s.fail(fmt.Sprintf("record delivery %s", id), err)
	}
	return tag.RowsAffected() == 0, nil
}

// Forget drops a recorded delivery id, so that a delivery whose handling
// failed is handled again when GitHub redelivers it.
func (s *Store) Forget(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM webhook_deliveries WHERE id = $1`, store.Text(id)); err != nil {
		return s.fail(fmt.Sprintf("forget delivery %s", id), err)
	}
	return nil
}
