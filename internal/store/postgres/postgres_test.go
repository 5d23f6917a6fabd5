package postgres_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/store/postgres"
	"github.com/pierhq/pier/internal/store/postgres/pgtest"
	"github.com/pierhq/pier/internal/store/sqlite"
	"github.com/pierhq/pier/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// driver runs the store contract on a fresh database of the test
// binary's throwaway server.
var driver = storetest.Driver{
	Fresh:     func(t testing.TB) string { return pgtest.URL(t) },
	Open:      openPostgres,
	Precision: time.Microsecond,
}

func openPostgres(ctx context.Context, url string, now func() time.Time) (store.Backend, error) {
	var opts []postgres.Option
	if now != nil {
		opts = append(opts, postgres.WithClock(now))
	}
	return postgres.Open(ctx, url, opts...)
}

func TestContract(t *testing.T) { storetest.Run(t, driver) }

func BenchmarkApply20k(b *testing.B) { storetest.BenchmarkApply(b, driver) }
func BenchmarkState20k(b *testing.B) { storetest.BenchmarkState(b, driver) }

// openSQLite opens the store pier migrate copies from, on a clock of
// whole microseconds, which PostgreSQL keeps.
func openSQLite(t *testing.T) store.Backend {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "pier.db"),
		sqlite.WithClock(func() time.Time { return time.Now().Truncate(time.Microsecond) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openFresh(t *testing.T) store.Backend {
	t.Helper()
	s, err := openPostgres(context.Background(), pgtest.URL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestCopyBetweenStores copies a SQLite store into PostgreSQL (pier
// migrate) and back: every record arrives as it was.
func TestCopyBetweenStores(t *testing.T) {
	t.Run("sqlite to postgres", func(t *testing.T) { storetest.CheckCopy(t, openSQLite(t), openFresh(t)) })
	t.Run("postgres to sqlite", func(t *testing.T) { storetest.CheckCopy(t, openFresh(t), openSQLite(t)) })
}

// TestCopyOldText: a SQLite store written before stores kept only clean
// text (a NUL in a log line, an error message cut mid-character) copies
// into PostgreSQL, whose text cannot hold either, as U+FFFD.
func TestCopyOldText(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pier.db")
	src, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, _, err := src.CreateRun(ctx, store.Run{ID: "r1", Action: "deploy", Status: store.RunInProgress}, store.RunEvent{Actor: "ci"}, nil); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`INSERT INTO run_logs (run_id, at, message, termination_status) VALUES ('r1', '2026-01-01T00:00:00.000000000Z', ?, '')`, "nul \x00 cut \xe2\x82"); err != nil {
		t.Fatal(err)
	}
	dst := openFresh(t)
	if _, err := store.Copy(ctx, src, dst); err != nil {
		t.Fatal(err)
	}
	if logs, err := dst.RunLogs(ctx, "r1"); err != nil || len(logs) != 1 || logs[0].Message != "nul \uFFFD cut \uFFFD" {
		t.Errorf("the copied log: %+v, %v", logs, err)
	}
}

// TestConcurrentOpenMigratesOnce starts several stores on one empty
// database at once, as replicas starting together do: all of them open,
// and every migration is applied once.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	ctx := context.Background()
	for round := range 3 {
		url := pgtest.URL(t)
		const replicas = 4
		var wg sync.WaitGroup
		errs := make([]error, replicas)
		for i := range replicas {
			wg.Go(func() {
				s, err := postgres.Open(ctx, url)
				if err == nil {
					s.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: Open %d: %v", round, i, err)
			}
		}
		conn := connect(t, url)
		var n, v int
		if err := conn.QueryRow(ctx, `SELECT count(*), max(version) FROM schema_version`).Scan(&n, &v); err != nil {
			t.Fatal(err)
		}
		if n != v || v != postgres.SchemaVersion {
			t.Errorf("round %d: schema_version has %d rows up to version %d, want %d once each", round, n, v, postgres.SchemaVersion)
		}
	}
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := connect(t, url).Exec(ctx, `INSERT INTO schema_version (version) VALUES (1000)`); err != nil {
		t.Fatal(err)
	}
	if s, err := postgres.Open(ctx, url); err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer pier succeeded")
	} else {
		t.Logf("Open error: %v", err)
	}
}
