// Package sqlite is pier's embedded state store, a single SQLite file
// written through the pure-Go modernc.org/sqlite driver so pier stays one
// static binary with no cgo.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/pierhq/pier/internal/store"
)

// Store is a store.Store backed by one SQLite file.
//
// It holds two connection pools on the same file. SQLite allows one writer
// at a time, and a second writer would only wait on the file lock (or fail
// with SQLITE_BUSY after busy_timeout), so the write pool has exactly one
// connection: writers queue in database/sql, where waiting honours the
// context, instead of spinning on the lock. In WAL mode readers never block
// the writer and the writer never blocks readers, so reads go through a
// separate pool that may hold several connections; the API keeps serving
// while the reconciler applies a large revision. The read pool is opened
// query_only so a stray write on it fails instead of racing the writer.
type Store struct {
	w   *sql.DB // the one writer
	r   *sql.DB // concurrent readers
	now func() time.Time
}

var _ store.Store = (*Store)(nil)

// An Option configures Open.
type Option func(*options)

type options struct {
	busyTimeout time.Duration
	readConns   int
	now         func() time.Time
}

// WithBusyTimeout sets how long a connection waits for a lock held by
// another process (a backup tool, the sqlite3 shell) before failing. The
// default is five seconds.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// WithReadConns caps the read pool. The default is GOMAXPROCS, at least 4.
func WithReadConns(n int) Option {
	return func(o *options) { o.readConns = n }
}

// WithClock replaces time.Now as the source of entity history timestamps,
// so tests can check them exactly.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// Open opens the store at path, creating the file and its directory if
// needed, and brings the schema up to date.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{
		busyTimeout: 5 * time.Second,
		readConns:   max(4, runtime.GOMAXPROCS(0)),
		now:         time.Now,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.readConns < 1 {
		o.readConns = 1
	}

	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	s := &Store{now: o.now}
	if err := s.open(ctx, abs, o); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) open(ctx context.Context, path string, o options) error {
	busy := fmt.Sprintf("busy_timeout(%d)", o.busyTimeout.Milliseconds())

	// Per-connection settings go in the DSN so that a connection the pool
	// replaces gets them too. _txlock=immediate takes the write lock at
	// BEGIN: a deferred transaction that reads first and then writes can
	// fail with SQLITE_BUSY on upgrade, which busy_timeout cannot help.
	var err error
	s.w, err = sql.Open("sqlite", dsn(path, url.Values{
		"_pragma": {busy, "foreign_keys(1)", "synchronous(NORMAL)"},
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return err
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)

	// WAL is a property of the file, not the connection, so setting it
	// once is enough. It is set here rather than in the DSN because the
	// pragma reports the mode it ended up in, and on a file system that
	// cannot do WAL it quietly stays in the old mode; readers would then
	// block the writer, which we would rather refuse than discover later.
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return fmt.Errorf("set WAL mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("set WAL mode: journal mode is %q", mode)
	}

	if err := migrate(ctx, s.w); err != nil {
		return err
	}

	s.r, err = sql.Open("sqlite", dsn(path, url.Values{
		"_pragma": {busy, "foreign_keys(1)", "query_only(1)"},
	}))
	if err != nil {
		return err
	}
	s.r.SetMaxOpenConns(o.readConns)
	s.r.SetMaxIdleConns(o.readConns)
	// database/sql opens connections lazily; ping so that a file we cannot
	// read fails Open rather than the first request.
	if err := s.r.PingContext(ctx); err != nil {
		return err
	}
	return nil
}

// dsn builds a file: URI so that any path, including one holding '?' or
// '#', reaches SQLite intact; a plain file name would be cut at the '?'.
func dsn(path string, q url.Values) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter: file:///C:/...
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String()
}

// Close closes both pools. It is safe to call on a partly opened Store.
func (s *Store) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// Times are stored as UTC text with a fixed nine-digit fraction. Text keeps
// the file readable in the sqlite3 shell and holds any time.Time exactly,
// the zero time included, where unix nanoseconds overflow outside
// 1678–2262; the fixed width makes the text sort in time order.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// formatOptionalTime writes the zero time as the empty text that
// parseOptionalTime reads back as zero.
func formatOptionalTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return formatTime(t)
}

// parseOptionalTime reads a time column that rows from before a migration
// leave empty.
func parseOptionalTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return parseTime(s)
}
