package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/internal/store/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestFreshDatabases: each test gets its own empty database, which sees
// nothing of another's.
func TestFreshDatabases(t *testing.T) {
	ctx := context.Background()
	a, b := pgtest.URL(t), pgtest.URL(t)
	if a == b {
		t.Fatalf("two databases at one URL: %s", a)
	}
	ca, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(ctx)
	if _, err := ca.Exec(ctx, `CREATE TABLE x (n int)`); err != nil {
		t.Fatal(err)
	}
	cb, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(ctx)
	var found *string
	if err := cb.QueryRow(ctx, `SELECT to_regclass('x')::text`).Scan(&found); err != nil || found != nil {
		t.Fatalf("the second database sees the first's table: %v, %v", found, err)
	}
	if _, err := cb.Exec(ctx, `CREATE TABLE x (n int)`); err != nil {
		t.Fatalf("the second database cannot have its own x: %v", err)
	}
	var v string
	if err := cb.QueryRow(ctx, `SHOW server_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL %s at %s", v, b)
}
