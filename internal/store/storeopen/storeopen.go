// Package storeopen opens the store a --db value names (store.DriverOf):
// a postgres:// URL is the PostgreSQL store, anything else a SQLite file.
// pier serve and pier migrate open their stores through it.
package storeopen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/store/postgres"
	"github.com/pierhq/pier/internal/store/sqlite"
)

// Options say how to open.
type Options struct {
	// Existing refuses a SQLite file that does not exist, rather than
	// creating an empty store (the store to copy from must be there).
	Existing bool
	// Wait keeps trying a database that cannot be reached (the server
	// down or starting, the network), with backoff from MinBackoff
	// doubling to MaxBackoff, until ctx ends. Errors the server answers
	// with (a wrong password, no such database, a newer schema) are
	// returned at once: trying again gets the same answer.
	Wait                   bool
	MinBackoff, MaxBackoff time.Duration
	// Waiting is told of each failed attempt and the wait before the
	// next.
	Waiting func(err error, next time.Duration)
	// Postgres are the options of a PostgreSQL store (postgres.AsReplica).
	Postgres []postgres.Option
}

// Open opens the store db names.
func Open(ctx context.Context, db string, o Options) (store.Backend, error) {
	driver, err := store.DriverOf(db)
	if err != nil {
		return nil, err
	}
	if driver == store.DriverSQLite {
		if o.Existing {
			if _, err := os.Stat(db); err != nil {
				return nil, fmt.Errorf("no SQLite store at %s: %w", db, err)
			}
		}
		return sqlite.Open(ctx, db)
	}
	backoff := o.MinBackoff
	if backoff <= 0 {
		backoff = time.Second
	}
	maxBackoff := max(o.MaxBackoff, backoff)
	if o.MaxBackoff <= 0 {
		maxBackoff = max(30*time.Second, backoff)
	}
	for {
		s, err := postgres.Open(ctx, db, o.Postgres...)
		if err == nil {
			return s, nil
		}
		if !o.Wait || !errors.Is(err, store.ErrUnavailable) || ctx.Err() != nil {
			return nil, err
		}
		if o.Waiting != nil {
			o.Waiting(err, backoff)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (stopped waiting: %w)", err, context.Cause(ctx))
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}
