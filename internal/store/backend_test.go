package store_test

import (
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/store"
)

func TestDriverOf(t *testing.T) {
	tests := []struct {
		db, driver, err string
	}{
		{"./data/pier.db", store.DriverSQLite, ""},
		{"/var/lib/pier/pier.db", store.DriverSQLite, ""},
		{"pier.db", store.DriverSQLite, ""},
		{"postgres://pier@db.internal/pier?sslmode=verify-full", store.DriverPostgres, ""},
		{"postgresql://pier@db.internal:5433/pier", store.DriverPostgres, ""},
		{"POSTGRES://pier@db/pier", store.DriverPostgres, ""},
		{"mysql://pier:hunter2@db/pier", "", `"mysql://pier:REDACTED@db/pier" is neither a SQLite file path nor a postgres:// URL (scheme "mysql" is not supported)`},
		{"", "", "empty"},
	}
	for _, tt := range tests {
		got, err := store.DriverOf(tt.db)
		if got != tt.driver || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("DriverOf(%q) = %q, %v; want %q, %q", tt.db, got, err, tt.driver, tt.err)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://pier:hunter2@db.internal/pier", "postgres://pier:REDACTED@db.internal/pier"},
		{"postgres://pier:p@ss@db.internal/pier?sslmode=require", "postgres://pier:REDACTED@db.internal/pier?sslmode=require"},
		{"postgres://pier@db.internal/pier?password=hunter2&sslmode=require", "postgres://pier@db.internal/pier?password=REDACTED&sslmode=require"},
		{"postgres://pier@db.internal/pier", "postgres://pier@db.internal/pier"},
		{"postgres://db.internal/pier?%zz", "postgres://db.internal/pier?REDACTED"},
		{"./data/pier.db", "./data/pier.db"},
	}
	for _, tt := range tests {
		if got := store.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
