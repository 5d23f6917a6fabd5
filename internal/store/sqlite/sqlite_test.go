package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/store/sqlite"
	"github.com/pierhq/pier/internal/store/storetest"
)

// driver runs the store contract on SQLite files in the test's
// temporary directory.
var driver = storetest.Driver{
	Fresh: func(t testing.TB) string { return filepath.Join(t.TempDir(), "pier.db") },
	Open: func(ctx context.Context, path string, now func() time.Time) (store.Backend, error) {
		var opts []sqlite.Option
		if now != nil {
			opts = append(opts, sqlite.WithClock(now))
		}
		return sqlite.Open(ctx, path, opts...)
	},
	Precision: time.Nanosecond,
}

func TestContract(t *testing.T) { storetest.Run(t, driver) }

func BenchmarkApply20k(b *testing.B) { storetest.BenchmarkApply(b, driver) }
func BenchmarkState20k(b *testing.B) { storetest.BenchmarkState(b, driver) }

// The tests below are SQLite's own: the file, its journal mode, its
// schema versions and its query plans.

// t0 is the tests' clock, with nanoseconds and a non-UTC zone.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))

func open(t testing.TB, path string, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	opts = append([]sqlite.Option{sqlite.WithClock(func() time.Time { return t0 })}, opts...)
	s, err := sqlite.Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func newStore(t testing.TB) *sqlite.Store {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "pier.db"))
}

var svcA = catalog.Key{Kind: catalog.KindEntityObj, Blueprint: "service", ID: "a"}

func applied(name string) store.Revision {
	return store.Revision{Revision: name, Result: store.ResultApplied, StartedAt: t0}
}

func apply(t testing.TB, s *sqlite.Store, rev store.Revision, changes ...store.Change) {
	t.Helper()
	if err := s.Apply(context.Background(), rev, changes); err != nil {
		t.Fatal(err)
	}
}

func createA() store.Change {
	return store.Change{Key: svcA, Op: store.OpCreate, After: json.RawMessage(`{}`)}
}

func checkA(t *testing.T, s *sqlite.Store) {
	t.Helper()
	st, err := s.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := st.Objects[svcA]; st.Revision != "r1" || len(st.Objects) != 1 || !ok || string(o.JSON) != `{}` {
		t.Errorf("State() = %+v, want r1 with %s", st, svcA)
	}
}

// rawDB opens the file behind the store's back, to check what is really
// on disk.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestReopenMigratesOnce: reopening applies no migration twice.
func TestReopenMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "pier.db") // Open creates the directory
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	apply(t, s, applied("r1"), createA())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkA(t, open(t, path))
	var n, v int
	if err := rawDB(t, path).QueryRow(`SELECT count(*), max(version) FROM schema_version`).Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	if n != v {
		t.Errorf("schema_version has %d rows up to version %d", n, v)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pier.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db := rawDB(t, path)
	if _, err := db.Exec(`INSERT INTO schema_version (version, applied_at) VALUES (1000, '')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := sqlite.Open(context.Background(), path); err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer pier succeeded")
	} else {
		t.Logf("Open error: %v", err)
	}
}

// TestPathNeedsEscaping uses a path that a plain DSN would cut at the '?'.
func TestPathNeedsEscaping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a?b#c %41", "pier.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	apply(t, s, applied("r1"), createA())
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	checkA(t, open(t, path))
}

func TestWALMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pier.db")
	open(t, path)
	// The journal mode is recorded in the file, so a fresh connection
	// that sets nothing sees it.
	var mode string
	if err := rawDB(t, path).QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}
