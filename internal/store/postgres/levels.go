package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/internal/store"
)

// RecordLevels appends level changes to the scorecard history, all or
// none. Not only the leader's: the replica that takes a runtime write
// records the levels it moves.
func (s *Store) RecordLevels(ctx context.Context, changes []store.LevelChange) error {
	if len(changes) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, c := range changes {
			b.Queue(`INSERT INTO scorecard_history (scorecard, blueprint, identifier, from_level, to_level, revision, at)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, c.Scorecard, c.Blueprint, c.Identifier, c.From, c.To, c.Revision, c.At)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return s.fail("record levels", err)
	}
	return nil
}

const levelColumns = `id, scorecard, blueprint, identifier, from_level, to_level, revision, at`

func scanLevel(row pgx.Row) (store.LevelChange, error) {
	var c store.LevelChange
	err := row.Scan(&c.ID, &c.Scorecard, &c.Blueprint, &c.Identifier, &c.From, &c.To, &c.Revision, &c.At)
	return c, err
}

// LevelHistory lists level changes, newest first.
func (s *Store) LevelHistory(ctx context.Context, f store.LevelFilter) ([]store.LevelChange, error) {
	var (
		where []string
		args  []any
	)
	cond := func(expr string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(expr, len(args)))
	}
	for _, eq := range []struct{ col, v string }{{"scorecard", f.Scorecard}, {"blueprint", f.Blueprint}, {"identifier", f.Identifier}} {
		if eq.v != "" {
			cond(eq.col+" = $%d", eq.v)
		}
	}
	if f.Before > 0 {
		cond("id < $%d", f.Before)
	}
	q := `SELECT ` + levelColumns + ` FROM scorecard_history`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, store.PageLimit(f.Limit))
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	out, err := queryAll(ctx, s.pool, q, args, func(r pgx.Rows) (store.LevelChange, error) { return scanLevel(r) })
	if err != nil {
		return nil, s.fail("level history", err)
	}
	return out, nil
}
