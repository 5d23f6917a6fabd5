package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

// Apply writes the revision, its changes, the entity history and the
// revision's outbox in one transaction, under the rules of the sqlite
// store's Apply: a change that disagrees with the stored state (a create
// of an object that exists, an update or delete of one that does not,
// the latter wrapping store.ErrNotFound) fails the whole revision.
//
// The changes are sent as one pipelined batch: a cold reconcile's tens
// of thousands of statements cost one round trip, not one each.
func (s *Store) Apply(ctx context.Context, rev store.Revision, changes []store.Change) error {
	if rev.Result != store.ResultApplied && rev.Result != store.ResultNoop {
		return fmt.Errorf("postgres: apply revision %s: result is %q, want %q or %q", rev.Revision, rev.Result, store.ResultApplied, store.ResultNoop)
	}
	for i := range changes {
		if err := store.CheckChange(&changes[i]); err != nil {
			return fmt.Errorf("postgres: apply revision %s: %w", rev.Revision, err)
		}
	}
	err := s.leaderTx(ctx, func(tx pgx.Tx) error {
		seq, err := insertRevision(ctx, tx, rev)
		if err != nil {
			return err
		}
		if err := applyChanges(ctx, tx, seq, rev.Revision, s.now(), changes); err != nil {
			return err
		}
		if err := enqueue(ctx, tx, rev.Outbox); err != nil {
			return err
		}
		return s.notifyTx(ctx, tx, store.Notification{Kind: store.NotifyRevision, Seq: seq})
	})
	if err != nil {
		return s.fail(fmt.Sprintf("apply revision %s", rev.Revision), err)
	}
	return nil
}

// The statements Apply runs per change; pgx prepares each once per
// connection.
const (
	// ON CONFLICT DO NOTHING turns "already exists" into zero rows.
	// seq is the revision that last wrote the object, and a deletion is
	// kept by revision in object_deletions: what replicas follow.
	insertObject = `INSERT INTO objects
		(kind, blueprint, identifier, json, hash, source_file, source_line, source_col, created_at, updated_at, seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) ON CONFLICT DO NOTHING`
	updateObject = `UPDATE objects
		SET json = $1, hash = $2, source_file = $3, source_line = $4, source_col = $5, updated_at = $6, seq = $10
		WHERE kind = $7 AND blueprint = $8 AND identifier = $9`
	deleteObject = `WITH gone AS (DELETE FROM objects WHERE kind = $1 AND blueprint = $2 AND identifier = $3 RETURNING kind, blueprint, identifier)
		INSERT INTO object_deletions (seq, kind, blueprint, identifier) SELECT $4, kind, blueprint, identifier FROM gone`
	// Runtime values belong to the entity: when git deletes the entity,
	// they go with it.
	deleteRuntime = `DELETE FROM runtime_properties WHERE blueprint = $1 AND identifier = $2`
	insertHistory = `INSERT INTO entity_history (seq, blueprint, identifier, revision, op, before, after, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
)

func applyChanges(ctx context.Context, tx pgx.Tx, seq int64, revision string, at time.Time, changes []store.Change) error {
	if len(changes) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	// check[i] is how to read the i-th result: the change it belongs to,
	// and whether its row count says the change agreed with the state.
	type check struct {
		c     *store.Change
		count bool
	}
	var checks []check
	for i := range changes {
		c := &changes[i]
		k := c.Key
		hash := c.Hash
		if c.Op != store.OpDelete && hash == "" {
			hash = catalog.HashJSON(c.After)
		}
		switch c.Op {
		case store.OpCreate:
			b.Queue(insertObject, k.Kind, k.Blueprint, k.ID, []byte(c.After), hash, c.Source.File, c.Source.Line, c.Source.Col, at, seq)
		case store.OpUpdate:
			b.Queue(updateObject, []byte(c.After), hash, c.Source.File, c.Source.Line, c.Source.Col, at, k.Kind, k.Blueprint, k.ID, seq)
		case store.OpDelete:
			b.Queue(deleteObject, k.Kind, k.Blueprint, k.ID, seq)
		}
		checks = append(checks, check{c, true})
		if k.Kind != catalog.KindEntityObj {
			continue
		}
		if c.Op == store.OpDelete {
			b.Queue(deleteRuntime, k.Blueprint, k.ID)
			checks = append(checks, check{c, false})
		}
		b.Queue(insertHistory, seq, k.Blueprint, k.ID, revision, string(c.Op), nullJSON(c.Before), nullJSON(c.After), at)
		checks = append(checks, check{c, false})
	}
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	for _, ch := range checks {
		tag, err := br.Exec()
		if err != nil {
			return fmt.Errorf("%s %s: %w", ch.c.Op, ch.c.Key, err)
		}
		if ch.count && tag.RowsAffected() != 1 {
			if ch.c.Op == store.OpCreate {
				return fmt.Errorf("create %s: already exists", ch.c.Key)
			}
			return fmt.Errorf("%s %s: %w", ch.c.Op, ch.c.Key, store.ErrNotFound)
		}
	}
	return br.Close()
}

// nullJSON maps an absent document to NULL.
func nullJSON(b json.RawMessage) any {
	if b == nil {
		return nil
	}
	return []byte(b)
}

// RecordFailure records a revision that was not applied; an empty
// Result is recorded as failed, and an applied or unchanged one is
// refused, since it would move State's revision without its objects.
func (s *Store) RecordFailure(ctx context.Context, rev store.Revision) error {
	if rev.Result == "" {
		rev.Result = store.ResultFailed
	}
	if rev.Result == store.ResultApplied || rev.Result == store.ResultNoop {
		return fmt.Errorf("postgres: record failure of revision %s: result is %q", rev.Revision, rev.Result)
	}
	err := s.leaderTx(ctx, func(tx pgx.Tx) error {
		_, err := insertRevision(ctx, tx, rev)
		return err
	})
	if err != nil {
		return s.fail(fmt.Sprintf("record failure of revision %s", rev.Revision), err)
	}
	return nil
}

func insertRevision(ctx context.Context, tx pgx.Tx, rev store.Revision) (int64, error) {
	errs, err := encodeErrors(rev.Errors)
	if err != nil {
		return 0, err
	}
	var seq int64
	err = tx.QueryRow(ctx, `INSERT INTO revisions
		(revision, result, started_at, duration_ns, created, updated, deleted, entities, errors, settings, epoch)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING seq`,
		rev.Revision, rev.Result, rev.StartedAt, int64(rev.Duration),
		rev.Counts.Created, rev.Counts.Updated, rev.Counts.Deleted, rev.Counts.Entities, errs, nullJSON(rev.Settings), epochOf(ctx)).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("insert revision: %w", err)
	}
	return seq, nil
}

// encodeErrors is a revision's errors column: NULL without diagnostics.
func encodeErrors(ds catalog.Diagnostics) (any, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(ds)
	if err != nil {
		return nil, fmt.Errorf("encode errors: %w", err)
	}
	return b, nil
}
