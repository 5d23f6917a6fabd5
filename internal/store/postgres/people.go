package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/internal/store"
)

// The methods in this file keep people's sessions and personal API
// tokens (store.Session, store.APIToken). Logins are stored in lower
// case and compared so, as GitHub does. Expiry is judged by this
// process's clock, as with SQLite, not the database server's.

// CreateSession stores a new session; expired sessions of anyone are
// removed on the way, so that the table holds only live ones.
func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, time.Now()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO sessions (id_hash, login, person, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			ss.IDHash, strings.ToLower(ss.Login), []byte(ss.Person), ss.CSRF, ss.CreatedAt, ss.ExpiresAt)
		return err
	})
	if err != nil {
		return s.fail("create session", err)
	}
	return nil
}

const sessionColumns = `id_hash, login, person, csrf, created_at, expires_at`

func scanSession(row pgx.Row) (store.Session, error) {
	var (
		ss     store.Session
		person []byte
	)
	err := row.Scan(&ss.IDHash, &ss.Login, &person, &ss.CSRF, &ss.CreatedAt, &ss.ExpiresAt)
	ss.Person = person
	return ss, err
}

// Session returns the live session whose cookie hashes to idHash, or
// store.ErrNotFound.
func (s *Store) Session(ctx context.Context, idHash string) (store.Session, error) {
	ss, err := scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id_hash = $1 AND expires_at > $2`, idHash, time.Now()))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, s.fail("session", err)
	}
	return ss, nil
}

// DeleteSession ends one session (signing out); an unknown one is no
// error.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, idHash); err != nil {
		return s.fail("delete session", err)
	}
	return nil
}

// DeleteSessions ends every session of login and reports how many.
func (s *Store) DeleteSessions(ctx context.Context, login string) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE login = $1`, strings.ToLower(login))
	if err != nil {
		return 0, s.fail(fmt.Sprintf("delete sessions of %s", login), err)
	}
	return int(tag.RowsAffected()), nil
}

// CreateToken stores a personal API token; a hash stored already is an
// error.
func (s *Store) CreateToken(ctx context.Context, t store.APIToken) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO api_tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, t.Hash, strings.ToLower(t.Login), store.Text(t.Name), t.CreatedAt, optional(t.ExpiresAt)); err != nil {
		return s.fail("create token", err)
	}
	return nil
}

const tokenColumns = `id, hash, login, name, created_at, expires_at`

func scanToken(row pgx.Row) (store.APIToken, error) {
	var t store.APIToken
	err := row.Scan(&t.ID, &t.Hash, &t.Login, &t.Name, &t.CreatedAt, optTime{&t.ExpiresAt})
	return t, err
}

// Token returns the unexpired token whose secret hashes to hash, or
// store.ErrNotFound.
func (s *Store) Token(ctx context.Context, hash string) (store.APIToken, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = $1 AND (expires_at IS NULL OR expires_at > $2)`,
		hash, time.Now()))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.APIToken{}, store.ErrNotFound
	}
	if err != nil {
		return store.APIToken{}, s.fail("token", err)
	}
	return t, nil
}

// Tokens lists login's tokens, newest first, expired ones included.
func (s *Store) Tokens(ctx context.Context, login string) ([]store.APIToken, error) {
	ts, err := queryAll(ctx, s.pool, `SELECT `+tokenColumns+` FROM api_tokens WHERE login = $1 ORDER BY created_at DESC, id DESC`,
		[]any{strings.ToLower(login)}, func(r pgx.Rows) (store.APIToken, error) { return scanToken(r) })
	if err != nil {
		return nil, s.fail(fmt.Sprintf("tokens of %s", login), err)
	}
	return ts, nil
}

// DeleteToken revokes login's token id; store.ErrNotFound when login has
// no such token.
func (s *Store) DeleteToken(ctx context.Context, login, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM api_tokens WHERE login = $1 AND id = $2`, strings.ToLower(login), id)
	if err != nil {
		return s.fail(fmt.Sprintf("revoke token %s", id), err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: token %s of %s: %w", id, login, store.ErrNotFound)
	}
	return nil
}

// RecordPerson remembers what is known of someone who signed in.
func (s *Store) RecordPerson(ctx context.Context, p store.Person) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO people (login, person, signed_in) VALUES ($1, $2, $3)
		ON CONFLICT (login) DO UPDATE SET person = excluded.person, signed_in = excluded.signed_in`,
		strings.ToLower(p.Login), []byte(p.Person), p.SignedIn); err != nil {
		return s.fail(fmt.Sprintf("record %s", p.Login), err)
	}
	return nil
}

func scanPerson(row pgx.Row) (store.Person, error) {
	var (
		p  store.Person
		js []byte
	)
	err := row.Scan(&p.Login, &js, &p.SignedIn)
	p.Person = js
	return p, err
}

// People lists everyone who signed in, by login.
func (s *Store) People(ctx context.Context) ([]store.Person, error) {
	ps, err := queryAll(ctx, s.pool, `SELECT login, person, signed_in FROM people ORDER BY login`, nil,
		func(r pgx.Rows) (store.Person, error) { return scanPerson(r) })
	if err != nil {
		return nil, s.fail("people", err)
	}
	return ps, nil
}
