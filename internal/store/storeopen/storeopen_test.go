package storeopen_test

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/store/postgres/pgtest"
	"github.com/pierhq/pier/internal/store/storeopen"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestWait: a server that cannot be reached is tried again, with the
// backoff doubling, until it answers or the wait is stopped; a server
// that answers with an error is not waited for.
func TestWait(t *testing.T) {
	u, _ := url.Parse(pgtest.URL(t))
	noDB := *u
	noDB.Path = "/no_such_database"
	tests := []struct {
		name    string
		db      string
		waits   bool   // Waiting is called
		wantErr string // "" opens
	}{
		{"reachable", u.String(), false, ""},
		{"nothing listens", "postgres://postgres@127.0.0.1:1/pier?connect_timeout=1", true, "127.0.0.1:1"},
		{"no such database", noDB.String(), false, `database "no_such_database" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
			defer cancel()
			var waits []time.Duration
			s, err := storeopen.Open(ctx, tt.db, storeopen.Options{Wait: true, MinBackoff: 100 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
				Waiting: func(err error, next time.Duration) { waits = append(waits, next) }})
			if err == nil {
				s.Close()
			}
			if (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Open: %v, want %q", err, tt.wantErr)
			}
			if tt.waits != (len(waits) > 0) {
				t.Errorf("waited %v", waits)
			}
			if tt.waits {
				if !errors.Is(err, store.ErrUnavailable) || waits[0] != 100*time.Millisecond || waits[1] != 200*time.Millisecond || waits[len(waits)-1] != 200*time.Millisecond {
					t.Errorf("waits %v, error %v; want 100ms, then 200ms, unavailable", waits, err)
				}
			}
		})
	}
}

func TestExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pier.db")
	if _, err := storeopen.Open(context.Background(), path, storeopen.Options{Existing: true}); err == nil || !strings.Contains(err.Error(), "no SQLite store at") {
		t.Fatalf("Open of a missing store to copy from: %v", err)
	}
	s, err := storeopen.Open(context.Background(), path, storeopen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = storeopen.Open(context.Background(), path, storeopen.Options{Existing: true}); err != nil {
		t.Fatal(err)
	}
	s.Close()
}
