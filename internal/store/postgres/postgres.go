// Package postgres is pier's state store on PostgreSQL (pgx), for a
// platform team that keeps its state in the database it already operates
// and, later, runs pier as several replicas on it. It holds what the
// SQLite store holds, in the same tables, and passes the same contract
// (package storetest).
//
// What differs from SQLite, and why:
//
//   - Writers are not serialised by the store: each write is a
//     READ COMMITTED transaction whose guarantees come from the database
//     itself. A run update is a compare-and-swap on its version in the
//     UPDATE's WHERE (a second writer waits for the row, then finds
//     another version); a request key is a unique index that CreateRun
//     inserts against ON CONFLICT DO NOTHING; a runtime write locks its
//     entity's row (FOR SHARE) so that a revision deleting the entity
//     waits for it, then drops the values with the entity.
//   - Times are timestamptz: they read back in UTC to the microsecond
//     (SQLite keeps nanoseconds); runs keep theirs exactly, in the run's
//     JSON.
//   - Documents are json, not jsonb: json keeps the text as written, and
//     hashes and history are of that text.
//   - Identifiers sort bytewise (COLLATE "C") whatever the database's
//     collation, as in SQLite, so listings come in one order everywhere.
//   - Migrations are applied at Open under an advisory lock, so replicas
//     starting at once migrate once.
//   - Sequence numbers (revision seq, audit and history ids) never repeat
//     but may skip a value a failed transaction took.
//
// Writes that only a leader makes when pier runs as replicas (the
// reconciler's, the outbox worker's, the timers') go through leaderTx,
// and every transaction made under a store.Fence compares the writer's
// epoch with the lease's in the same transaction (replication.go).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pierhq/pier/internal/store"
)

// Store is a store.Backend on a PostgreSQL database.
type Store struct {
	pool  *pgxpool.Pool
	now   func() time.Time
	where string // host, port and database, for errors
	// channel is where replicas notify each other: one per schema, as a
	// database may hold several pier stores (the tests' do).
	channel string
	// replica names this process in its notifications.
	replica string
	// requireFence refuses a leader-only write made without a fence.
	requireFence bool
}

var _ store.Backend = (*Store)(nil)

// An Option configures Open.
type Option func(*options)

type options struct {
	now               func() time.Time
	replica           string
	requireFence      bool
	idleInTransaction time.Duration
}

// AsReplica names the replica this store belongs to and makes it refuse
// the writes only a leader makes unless they carry a store.Fence: with
// replicas, such a write without one is a mistake that could let two
// replicas act at once. idle is how long the server lets a transaction
// wait for pier (idle_in_transaction_session_timeout): a replica paused
// in the middle of one (SIGSTOP, a long pause of the machine) must not
// hold the fence, and with it the next leader, for longer than its lease.
func AsReplica(id string, idle time.Duration) Option {
	return func(o *options) { o.replica, o.requireFence, o.idleInTransaction = id, true, idle }
}

// WithClock replaces time.Now as the source of entity history and object
// timestamps, so tests can check them exactly.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// Open connects to the database at url (postgres://user@host/db?...,
// every parameter libpq and pgxpool know: sslmode, pool_max_conns, ...),
// checks that it answers, and brings the schema up to date. Errors name
// the server, never the password.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message quotes the URL with its password masked.
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if o.idleInTransaction > 0 {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = fmt.Sprint(max(o.idleInTransaction.Milliseconds(), 1))
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		// Times read back in UTC, whatever the server's time zone.
		c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	}
	s := &Store{now: o.now, where: Where(cfg.ConnConfig), replica: o.replica, requireFence: o.requireFence}
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", s.where, err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		return nil, s.fail("connect", err)
	}
	if err := migrate(ctx, s.pool); err != nil {
		s.pool.Close()
		return nil, s.fail("migrate", err)
	}
	var schema string
	if err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		s.pool.Close()
		return nil, s.fail("read the schema", err)
	}
	s.channel = "pier." + schema
	return s, nil
}

// Where names the server and database of cfg as errors and logs do:
// host:port/database as user.
func Where(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s/%s as %s", net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)), cfg.Database, cfg.User)
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// fail wraps an error of operation op, marking a lost or refused
// connection store.ErrUnavailable.
func (s *Store) fail(op string, err error) error {
	if unavailable(err) {
		return fmt.Errorf("postgres at %s: %s: %w: %w", s.where, op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// unavailable reports an error that says nothing of the request but that
// the server could not be reached or went away: a retry may succeed. A
// server that answers with an error (a wrong password, no such
// database) is not unavailable: asking again gets the same answer.
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // shutting down, crashed, starting up
			return true
		}
		return false
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// tx runs fn in a transaction and commits it, or rolls it back when fn
// or the commit fails. A transaction made under a fence (the leader's
// work) first checks that the fence holds (see replication.go).
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // after Commit: a no-op
	if f := store.FenceOf(ctx); f != nil {
		if err := checkFence(ctx, tx, f); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// leaderTx is tx for the writes only a leader makes (applying a
// revision, taking an outbox delivery, recording a timer's expiry): as a
// replica, the store refuses them without a fence.
func (s *Store) leaderTx(ctx context.Context, fn func(pgx.Tx) error) error {
	if s.requireFence && store.FenceOf(ctx) == nil {
		return errors.New("a leader's write made without the leader's fence (a bug in pier)")
	}
	return s.tx(ctx, fn)
}

// optional is a time column that is NULL when the time is zero.
func optional(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// optTime scans a nullable timestamptz: NULL is the zero time.
type optTime struct{ t *time.Time }

func (o optTime) ScanTimestamptz(v pgtype.Timestamptz) error {
	*o.t = time.Time{}
	if v.Valid {
		*o.t = v.Time.UTC()
	}
	return nil
}

// queryAll runs q and scans every row with scan.
func queryAll[T any](ctx context.Context, q querier, sql string, args []any, scan func(pgx.Rows) (T, error)) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}
