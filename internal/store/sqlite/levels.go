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
	for col, v := range map[string]string{"scorecard": f.Scorecard, "blueprint": f.Blueprint, "identifier": f.Identifier} {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	if f.Before > 0 {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	q := `SELECT id, scorecard, blueprint, identifier, from_level, to_level, revision, at FROM scorecard_history`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, min(limit, 1000))
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: level history: %w", err)
	}
	defer rows.Close()
	var out []store.LevelChange
	for rows.Next() {
		var c store.LevelChange
		var at string
		if err := rows.Scan(&c.ID, &c.Scorecard, &c.Blueprint, &c.Identifier, &c.From, &c.To, &c.Revision, &at); err != nil {
			return nil, fmt.Errorf("sqlite: level history: %w", err)
		}
		if c.At, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("sqlite: level history: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
