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

// appliedWhere selects the revisions the state came from, unchanged ones
// included (see the sqlite store).
const appliedWhere = `result IN ('applied', 'unchanged')`

// State reads the revision and the objects in one REPEATABLE READ
// transaction: both come from the same snapshot, so they agree even
// while a revision is being applied.
func (s *Store) State(ctx context.Context) (*store.State, error) {
	st := &store.State{}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var settings []byte
		err := tx.QueryRow(ctx, `SELECT seq, revision, settings FROM revisions WHERE `+appliedWhere+` ORDER BY seq DESC LIMIT 1`).
			Scan(&st.Seq, &st.Revision, &settings)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if settings != nil {
			st.Settings = json.RawMessage(settings)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM objects`).Scan(&n); err != nil {
			return err
		}
		st.Objects = make(map[catalog.Key]store.Object, n)
		rows, err := tx.Query(ctx, `SELECT `+objectColumns+` FROM objects`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			o, err := scanObject(rows)
			if err != nil {
				return err
			}
			st.Objects[o.Key] = o
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.fail("read state", err)
	}
	return st, nil
}

const objectColumns = `kind, blueprint, identifier, json, hash, source_file, source_line, source_col, created_at, updated_at`

func scanObject(row pgx.Row) (store.Object, error) {
	var (
		o    store.Object
		kind string
		js   []byte
	)
	err := row.Scan(&kind, &o.Key.Blueprint, &o.Key.ID, &js, &o.Hash,
		&o.Source.File, &o.Source.Line, &o.Source.Col, optTime{&o.CreatedAt}, optTime{&o.UpdatedAt})
	o.Key.Kind, o.JSON = catalog.Kind(kind), js
	return o, err
}

// Get returns one object. Non-entity keys are stored with an empty
// blueprint, so such a key with a blueprint set is not found.
func (s *Store) Get(ctx context.Context, key catalog.Key) (store.Object, error) {
	o, err := scanObject(s.pool.QueryRow(ctx, `SELECT `+objectColumns+` FROM objects
		WHERE kind = $1 AND blueprint = $2 AND identifier = $3`, key.Kind, key.Blueprint, key.ID))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Object{}, fmt.Errorf("postgres: get %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return store.Object{}, s.fail(fmt.Sprintf("get %s", key), err)
	}
	return o, nil
}

// List returns the objects of a kind ordered by identifier (then
// blueprint, for all entities at once); the blueprint narrows entities
// and is ignored for other kinds.
func (s *Store) List(ctx context.Context, kind catalog.Kind, blueprint string) ([]store.Object, error) {
	q, args := `SELECT `+objectColumns+` FROM objects WHERE kind = $1 ORDER BY identifier, blueprint`, []any{kind}
	if kind == catalog.KindEntityObj && blueprint != "" {
		q, args = `SELECT `+objectColumns+` FROM objects WHERE kind = $1 AND blueprint = $2 ORDER BY identifier`, []any{kind, blueprint}
	}
	out, err := queryAll(ctx, s.pool, q, args, func(r pgx.Rows) (store.Object, error) { return scanObject(r) })
	if err != nil {
		return nil, s.fail(fmt.Sprintf("list %s", kind), err)
	}
	return out, nil
}

// History returns an entity's changes, oldest first; none for an entity
// that never existed, and all of them for a deleted one.
func (s *Store) History(ctx context.Context, blueprint, id string) ([]store.HistoryEntry, error) {
	out, err := queryAll(ctx, s.pool, `SELECT revision, op, before, after, at FROM entity_history
		WHERE blueprint = $1 AND identifier = $2 ORDER BY id`, []any{blueprint, id},
		func(r pgx.Rows) (h store.HistoryEntry, err error) {
			var op string
			var before, after []byte
			err = r.Scan(&h.Revision, &op, &before, &after, &h.At)
			h.Op, h.Before, h.After = store.Op(op), before, after
			return h, err
		})
	if err != nil {
		return nil, s.fail(fmt.Sprintf("history of entity %s/%s", blueprint, id), err)
	}
	return out, nil
}

// Revisions lists attempted revisions, newest first; a limit of zero or
// less means no limit.
func (s *Store) Revisions(ctx context.Context, limit int) ([]store.Revision, error) {
	var lim any // NULL: LIMIT ALL
	if limit > 0 {
		lim = limit
	}
	out, err := queryAll(ctx, s.pool, `SELECT `+revisionColumns+` FROM revisions ORDER BY seq DESC LIMIT $1`, []any{lim},
		func(r pgx.Rows) (store.Revision, error) { return scanRevision(r) })
	if err != nil {
		return nil, s.fail("list revisions", err)
	}
	return out, nil
}

// LastApplied returns the revision State reports: the newest applied or
// unchanged one.
func (s *Store) LastApplied(ctx context.Context) (store.Revision, error) {
	rev, err := scanRevision(s.pool.QueryRow(ctx, `SELECT `+revisionColumns+` FROM revisions
		WHERE `+appliedWhere+` ORDER BY seq DESC LIMIT 1`))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Revision{}, fmt.Errorf("postgres: last applied revision: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Revision{}, s.fail("last applied revision", err)
	}
	return rev, nil
}

const revisionColumns = `seq, revision, result, started_at, duration_ns, created, updated, deleted, entities, errors, settings`

func scanRevision(row pgx.Row) (store.Revision, error) {
	var (
		rev            store.Revision
		duration       int64
		errs, settings []byte
	)
	err := row.Scan(&rev.Seq, &rev.Revision, &rev.Result, &rev.StartedAt, &duration,
		&rev.Counts.Created, &rev.Counts.Updated, &rev.Counts.Deleted, &rev.Counts.Entities, &errs, &settings)
	if err != nil {
		return store.Revision{}, err
	}
	rev.Duration = time.Duration(duration)
	if settings != nil {
		rev.Settings = json.RawMessage(settings)
	}
	if errs != nil {
		if err := json.Unmarshal(errs, &rev.Errors); err != nil {
			return store.Revision{}, fmt.Errorf("revision %d: decode errors: %w", rev.Seq, err)
		}
	}
	return rev, nil
}
