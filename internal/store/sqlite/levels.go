package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/pierhq/pier/internal/store"
)

// RecordLevels appends level changes to the scorecard history, all or
// none.
func (s *Store) RecordLevels(ctx context.Context, changes []store.LevelChange) error {
	if len(changes) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: record levels: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO scorecard_history (scorecard, blueprint, identifier, from_level, to_level, revision, at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("sqlite: record levels: %w", err)
	}
	defer stmt.Close()
	for _, c := range changes {
		if _, err := stmt.ExecContext(ctx, c.Scorecard, c.Blueprint, c.Identifier, c.From, c.To, c.Revision, formatTime(c.At)); err != nil {
			return fmt.Errorf("sqlite: record level of %s/%s in %s: %w", c.Blueprint, c.Identifier, c.Scorecard, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: record levels: %w", err)
	}
	return nil
}

// LevelHistory lists level changes, newest first.
func (s *Store) LevelHistory(ctx context.Context, f store.LevelFilter) ([]store.LevelChange, error) {
	var where []string
	var args []any
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	eq("scorecard", f.Scorecard)
	eq("blueprint", f.Blueprint)
	eq("identifier", f.Identifier)
	if f.Before > 0 {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	q := `SELECT ` + levelColumns + ` FROM scorecard_history`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	out, err := queryAll(ctx, s.r, q, append(args, pageLimit(f.Limit)), scanLevel)
	if err != nil {
		return nil, fmt.Errorf("sqlite: level history: %w", err)
	}
	return out, nil
}

const levelColumns = `id, scorecard, blueprint, identifier, from_level, to_level, revision, at`

func scanLevel(sc scanner) (store.LevelChange, error) {
	var (
		c  store.LevelChange
		at string
	)
	if err := sc.Scan(&c.ID, &c.Scorecard, &c.Blueprint, &c.Identifier, &c.From, &c.To, &c.Revision, &at); err != nil {
		return c, err
	}
	var err error
	c.At, err = parseTime(at)
	return c, err
}
