package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/store"
)

var peopleTests = []test{
	{"Sessions", testSessions},
	{"APITokens", testAPITokens},
	{"People", testPeople},
}

func testSessions(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	now := time.Now().UTC().Truncate(time.Second)
	live := store.Session{IDHash: "h1", Login: "Alice", Person: []byte(`{"name": "Alice A."}`), CSRF: "c1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	gone := store.Session{IDHash: "h2", Login: "alice", Person: []byte(`{}`), CSRF: "c2", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
	for _, ss := range []store.Session{gone, live} {
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Session(ctx, "h1")
	if err != nil || got.Login != "alice" || string(got.Person) != `{"name": "Alice A."}` || got.CSRF != "c1" || !got.ExpiresAt.Equal(live.ExpiresAt) {
		t.Fatalf("session %+v, %v", got, err)
	}
	if _, err := s.Session(ctx, "h2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired session: %v", err)
	}
	if err := s.CreateSession(ctx, store.Session{IDHash: "h3", Login: "bob", Person: []byte(`{}`), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteSessions(ctx, "ALICE"); err != nil || n != 1 { // the expired one was swept when h3 was made
		t.Errorf("revoked %d sessions of alice, %v", n, err)
	}
	if _, err := s.Session(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoked session: %v", err)
	}
	if err := s.DeleteSession(ctx, "h3"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, "h3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("signed out: %v", err)
	}
}

func testAPITokens(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	now := time.Now().UTC().Truncate(time.Second)
	for _, tk := range []store.APIToken{
		{ID: "t1", Hash: "x1", Login: "Alice", Name: "laptop", CreatedAt: now.Add(-time.Minute)},
		{ID: "t2", Hash: "x2", Login: "alice", Name: "ci", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		{ID: "t3", Hash: "x3", Login: "alice", Name: "old", CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)},
		{ID: "t4", Hash: "x4", Login: "bob", Name: "bob's", CreatedAt: now},
	} {
		if err := s.CreateToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateToken(ctx, store.APIToken{ID: "t5", Hash: "x1", Login: "eve", CreatedAt: now}); err == nil {
		t.Error("a second token with the same hash")
	}
	if got, err := s.Token(ctx, "x2"); err != nil || got.ID != "t2" || got.Login != "alice" || !got.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Errorf("token x2: %+v, %v", got, err)
	}
	if _, err := s.Token(ctx, "x3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired token: %v", err)
	}
	list, err := s.Tokens(ctx, "ALICE")
	if err != nil || len(list) != 3 || list[0].ID != "t2" || list[2].ID != "t3" {
		t.Fatalf("alice's tokens %+v, %v", list, err)
	}
	if err := s.DeleteToken(ctx, "alice", "t4"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("alice revoked bob's token: %v", err)
	}
	if err := s.DeleteToken(ctx, "alice", "t1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Token(ctx, "x1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a revoked token: %v", err)
	}
}

func testPeople(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.new(t)
	now := time.Now().UTC().Truncate(time.Second)
	for _, p := range []store.Person{
		{Login: "Bob", Person: []byte(`{"name": "Bob"}`), SignedIn: now.Add(-time.Hour)},
		{Login: "alice", Person: []byte(`{"name": "Alice"}`), SignedIn: now.Add(-time.Hour)},
		{Login: "bob", Person: []byte(`{"name": "Bob B."}`), SignedIn: now},
	} {
		if err := s.RecordPerson(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	ps, err := s.People(ctx)
	if err != nil || len(ps) != 2 || ps[0].Login != "alice" || ps[1].Login != "bob" || string(ps[1].Person) != `{"name": "Bob B."}` || !ps[1].SignedIn.Equal(now) {
		t.Fatalf("people %+v, %v", ps, err)
	}
}
