package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

// Apply writes the revision in one transaction.
//
// Changes must agree with the stored state: a create of an object that
// exists, or an update or delete of one that does not, fails the whole
// revision (the latter two wrap store.ErrNotFound). Such a change means the
// caller diffed against a state that is not the stored one, and applying
// the rest would leave the store a mix of two views that no revision
// describes; refusing lets the reconciler re-read the state and try again.
//
// rev.Result must be store.ResultApplied or store.ResultNoop, since the
// newest such row is what State reports as the applied revision; failed
// revisions go through RecordFailure. rev.Seq is assigned by the store and
// ignored here; rev.Counts is recorded as given. A create or update with
// an empty Hash gets the hash of its After, because State's hashes are what
// the next reconcile diffs against and an empty one would never match.
func (s *Store) Apply(ctx context.Context, rev store.Revision, changes []store.Change) error {
	if err := s.apply(ctx, rev, changes); err != nil {
		return fmt.Errorf("sqlite: apply revision %s: %w", rev.Revision, err)
	}
	return nil
}

func (s *Store) apply(ctx context.Context, rev store.Revision, changes []store.Change) (err error) {
	if rev.Result != store.ResultApplied && rev.Result != store.ResultNoop {
		return fmt.Errorf("result is %q, want %q or %q", rev.Result, store.ResultApplied, store.ResultNoop)
	}
	for i := range changes {
		if err := store.CheckChange(&changes[i]); err != nil {
			return err
		}
	}

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()

	seq, err := insertRevision(ctx, tx, rev)
	if err != nil {
		return err
	}
	if len(changes) > 0 {
		if err := applyChanges(ctx, tx, seq, rev.Revision, formatTime(s.now()), changes); err != nil {
			return err
		}
	}
	if err := enqueue(ctx, tx, rev.Outbox); err != nil {
		return err
	}
	return tx.Commit()
}

// applyStmts are the statements Apply runs per change. They are prepared
// once per transaction: with tens of thousands of changes, parsing each
// statement per row would cost more than executing it.
type applyStmts struct {
	insert, update, del, history, delRuntime *sql.Stmt
}

func prepareApply(ctx context.Context, tx *sql.Tx) (*applyStmts, error) {
	st := &applyStmts{}
	var err error
	// ON CONFLICT DO NOTHING turns "already exists" into zero rows
	// affected, which reads better than a constraint error.
	if st.insert, err = tx.PrepareContext(ctx, `INSERT INTO objects
		(kind, blueprint, identifier, json, hash, source_file, source_line, source_col, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`); err != nil {
		return st, err
	}
	if st.update, err = tx.PrepareContext(ctx, `UPDATE objects
		SET json = ?, hash = ?, source_file = ?, source_line = ?, source_col = ?, updated_at = ?
		WHERE kind = ? AND blueprint = ? AND identifier = ?`); err != nil {
		return st, err
	}
	// Runtime values belong to the entity: when git deletes the entity,
	// they go with it.
	if st.delRuntime, err = tx.PrepareContext(ctx, `DELETE FROM runtime_properties
		WHERE blueprint = ? AND identifier = ?`); err != nil {
		return st, err
	}
	if st.del, err = tx.PrepareContext(ctx, `DELETE FROM objects
		WHERE kind = ? AND blueprint = ? AND identifier = ?`); err != nil {
		return st, err
	}
	if st.history, err = tx.PrepareContext(ctx, `INSERT INTO entity_history
		(seq, blueprint, identifier, revision, op, before, after, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
		return st, err
	}
	return st, nil
}

func (st *applyStmts) close() {
	for _, s := range []*sql.Stmt{st.insert, st.update, st.del, st.history, st.delRuntime} {
		if s != nil {
			s.Close()
		}
	}
}

func applyChanges(ctx context.Context, tx *sql.Tx, seq int64, revision, at string, changes []store.Change) error {
	st, err := prepareApply(ctx, tx)
	defer st.close()
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}

	for i := range changes {
		c := &changes[i]
		k := c.Key
		hash := c.Hash
		if c.Op != store.OpDelete && hash == "" {
			hash = catalog.HashJSON(c.After)
		}
		// JSON is bound as a string, not as the []byte database/sql would
		// store as a blob, so SQLite's json functions read it as JSON.
		var res sql.Result
		switch c.Op {
		case store.OpCreate:
			res, err = st.insert.ExecContext(ctx, k.Kind, k.Blueprint, k.ID, string(c.After), hash,
				c.Source.File, c.Source.Line, c.Source.Col, at, at)
		case store.OpUpdate:
			res, err = st.update.ExecContext(ctx, string(c.After), hash, c.Source.File, c.Source.Line, c.Source.Col, at,
				k.Kind, k.Blueprint, k.ID)
		case store.OpDelete:
			res, err = st.del.ExecContext(ctx, k.Kind, k.Blueprint, k.ID)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", c.Op, k, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("%s %s: %w", c.Op, k, err)
		}
		if n != 1 {
			if c.Op == store.OpCreate {
				return fmt.Errorf("create %s: already exists", k)
			}
			return fmt.Errorf("%s %s: %w", c.Op, k, store.ErrNotFound)
		}

		if k.Kind != catalog.KindEntityObj {
			continue
		}
		if c.Op == store.OpDelete {
			if _, err := st.delRuntime.ExecContext(ctx, k.Blueprint, k.ID); err != nil {
				return fmt.Errorf("delete %s: runtime properties: %w", k, err)
			}
		}
		if _, err := st.history.ExecContext(ctx, seq, k.Blueprint, k.ID, revision, string(c.Op),
			nullJSON(c.Before), nullJSON(c.After), at); err != nil {
			return fmt.Errorf("%s %s: history: %w", c.Op, k, err)
		}
	}
	return nil
}

// nullJSON maps an absent document to NULL rather than to an empty string,
// which is not JSON.
func nullJSON(b json.RawMessage) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// RecordFailure records a revision that was not applied. An empty
// rev.Result is recorded as store.ResultFailed; an applied or unchanged
// result is refused, because it would move State's revision without
// changing its objects.
func (s *Store) RecordFailure(ctx context.Context, rev store.Revision) error {
	if rev.Result == "" {
		rev.Result = store.ResultFailed
	}
	if rev.Result == store.ResultApplied || rev.Result == store.ResultNoop {
		return fmt.Errorf("sqlite: record failure of revision %s: result is %q", rev.Revision, rev.Result)
	}
	// One statement is atomic on its own; no transaction needed.
	if _, err := insertRevision(ctx, s.w, rev); err != nil {
		return fmt.Errorf("sqlite: record failure of revision %s: %w", rev.Revision, err)
	}
	return nil
}

// execer is what insertRevision needs from a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func insertRevision(ctx context.Context, db execer, rev store.Revision) (int64, error) {
	errs, err := encodeErrors(rev.Errors)
	if err != nil {
		return 0, err
	}
	res, err := db.ExecContext(ctx, `INSERT INTO revisions
		(revision, result, started_at, duration_ns, created, updated, deleted, entities, errors, settings)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rev.Revision, rev.Result, formatTime(rev.StartedAt), int64(rev.Duration),
		rev.Counts.Created, rev.Counts.Updated, rev.Counts.Deleted, rev.Counts.Entities, errs, nullJSON(rev.Settings))
	if err != nil {
		return 0, fmt.Errorf("insert revision: %w", err)
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("insert revision: %w", err)
	}
	return seq, nil
}

// encodeErrors is a revision's errors column: NULL when there are no
// diagnostics.
func encodeErrors(ds catalog.Diagnostics) (any, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(ds)
	if err != nil {
		return nil, fmt.Errorf("encode errors: %w", err)
	}
	return string(b), nil
}
