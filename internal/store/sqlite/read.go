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

// appliedWhere selects the revisions the state came from. An unchanged
// revision counts: the reconciler found nothing to do, so the state is
// that revision's state, and LastApplied agrees with State.Revision.
const appliedWhere = `result IN ('applied', 'unchanged')`

// State reads the objects and the revision in one read transaction, so the
// two agree even while a revision is being applied: in WAL mode the
// transaction sees the last commit before it started, whole.
func (s *Store) State(ctx context.Context) (st *store.State, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlite: read state: %w", err)
		}
	}()
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() // read-only: nothing to commit

	st = &store.State{}
	var settings []byte
	err = tx.QueryRowContext(ctx, `SELECT seq, revision, settings FROM revisions WHERE `+appliedWhere+` ORDER BY seq DESC LIMIT 1`).
		Scan(&st.Seq, &st.Revision, &settings)
	if settings != nil {
		st.Settings = json.RawMessage(settings)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}

	// Sizing the map up front saves rehashing it as it grows to tens of
	// thousands of entries.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM objects`).Scan(&n); err != nil {
		return nil, err
	}
	st.Objects = make(map[catalog.Key]store.Object, n)
	rows, err := tx.QueryContext(ctx, `SELECT `+objectColumns+` FROM objects`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return nil, err
		}
		st.Objects[o.Key] = o
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return st, nil
}

const objectColumns = `kind, blueprint, identifier, json, hash, source_file, source_line, source_col, created_at, updated_at`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

func scanObject(sc scanner) (store.Object, error) {
	var (
		o                store.Object
		kind             string
		js               []byte
		created, updated string
	)
	err := sc.Scan(&kind, &o.Key.Blueprint, &o.Key.ID, &js, &o.Hash,
		&o.Source.File, &o.Source.Line, &o.Source.Col, &created, &updated)
	if err != nil {
		return store.Object{}, err
	}
	if o.CreatedAt, err = parseOptionalTime(created); err != nil {
		return store.Object{}, err
	}
	if o.UpdatedAt, err = parseOptionalTime(updated); err != nil {
		return store.Object{}, err
	}
	o.Key.Kind = catalog.Kind(kind)
	o.JSON = js
	return o, nil
}

// Get returns one object. Non-entity keys are stored with an empty
// blueprint, so such a key with a blueprint set is simply not found.
func (s *Store) Get(ctx context.Context, key catalog.Key) (store.Object, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+objectColumns+` FROM objects
		WHERE kind = ? AND blueprint = ? AND identifier = ?`, key.Kind, key.Blueprint, key.ID)
	o, err := scanObject(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Object{}, fmt.Errorf("sqlite: get %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return store.Object{}, fmt.Errorf("sqlite: get %s: %w", key, err)
	}
	return o, nil
}

// List returns the objects of a kind ordered by identifier. The blueprint
// narrows entities and is ignored for other kinds, which have none. All
// entities at once come ordered by identifier, then blueprint, so that two
// entities with the same identifier keep a stable order. An empty result
// is not an error.
func (s *Store) List(ctx context.Context, kind catalog.Kind, blueprint string) ([]store.Object, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if kind == catalog.KindEntityObj && blueprint != "" {
		rows, err = s.r.QueryContext(ctx, `SELECT `+objectColumns+` FROM objects
			WHERE kind = ? AND blueprint = ? ORDER BY identifier`, kind, blueprint)
	} else {
		rows, err = s.r.QueryContext(ctx, `SELECT `+objectColumns+` FROM objects
			WHERE kind = ? ORDER BY identifier, blueprint`, kind)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", kind, err)
	}
	defer rows.Close()
	var out []store.Object
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list %s: %w", kind, err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", kind, err)
	}
	return out, nil
}

// History returns an entity's changes, oldest first. An entity that never
// existed has no history; that is an empty result, not ErrNotFound, and
// neither is a deleted entity, whose history outlives it.
func (s *Store) History(ctx context.Context, blueprint, id string) ([]store.HistoryEntry, error) {
	out, err := s.history(ctx, blueprint, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: history of entity %s/%s: %w", blueprint, id, err)
	}
	return out, nil
}

func (s *Store) history(ctx context.Context, blueprint, id string) ([]store.HistoryEntry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT revision, op, before, after, at FROM entity_history
		WHERE blueprint = ? AND identifier = ? ORDER BY id`, blueprint, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.HistoryEntry
	for rows.Next() {
		var (
			h             store.HistoryEntry
			op, at        string
			before, after []byte
		)
		if err := rows.Scan(&h.Revision, &op, &before, &after, &at); err != nil {
			return nil, err
		}
		h.Op = store.Op(op)
		h.Before = before // nil for NULL
		h.After = after
		if h.At, err = parseTime(at); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// Revisions lists attempted revisions, newest first. A limit of zero or
// less means no limit.
func (s *Store) Revisions(ctx context.Context, limit int) ([]store.Revision, error) {
	if limit <= 0 {
		limit = -1 // SQLite's "no limit"
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+revisionColumns+` FROM revisions ORDER BY seq DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list revisions: %w", err)
	}
	defer rows.Close()
	var out []store.Revision
	for rows.Next() {
		rev, err := scanRevision(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list revisions: %w", err)
		}
		out = append(out, rev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list revisions: %w", err)
	}
	return out, nil
}

// LastApplied returns the revision State reports: the newest applied or
// unchanged one.
func (s *Store) LastApplied(ctx context.Context) (store.Revision, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+revisionColumns+` FROM revisions
		WHERE `+appliedWhere+` ORDER BY seq DESC LIMIT 1`)
	rev, err := scanRevision(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Revision{}, fmt.Errorf("sqlite: last applied revision: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Revision{}, fmt.Errorf("sqlite: last applied revision: %w", err)
	}
	return rev, nil
}

const revisionColumns = `seq, revision, result, started_at, duration_ns, created, updated, deleted, entities, errors, settings`

func scanRevision(sc scanner) (store.Revision, error) {
	var (
		rev      store.Revision
		started  string
		duration int64
		errs     []byte
		settings []byte
	)
	err := sc.Scan(&rev.Seq, &rev.Revision, &rev.Result, &started, &duration,
		&rev.Counts.Created, &rev.Counts.Updated, &rev.Counts.Deleted, &rev.Counts.Entities, &errs, &settings)
	if err != nil {
		return store.Revision{}, err
	}
	if rev.StartedAt, err = parseTime(started); err != nil {
		return store.Revision{}, fmt.Errorf("revision %d: %w", rev.Seq, err)
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
