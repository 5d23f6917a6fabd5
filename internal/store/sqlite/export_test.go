package sqlite

import (
	"context"
	"strings"

	"github.com/pierhq/pier/internal/store"
)

// CreateAtVersion creates the database at path at schema version n, as a
// pier that knew only the first n migrations would have left it.
func CreateAtVersion(ctx context.Context, path string, n int) error {
	all := migrations
	migrations = migrations[:n]
	defer func() { migrations = all }()
	s, err := Open(ctx, path)
	if err != nil {
		return err
	}
	return s.Close()
}

// RunsQueryPlan returns SQLite's plan for the query Runs makes for f, one
// step a line.
func (s *Store) RunsQueryPlan(ctx context.Context, f store.RunFilter) (string, error) {
	q, args := runsQuery(f)
	rows, err := s.r.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var (
			id, parent, unused int
			detail             string
		)
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", err
		}
		steps = append(steps, detail)
	}
	return strings.Join(steps, "\n"), rows.Err()
}
